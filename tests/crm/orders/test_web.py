"""The order pages: the list with filters and its empty state, fast entry (customer and
product suggestions, live totals from the server, save and save-and-submit, errors shown with
the lines kept), the order page with its timeline and the viewer's actions, the shipment form
for the warehouse, attachments; outside one's scope is 404."""

from __future__ import annotations

import pytest

from crm.orders.models import Order

from .factories import approve_pending, line, order_make, submitted_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(web_as, tenant_a, people):
    return lambda key: web_as(tenant_a, people[key])


def _lines(*rows) -> dict:
    """Form fields of entry lines: (product, quantity[, unit price[, discount]])."""
    data = {"line-key": [], "line-product_id": [], "line-sku": [], "line-name": [], "line-quantity": [],
            "line-unit_price": [], "line-discount_pct": []}
    for i, (product, quantity, *rest) in enumerate(rows):
        data["line-key"].append(str(i))
        data["line-product_id"].append(str(product.pk) if product else "")
        data["line-sku"].append(product.sku if product else "")
        data["line-name"].append(product.name if product else "")
        data["line-quantity"].append(quantity)
        data["line-unit_price"].append(rest[0] if rest else "")
        data["line-discount_pct"].append(rest[1] if len(rest) > 1 else "")
    return data


def test_list_empty_state_then_rows_and_filters(shop, web, people):
    page = web("sales2").get("/orders/")
    assert page.status_code == 200 and 'data-testid="orders-empty"' in page.content.decode()
    assert "录入第一张订单" in page.content.decode()
    draft = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    pending = submitted_make(actor=people["sales"], customer=shop.customer, products=[shop.cable])
    html = web("sales").get("/orders/").content.decode()
    assert draft.number in html and pending.number in html and "审批中" in html
    filtered = web("sales").get("/orders/?status=in_approval").content.decode()
    assert pending.number in filtered and draft.number not in filtered
    partial = web("sales").get("/orders/?q=" + draft.number, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="order-results")
    assert "<html" not in partial.content.decode() and draft.number in partial.content.decode()
    nothing = web("sales").get("/orders/?q=SO1999").content.decode()
    assert "没有符合条件的订单" in nothing
    bad = web("sales").get("/orders/?status=nope").content.decode()
    assert "状态“nope”不存在" in bad
    assert draft.number not in web("sales2").get("/orders/").content.decode()


def test_entry_page_suggestions_and_live_totals(shop, web):
    client = web("sales")
    page = client.get("/orders/new/")
    html = page.content.decode()
    assert page.status_code == 200 and 'id="order-entry"' in html and "orders/entry.js" in html
    assert "entry-line-template" in html and "//" not in html.split("entry.js")[0].rsplit("src=", 1)[-1]
    customers = client.get("/orders/entry/customers/", {"customer_q": shop.customer.name[:8]}).content.decode()
    assert shop.customer.name in customers and f'data-id="{shop.customer.pk}"' in customers
    assert shop.customer2.name not in client.get("/orders/entry/customers/",
                                                 {"customer_q": shop.customer2.name[:8]}).content.decode()
    products = client.get("/orders/entry/products/", {"line-sku": shop.gps.sku, "row": "3"}).content.decode()
    assert shop.gps.sku in products and 'data-row="3"' in products
    assert "data-pick-product" not in client.get("/orders/entry/products/",
                                                 {"line-sku": shop.retired.sku}).content.decode()
    preview = client.post("/orders/entry/preview/", {"customer_id": shop.customer.pk,
                                                     **_lines((shop.gps, "3"), (shop.cable, "2.5", "", "10"))})
    body = preview.content.decode()
    assert preview.status_code == 200 and 'data-testid="entry-total"' in body
    assert ">418.49<" in body  # 339.00 + 74.99 + 4.50
    assert 'id="amt-0"' in body and 'hx-swap-oob="true"' in body and "339.00" in body
    wrong = client.post("/orders/entry/preview/", {"customer_id": shop.customer.pk, **_lines((shop.gps, "0"))})
    assert "第 1 行：数量必须大于 0。" in wrong.content.decode()


def test_entry_saves_a_draft_and_save_and_submit(shop, web, people):
    client = web("sales")
    saved = client.post("/orders/new/", {"customer_id": shop.customer.pk, "payment_terms_days": "60",
                                         "delivery_address": "上海浦东", "then": "save", **_lines((shop.gps, "2"))})
    order = Order.objects.get(customer=shop.customer)
    assert saved.status_code == 302 and saved["Location"] == f"/orders/{order.pk}/"
    assert (order.status, order.payment_terms_days, order.total) == ("draft", 60, 226)
    submitted = client.post("/orders/new/", {"customer_id": shop.customer.pk, "then": "submit",
                                             **_lines((shop.gps, "1"), (None, ""))})
    assert submitted.status_code == 302
    newest = Order.objects.filter(customer=shop.customer).order_by("-id").first()
    assert newest.status == "in_approval" and newest.line_count == 1


