"""The portal's pages: its own login (staff refused, suspended partners locked out), the layout
and navigation, the catalog with tier prices and availability, the cart and order form (live
totals, spreadsheet import, one-time token against double submission), the order list and page
(steps, timeline, actions), statements, end customers, users (partner admin only) and
notifications; partner sales see only their own; staff and other partners get 404."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from crm.orders.models import Order
from crm.partners import services as partners
from tests.conftest import PASSWORD

from .factories import line, order_make

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


# -- sign-in ----------------------------------------------------------------------------------------------
def test_login_page_signs_in_partner_users_only(portal, web, people):
    client = web()
    page = client.get("/portal/login/")
    assert page.status_code == 200 and "渠道门户登录" in html(page)
    ok = client.post("/portal/login/", {"username": portal.padmin.email, "password": PASSWORD})
    assert ok.status_code == 302 and ok["Location"] == "/portal/"
    home = client.get("/portal/")
    assert home.status_code == 200 and portal.partner.name in html(home)
    staff = web().post("/portal/login/", {"username": people["sales"].email, "password": PASSWORD})
    assert staff.status_code == 200 and "这是员工账号" in html(staff)
    wrong = web().post("/portal/login/", {"username": portal.padmin.email, "password": "nope-nope"})
    assert wrong.status_code == 200 and "邮箱或密码不正确" in html(wrong)


def test_anonymous_goes_to_the_portal_login_and_staff_get_404(portal, web, people):
    anonymous = web().get("/portal/orders/")
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/portal/login/?next=")
    assert web(people["admin"]).get("/portal/").status_code == 404
    assert web(people["sales"]).get("/portal/orders/").status_code == 404


def test_suspended_partner_is_locked_out_at_once(portal, web, people):
    client = web(portal.psales)
    assert client.get("/portal/").status_code == 200
    partners.partner_status_set(actor=people["admin"], partner_id=portal.partner.pk, status="suspended",
                                note="逾期未付款")
    locked = client.get("/portal/orders/")
    assert locked.status_code == 302 and locked["Location"] == "/portal/login/"
    after = client.get("/portal/login/")
    assert "已暂停或终止合作" in html(after)
    again = web().post("/portal/login/", {"username": portal.psales.email, "password": PASSWORD})
    assert again.status_code == 200 and "已暂停或终止合作" in html(again)


def test_invitation_link_sets_the_password(portal, web, people, mailoutbox):
    from .factories import member_make

    member = member_make(actor=portal.padmin, partner=portal.partner, password=None)
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(member.user.pk))
    token = default_token_generator.make_token(member.user)
    client = web()
    form = client.get(f"/portal/reset/{uid}/{token}/", follow=True)
    assert form.status_code == 200 and "设置密码" in html(form)
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "Qiao-portal-2026!", "new_password2": "Qiao-portal-2026!"})
    assert done.status_code == 302
    ok = web().post("/portal/login/", {"username": member.user.email, "password": "Qiao-portal-2026!"})
    assert ok.status_code == 302
    staff_uid = urlsafe_base64_encode(force_bytes(people["sales"].pk))
    staff_token = default_token_generator.make_token(people["sales"])
    staff_link = web().get(f"/portal/reset/{staff_uid}/{staff_token}/", follow=True)
    assert "链接已失效" in html(staff_link)


# -- layout, home, catalog --------------------------------------------------------------------------------
def test_navigation_by_role_and_mode(portal, web):
    admin_home = html(web(portal.padmin).get("/portal/"))
    assert 'data-nav="users"' in admin_home and 'data-nav="deals"' not in admin_home  # alpha: no deals
    assert 'action="/i18n/setlang/"' in admin_home
    sales_home = html(web(portal.psales).get("/portal/"))
    assert 'data-nav="users"' not in sales_home and 'data-nav="orders"' in sales_home
    assert web(portal.psales).get("/portal/users/").status_code == 404
    assert web(portal.padmin).get("/portal/deals/").status_code == 404


def test_home_shows_open_orders_amounts_and_notices(portal, web, people):
    from crm.partners.notices import notice_publish

    order = order_make(actor=portal.padmin, lines=[line(portal.gps, 2)], submit=True)
    notice_publish(actor=people["admin"], data={"title_zh": "十二月促销通知", "body_zh": "全场九折"})
    page = html(web(portal.padmin).get("/portal/"))
    assert order.number in page and "十二月促销通知" in page and 'data-testid="home-quotas"' in page


def test_catalog_shows_tier_prices_minimums_and_availability_only(portal, web):
    page = web(portal.psales).get(f"/portal/catalog/?q={portal.gps.sku}")
    text = html(page)
    assert page.status_code == 200 and "80.00" in text and "有货" in text and "100.00" not in text.split("catalog-table")[1]
    cable = html(web(portal.psales).get(f"/portal/catalog/?q={portal.cable.sku}"))
    assert "30.00" in cable and "库存紧张" in cable and 'value="5"' in cable
    assert "(3)" not in cable  # no exact figures unless the tenant allows them
    for product in (portal.offlist, portal.retired):
        page = html(web(portal.psales).get(f"/portal/catalog/?q={product.sku}"))
        assert f'data-sku="{product.sku}"' not in page and "没有找到可订购的产品" in page
    bad = web(portal.psales).get("/portal/catalog/?category=999999")
    assert bad.status_code == 200 and "分类不存在" in html(bad)


def test_catalog_exact_stock_when_the_tenant_allows_it(portal, web):
    from crm.partners.selectors import partner_settings_get

    settings = partner_settings_get()
    settings.stock_display = "exact"
    settings.save()
    cable = html(web(portal.psales).get(f"/portal/catalog/?q={portal.cable.sku}"))
    assert "(3)" in cable


# -- the cart and the order form ---------------------------------------------------------------------------
def form(rows, action="submit", token="", **extra) -> dict:
    return {"sku": [r[0] for r in rows], "quantity": [r[1] for r in rows], "action": action, "token": token, **extra}


def token_of(page) -> str:
    text = html(page)
    return text.split('name="token" value="')[1].split('"')[0]


def test_add_to_cart_preview_and_submit_once(portal, web):
    client = web(portal.psales)
    client.post("/portal/cart/add/", {"sku": portal.gps.sku, "quantity": "2"})
    client.post("/portal/cart/add/", {"sku": portal.gps.sku, "quantity": "1"})
    cart = client.get("/portal/cart/")
    assert portal.gps.sku in html(cart) and 'value="3"' in html(cart) and "271.20" in html(cart)
    preview = client.post("/portal/cart/preview/", form([(portal.gps.sku, "2"), (portal.cable.sku, "5")]),
                          HTTP_HX_REQUEST="true")
    assert "<html" not in html(preview) and "339.80" in html(preview)  # 180.80 + 159.00
    token = token_of(client.get("/portal/cart/"))
    rows = [(portal.gps.sku, "2")]
    sent = client.post("/portal/cart/", form(rows, token=token, delivery_address="上海市浦东新区"))
    order = Order.objects.get(created_by=portal.psales)
    assert sent.status_code == 302 and sent["Location"] == f"/portal/orders/{order.pk}/"
    assert order.status == "in_approval" and order.partner_id == portal.partner.pk and order.total == Decimal("180.80")
    again = client.post("/portal/cart/", form(rows, token=token))  # the same form once more
    assert again.status_code == 302 and Order.objects.filter(created_by=portal.psales).count() == 1
    assert "已经提交过" in html(client.get(again["Location"]))
    assert client.get("/portal/cart/").content.decode().count(portal.gps.sku) == 0  # the cart is empty


@pytest.mark.parametrize(("which", "quantity", "message"), [
    ("cable", "2", "起订量为 5"),
    ("offlist", "1", "不在你的价格表上"),
    ("retired", "1", "已停用"),
    (None, "1", "不存在"),
    ("gps", "-1", "数量"),
])
def test_bad_lines_are_refused_with_a_clear_message(portal, web, which, quantity, message):
    client = web(portal.psales)
    sku = getattr(portal, which).sku if which else "NO-SUCH-SKU"
    response = client.post("/portal/cart/", form([(sku, quantity)], token=token_of(client.get("/portal/cart/"))))
    assert response.status_code == 400 and message in html(response) and "第 1 行" in html(response)
    assert not Order.objects.filter(created_by=portal.psales).exists()
    assert sku in html(response)  # the rows are kept


def test_save_draft_edit_and_resubmit(portal, web):
    client = web(portal.psales)
    client.post("/portal/cart/", form([(portal.gps.sku, "1")], action="draft",
                                      token=token_of(client.get("/portal/cart/"))))
    order = Order.objects.get(created_by=portal.psales)
    assert order.status == "draft"
    edit = client.get(f"/portal/orders/{order.pk}/edit/")
    assert edit.status_code == 200 and portal.gps.sku in html(edit)
    saved = client.post(f"/portal/orders/{order.pk}/edit/", form([(portal.gps.sku, "4"), (portal.cable.sku, "5")],
                                                                  token=token_of(edit), version=order.version))
    order.refresh_from_db()
    assert saved.status_code == 302 and order.status == "in_approval" and order.line_count == 2
    assert client.get(f"/portal/orders/{order.pk}/edit/").status_code == 302  # no longer a draft


def test_recall_cancel_and_reorder(portal, web):
    client = web(portal.psales)
    order = order_make(actor=portal.psales, lines=[line(portal.gps, 2)], submit=True)
    page = html(client.get(f"/portal/orders/{order.pk}/"))
    assert 'data-testid="action-recall"' in page and "渠道经理审批" in page
    client.post(f"/portal/orders/{order.pk}/recall/")
    order.refresh_from_db()
    assert order.status == "draft"
    client.post(f"/portal/orders/{order.pk}/cancel/", {"reason": "不要了"})
    order.refresh_from_db()
    assert order.status == "cancelled" and order.cancel_reason == "不要了"
    again = client.post(f"/portal/orders/{order.pk}/recall/", follow=True)
    assert "只有审批中的订单可以撤回" in html(again)
    reorder = client.post(f"/portal/orders/{order.pk}/reorder/")
    assert reorder["Location"] == "/portal/cart/" and portal.gps.sku in html(client.get("/portal/cart/"))


def test_import_csv_and_xlsx_with_row_errors(portal, web):
    import openpyxl

    client = web(portal.psales)
    csv_file = io.BytesIO(f"SKU,数量\n{portal.gps.sku},3\nNOPE-1,2\n{portal.cable.sku},abc\n".encode())
    csv_file.name = "lines.csv"
    page = client.post("/portal/cart/", {"action": "import", "file": csv_file})
    text = html(page)
    assert page.status_code == 200 and "已从文件导入 1 行" in text
    assert "NOPE-1" in text and "文件第 4 行" in text and portal.gps.sku in text
    book = openpyxl.Workbook()
    book.active.append(["sku", "qty"])
    book.active.append([portal.cable.sku, 5])
    data = io.BytesIO()
    book.save(data)
    data.seek(0)
    data.name = "lines.xlsx"
    page = client.post("/portal/cart/", {"action": "import", "file": data})
    assert portal.cable.sku in html(page)
    big = io.BytesIO(b"x" * (1024 * 1024 + 10))
    big.name = "big.csv"
    too_big = client.post("/portal/cart/", {"action": "import", "file": big})
    assert too_big.status_code == 400 and "超过 1 MB" in html(too_big)
    other = io.BytesIO(b"%PDF")
    other.name = "lines.pdf"
    assert "只支持 .csv 或 .xlsx" in html(client.post("/portal/cart/", {"action": "import", "file": other}))


# -- lists, scope ----------------------------------------------------------------------------------------------
def test_order_list_and_scope_of_sales(portal, web):
    mine = order_make(actor=portal.psales, lines=[line(portal.gps, 1)])
    theirs = order_make(actor=portal.psales2, lines=[line(portal.gps, 1)])
    page = html(web(portal.psales).get("/portal/orders/"))
    assert mine.number in page and theirs.number not in page
    assert web(portal.psales).get(f"/portal/orders/{theirs.pk}/").status_code == 404
    admin_page = html(web(portal.padmin).get("/portal/orders/"))
    assert mine.number in admin_page and theirs.number in admin_page
    assert web(portal.other_admin).get(f"/portal/orders/{mine.pk}/").status_code == 404
    assert web(portal.other_admin).post(f"/portal/orders/{mine.pk}/cancel/").status_code == 404
    filtered = html(web(portal.padmin).get("/portal/orders/?status=in_approval"))
    assert mine.number not in filtered
    assert "未知的订单状态" in html(web(portal.padmin).get("/portal/orders/?status=nope"))
    partners.partner_sales_visibility_set(actor=portal.padmin, partner_id=portal.partner.pk, see_all=True)
    assert web(portal.psales).get(f"/portal/orders/{theirs.pk}/").status_code == 200


def test_statements_customers_and_notifications_render(portal, web):
    for user in (portal.padmin, portal.psales):
        client = web(user)
        for url in ("/portal/statements/", "/portal/customers/", "/portal/notifications/"):
            assert client.get(url).status_code == 200, url


def test_register_end_customer_flags_possible_duplicates_only(portal, web, people):
    from tests.crm.orders.factories import customer_make

    known = customer_make(owner=people["sales"])
    client = web(portal.psales)
    fresh = client.post("/portal/customers/", {"name": "门户终端客户甲有限公司"}, follow=True)
    assert "已登记" in html(fresh) and "可能与已有客户重复" not in html(fresh)
    dup = client.post("/portal/customers/", {"name": known.name}, follow=True)
    text = html(dup)
    assert "可能与已有客户重复" in text and people["sales"].full_name not in text
    own = client.post("/portal/customers/", {"name": "门户终端客户甲有限公司"})
    assert own.status_code == 400 and "你们已登记过" in html(own)


# -- users (partner admin) -------------------------------------------------------------------------------------
def test_admin_invites_changes_roles_deactivates_and_sets_visibility(portal, web, mailoutbox,
                                                                    django_capture_on_commit_callbacks):
    from crm.partners.models import PartnerMember

    client = web(portal.padmin)
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/portal/users/", {"email": "new.sales@portal.test", "full_name": "新销售", "role": "sales"})
    assert sent.status_code == 302
    member = PartnerMember.objects.get(user__email="new.sales@portal.test")
    assert member.partner_id == portal.partner.pk and "/portal/reset/" in mailoutbox[-1].body
    client.post(f"/portal/users/{member.pk}/role/", {"role": "admin"})
    member.refresh_from_db()
    assert member.role == "admin"
    client.post(f"/portal/users/{member.pk}/deactivate/")
    member.user.refresh_from_db()
    assert member.user.is_active is False
    bad = client.post("/portal/users/", {"email": "bad", "full_name": ""})
    assert bad.status_code == 400 and "请填写有效的邮箱" in html(bad)
    client.post("/portal/users/sales-visibility/", {"sales_see_all": "1"})
    portal.partner.refresh_from_db()
    assert portal.partner.sales_see_all is True
    other_member = PartnerMember.objects.get(user=portal.other_admin)
    assert client.post(f"/portal/users/{other_member.pk}/deactivate/").status_code == 404
    assert web(portal.psales).post("/portal/users/sales-visibility/", {"sales_see_all": "1"}).status_code == 404


def test_deal_registration_pages_in_project_mode(tenant_b, in_tenant, user_in, web_as):
    from crm.partners.models import DealRegistration

    from .conftest import _people, make_portal

    with in_tenant(tenant_b):
        beta = make_portal(_people(tenant_b, user_in))
    client = web_as(tenant_b, beta.psales)
    assert 'data-nav="deals"' in html(client.get("/portal/"))
    page = client.get("/portal/deals/")
    assert page.status_code == 200 and "报备新项目" in html(page)
    bad = client.post("/portal/deals/", {"customer_name": "门户网页报备客户有限公司", "title": "", "amount": "abc"})
    assert bad.status_code == 400 and "项目名称" in html(bad)
    made = client.post("/portal/deals/", {"customer_name": "门户网页报备客户有限公司", "title": "冷站改造",
                                           "amount": "300000"}, follow=True)
    assert "等待渠道经理审核" in html(made)
    with in_tenant(tenant_b):
        deal = DealRegistration.objects.get(created_by=beta.psales)
    assert web_as(tenant_b, beta.other_admin).post(f"/portal/deals/{deal.pk}/withdraw/").status_code == 404
    assert web_as(tenant_b, beta.psales2).post(f"/portal/deals/{deal.pk}/withdraw/").status_code == 404
    client.post(f"/portal/deals/{deal.pk}/withdraw/")
    with in_tenant(tenant_b):
        deal.refresh_from_db()
    assert deal.status == "withdrawn"


def test_catalog_category_filter_with_subcategories(portal, web):
    from crm.catalog import services as catalog
    from tests.crm.catalog.factories import category_make

    parent = category_make(name="门户测试大类")
    child = category_make(name="门户测试小类", parent=parent)
    catalog.product_update(actor=None, product_id=portal.gps.pk, data={"category_id": child.pk})
    page = html(web(portal.psales).get("/portal/catalog/"))
    assert "门户测试大类" in page and "门户测试小类" in page
    filtered = html(web(portal.psales).get(f"/portal/catalog/?category={parent.pk}"))
    assert f'data-sku="{portal.gps.sku}"' in filtered and f'data-sku="{portal.cable.sku}"' not in filtered