def test_entry_errors_keep_the_lines(shop, web):
    response = web("sales").post("/orders/new/", {"customer_id": shop.customer.pk, "then": "save",
                                                  **_lines((shop.gps, "2"), (shop.cable, "-1"))})
    html = response.content.decode()
    assert response.status_code == 400 and "第 2 行：数量必须大于 0。" in html
    assert html.count('data-testid="entry-line"') == 3  # two kept + the template row
    assert f'value="{shop.cable.sku}"' in html and not Order.objects.filter(customer=shop.customer).exists()
    outside = web("sales").post("/orders/new/", {"customer_id": shop.customer2.pk, **_lines((shop.gps, "1"))})
    assert outside.status_code == 400 and "客户不存在或不在你的可见范围内" in outside.content.decode()


def test_order_page_shows_the_timeline_and_each_viewers_actions(shop, web, people):
    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.radio, "2")])
    approve_pending(order, people["secretary"], comment="价格符合政策")
    as_sales = web("sales").get(f"/orders/{order.pk}/").content.decode()
    assert order.number in as_sales and "审批中" in as_sales and "商务秘书审核：同意" in as_sales
    assert "价格符合政策" in as_sales and people["secretary"].full_name in as_sales
    assert "财务复核：待审批" in as_sales and 'data-testid="action-approve"' not in as_sales
    as_finance = web("finance").get(f"/orders/{order.pk}/").content.decode()
    assert 'data-testid="action-approve"' in as_finance and "/approvals/" in as_finance
    approve_pending(order, people["finance"])
    as_keeper = web("warehouse").get(f"/orders/{order.pk}/").content.decode()
    assert 'data-testid="action-ship"' in as_keeper and "库存已预留" in as_keeper
    assert 'data-testid="action-ship"' not in web("sales").get(f"/orders/{order.pk}/").content.decode()
    assert web("sales2").get(f"/orders/{order.pk}/").status_code == 404


def test_submit_recall_and_cancel_from_the_page(shop, web, people):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    client = web("sales")
    assert client.post(f"/orders/{order.pk}/submit/").status_code == 302
    order.refresh_from_db()
    assert order.status == "in_approval"
    client.post(f"/orders/{order.pk}/recall/")
    order.refresh_from_db()
    assert order.status == "draft"
    client.post(f"/orders/{order.pk}/cancel/", {"reason": "客户改期"})
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancel_reason == "客户改期"
    refused = client.post(f"/orders/{order.pk}/submit/", follow=True)
    assert "已取消" in refused.content.decode()
    assert client.post(f"/orders/{order.pk}/unknown/").status_code == 404
    assert web("sales2").post(f"/orders/{order.pk}/cancel/").status_code == 404


def test_edit_page_with_version(shop, web, people):
    order = order_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "2", unit_price="95.00")])
    client = web("sales")
    page = client.get(f"/orders/{order.pk}/edit/").content.decode()
    assert 'value="95.00"' in page and 'name="version" value="1"' in page
    saved = client.post(f"/orders/{order.pk}/edit/", {"customer_id": shop.customer.pk, "version": "1",
                                                      **_lines((shop.gps, "5"))})
    assert saved.status_code == 302
    order.refresh_from_db()
    assert order.version == 2 and order.total == 565
    stale = client.post(f"/orders/{order.pk}/edit/", {"customer_id": shop.customer.pk, "version": "1",
                                                      **_lines((shop.gps, "9"))})
    assert stale.status_code == 400 and "已被他人修改" in stale.content.decode()


def test_shipment_form_for_the_warehouse(shop, web, people):
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "5")]), people["secretary"])
    assert web("sales").get(f"/orders/{order.pk}/ship/").status_code == 403
    client = web("warehouse")
    form = client.get(f"/orders/{order.pk}/ship/").content.decode()
    gps_line = order.lines.get()
    assert f'name="qty-{gps_line.pk}"' in form and 'value="5"' in form
    too_many = client.post(f"/orders/{order.pk}/ship/", {f"qty-{gps_line.pk}": "6"})
    assert too_many.status_code == 400 and "最多还能发 5" in too_many.content.decode()
    done = client.post(f"/orders/{order.pk}/ship/", {f"qty-{gps_line.pk}": "2", "carrier": "顺丰",
                                                     "tracking_number": "SF9"})
    assert done.status_code == 302
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert "部分发货" in page and "SF9" in page and f"{order.number}-01" in page


def test_attachment_upload_and_download(shop, web, people, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = str(tmp_path)
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    client = web("sales")
    client.post(f"/orders/{order.pk}/attachments/", {"file": SimpleUploadedFile("合同.pdf", b"%PDF-1.7 x")})
    attachment = order.attachments.get()
    page = client.get(f"/orders/{order.pk}/").content.decode()
    assert "合同.pdf" in page and "上传附件" in page
    download = client.get(f"/orders/{order.pk}/attachments/{attachment.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.7 x"
    refused = client.post(f"/orders/{order.pk}/attachments/", {"file": SimpleUploadedFile("a.exe", b"MZ")},
                          follow=True)
    assert "不支持的文件类型" in refused.content.decode()
    assert web("sales2").get(f"/orders/{order.pk}/attachments/{attachment.pk}/").status_code == 404


def test_pages_in_english(shop, web, people, in_tenant, tenant_a):
    from crm.org.services import user_set_language

    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    with in_tenant(tenant_a):
        user_set_language(user=people["sales"], language="en")
    client = web("sales")
    html = client.get(f"/orders/{order.pk}/").content.decode()
    assert "Draft" in html and "Submit for approval" in html and "Order history" in html
    assert "Enter an order" in client.get("/orders/new/").content.decode()
