"""The orders API: create (Idempotency-Key), read with lines, totals and timeline, edit with
versions (412), the transitions, shipments, attachments and credit limits; every refusal a
clear 4xx; the list's filters, sorts, cursor pages and query counts."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.orders.models import IdempotencyRecord, Order

from .factories import approve_pending, customer_make, line, order_make, submitted_make

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


@pytest.fixture
def api(api_for, tenant_a, people):
    """``api("sales")``: a client of tenant alpha signed in as that demo staff member."""
    return lambda key: api_for(tenant_a, people[key])


def body(shop, *lines, **extra) -> dict:
    return {"customer_id": shop.customer.pk, "lines": list(lines) or [line(shop.gps, "2")], **extra}


# -- create and read ----------------------------------------------------------------------------------
def test_create_returns_the_order_with_lines_totals_timeline_and_actions(shop, api, people):
    response = api("sales").post(ORDERS, body(shop, line(shop.gps, "3"), line(shop.cable, "1", discount_pct="5"),
                                              delivery_date="2026-12-24"), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["number"].startswith("SO") and data["status"] == "draft" and data["status_label"] == "草稿"
    assert data["customer"] == {"id": shop.customer.pk, "name": shop.customer.name}
    assert data["owner"]["id"] == people["sales"].pk
    assert [x["sku"] for x in data["lines"]] == [shop.gps.sku, shop.cable.sku]
    assert data["lines"][1]["net_amount"] == "31.66" and data["lines"][1]["tax_amount"] == "1.90"
    assert (data["net_total"], data["tax_total"], data["total"]) == ("331.66", "40.90", "372.56")
    assert data["timeline"][0]["kind"] == "created" and data["timeline"][0]["actor"] == people["sales"].full_name
    assert {"edit", "submit", "cancel", "attach"} <= set(data["actions"]) and "ship" not in data["actions"]
    assert data["delivery_date"] == "2026-12-24" and data["version"] == 1
    assert response["ETag"] == '"1"'
    got = api("sales").get(f"{ORDERS}{data['id']}/")
    assert got.status_code == 200 and got.json()["number"] == data["number"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"quantity": "0"}, "第 1 行：数量必须大于 0。"),
    ({"quantity": "-1"}, "第 1 行：数量必须大于 0。"),
    ({"unit_price": "10.001"}, "第 1 行：单价最多保留 2 位小数。"),
    ({"product_id": 99999999}, "第 1 行：产品 99999999 不存在。"),
])
def test_bad_lines_are_400_naming_the_line(shop, api, bad, message):
    before = Order.objects.count()
    response = api("sales").post(ORDERS, body(shop, {**line(shop.gps, "1"), **bad}), format="json")
    assert response.status_code == 400
    assert response.json()["lines"] == [message]
    assert Order.objects.count() == before


def test_inactive_product_type_errors_and_missing_customer(shop, api):
    inactive = api("sales").post(ORDERS, body(shop, line(shop.retired)), format="json")
    assert inactive.status_code == 400 and "已停用" in inactive.json()["lines"][0]
    typed = api("sales").post(ORDERS, body(shop, {"product_id": shop.gps.pk, "quantity": "many"}), format="json")
    assert typed.status_code == 400 and "lines" in typed.json()
    missing = api("sales").post(ORDERS, {"lines": []}, format="json")
    assert missing.status_code == 400 and "customer_id" in missing.json()
    empty = api("sales").post(ORDERS, {"customer_id": shop.customer.pk, "lines": []}, format="json")
    assert empty.status_code == 400 and empty.json()["lines"] == ["请至少添加一行产品。"]


def test_customer_outside_scope_is_404(shop, api):
    response = api("sales").post(ORDERS, {"customer_id": shop.customer2.pk, "lines": [line(shop.gps)]}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# -- idempotency -------------------------------------------------------------------------------------
def test_same_key_same_body_returns_the_first_response(shop, api):
    client = api("sales")
    payload = body(shop, line(shop.gps, "2"))
    first = client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="create-0001")
    second = client.post(ORDERS, payload, format="json", HTTP_IDEMPOTENCY_KEY="create-0001")
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
    assert Order.objects.filter(customer=shop.customer).count() == 1
    reordered = {"lines": payload["lines"], "customer_id": payload["customer_id"]}  # key order does not matter
    assert client.post(ORDERS, reordered, format="json", HTTP_IDEMPOTENCY_KEY="create-0001").status_code == 201
    assert Order.objects.filter(customer=shop.customer).count() == 1


def test_same_key_different_body_is_422_and_changes_nothing(shop, api):
    client = api("sales")
    client.post(ORDERS, body(shop, line(shop.gps, "2")), format="json", HTTP_IDEMPOTENCY_KEY="k-422")
    other = client.post(ORDERS, body(shop, line(shop.gps, "3")), format="json", HTTP_IDEMPOTENCY_KEY="k-422")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Order.objects.filter(customer=shop.customer).count() == 1
    order = Order.objects.get(customer=shop.customer)
    elsewhere = client.post(f"{ORDERS}{order.pk}/submit", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-422")
    assert elsewhere.status_code == 422 and "POST /api/v1/orders/" in elsewhere.json()["detail"]


def test_keys_are_per_actor_and_failures_are_not_stored(shop, api, people):
    bad = api("sales").post(ORDERS, body(shop, line(shop.gps, "0")), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert bad.status_code == 400 and not IdempotencyRecord.objects.filter(key="same").exists()
    fixed = api("sales").post(ORDERS, body(shop, line(shop.gps, "1")), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert fixed.status_code == 201
    manager = api("manager").post(ORDERS, body(shop, line(shop.gps, "5")), format="json", HTTP_IDEMPOTENCY_KEY="same")
    assert manager.status_code == 201 and manager.json()["id"] != fixed.json()["id"]
    assert api("sales").post(ORDERS, body(shop), format="json", HTTP_IDEMPOTENCY_KEY="x" * 256).status_code == 400
    without_key = [api("sales").post(ORDERS, body(shop), format="json") for _ in range(2)]
    assert without_key[0].json()["id"] != without_key[1].json()["id"]


def test_submit_with_idempotency_key(shop, api):
    client = api("sales")
    order_id = client.post(ORDERS, body(shop), format="json").json()["id"]
    first = client.post(f"{ORDERS}{order_id}/submit", {"version": 1}, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")
    assert first.status_code == 200 and first.json()["status"] == "in_approval"
    again = client.post(f"{ORDERS}{order_id}/submit", {"version": 1}, format="json", HTTP_IDEMPOTENCY_KEY="submit-1")
    assert again.status_code == 200 and again.json() == first.json()
    stale = client.post(f"{ORDERS}{order_id}/submit", {"version": 1}, format="json")  # no key: it is version 3 now
    assert stale.status_code == 200  # already submitted: nothing to do (no version check on a no-op)


# -- edit -----------------------------------------------------------------------------------------------
def test_patch_draft_with_if_match_and_stale_version_412(shop, api):
    client = api("sales")
    order_id = client.post(ORDERS, body(shop), format="json").json()["id"]
    ok = client.patch(f"{ORDERS}{order_id}/", {"notes": "第一次修改", "lines": [line(shop.gps, "7")]}, format="json",
                      HTTP_IF_MATCH='"1"')
    assert ok.status_code == 200 and ok.json()["version"] == 2 and ok.json()["total"] == "791.00"
    stale = client.patch(f"{ORDERS}{order_id}/", {"notes": "基于旧版本"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version" and stale.json()["current_version"] == 2
    also_stale = client.patch(f"{ORDERS}{order_id}/", {"notes": "x", "version": 1}, format="json")
    assert also_stale.status_code == 412
    assert Order.objects.get(pk=order_id).notes == "第一次修改"
    client.post(f"{ORDERS}{order_id}/submit", {}, format="json")
    locked = client.patch(f"{ORDERS}{order_id}/", {"notes": "审批中"}, format="json")
    assert locked.status_code == 409 and locked.json()["current_status"] == "in_approval"


# -- transitions ----------------------------------------------------------------------------------------
def test_submit_approve_ship_through_the_api(shop, api, people):
    order_id = api("sales").post(ORDERS, body(shop, line(shop.gps, "5")), format="json").json()["id"]
    submitted = api("sales").post(f"{ORDERS}{order_id}/submit", {}, format="json").json()
    assert submitted["status"] == "in_approval" and submitted["approval"]["current_position"] == 1
    assert "recall" in submitted["actions"] and "approve" not in submitted["actions"]
    as_secretary = api("secretary").get(f"{ORDERS}{order_id}/").json()
    assert "approve" in as_secretary["actions"]
    request_id = submitted["approval"]["id"]
    mine = api("sales").post(f"/api/v1/approvals/{request_id}/approve", {"comment": "自己批"}, format="json")
    assert mine.status_code == 403
    assert api("secretary").post(f"/api/v1/approvals/{request_id}/approve", {"comment": "同意"},
                                 format="json").status_code == 200
    approved = api("warehouse").get(f"{ORDERS}{order_id}/").json()
    assert approved["status"] == "approved" and approved["stock_state"] == "reserved" and "ship" in approved["actions"]
    line_id = approved["lines"][0]["id"]
    made = api("warehouse").post(f"{ORDERS}{order_id}/shipments/", {
        "carrier": "顺丰", "tracking_number": "SF001", "lines": [{"order_line_id": line_id, "quantity": "2"}]},
        format="json")
    assert made.status_code == 201 and made.json()["lines"][0]["quantity"] == "2.000"
    over = api("warehouse").post(f"{ORDERS}{order_id}/shipments/", {
        "lines": [{"order_line_id": line_id, "quantity": "4"}]}, format="json")
    assert over.status_code == 400 and "最多还能发 3" in over.json()["lines"][0]
    by_sales = api("sales").post(f"{ORDERS}{order_id}/shipments/", {}, format="json")
    assert by_sales.status_code == 403
    listed = api("sales").get(f"{ORDERS}{order_id}/shipments/").json()
    assert [s["tracking_number"] for s in listed] == ["SF001"]
    detail = api("sales").get(f"{ORDERS}{order_id}/").json()
    assert detail["status"] == "partially_shipped"
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds == ["created", "submitted", "approval_started", "approval_step", "approved", "stock_reserved",
                     "shipped"]


def test_refused_transitions_are_409_naming_both_states(shop, api, people):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    ship = api("warehouse").post(f"{ORDERS}{order.pk}/shipments/", {}, format="json")
    assert ship.status_code == 409
    assert (ship.json()["current_status"], ship.json()["wanted_status"]) == ("draft", "shipped")
    assert "草稿" in ship.json()["detail"] and "已发货" in ship.json()["detail"]
    recall = api("sales").post(f"{ORDERS}{order.pk}/recall")
    assert recall.status_code == 200  # a draft: nothing to recall
    api("sales").post(f"{ORDERS}{order.pk}/cancel", {"reason": "不要了"}, format="json")
    again = api("sales").post(f"{ORDERS}{order.pk}/submit", {}, format="json")
    assert again.status_code == 409 and again.json()["current_status"] == "cancelled"
    reserve = api("warehouse").post(f"{ORDERS}{order.pk}/reserve-stock")
    assert reserve.status_code == 409


def test_recall_and_cancel_through_the_api(shop, api, people):
    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.radio, "2")])
    assert api("manager").post(f"{ORDERS}{order.pk}/recall").status_code == 403
    recalled = api("sales").post(f"{ORDERS}{order.pk}/recall")
    assert recalled.status_code == 200 and recalled.json()["status"] == "draft"
    api("sales").post(f"{ORDERS}{order.pk}/submit", {}, format="json")
    approve_pending(order, people["secretary"])
    too_late = api("sales").post(f"{ORDERS}{order.pk}/recall")
    assert too_late.status_code == 409 and too_late.json()["code"] == "already_decided"
    approve_pending(order, people["finance"])
    cancelled = api("sales").post(f"{ORDERS}{order.pk}/cancel", {"reason": "客户预算取消"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["stock_state"] == "released"
    assert cancelled.json()["cancel_reason"] == "客户预算取消"


def test_stock_short_approval_then_reserve_retry(shop, api, people):
    from crm.catalog import services as catalog

    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.radio, "6")]), people["secretary"], people["finance"])
    detail = api("sales").get(f"{ORDERS}{order.pk}/").json()
    assert detail["status"] == "approved" and detail["stock_state"] == "short" and shop.radio.name in detail["stock_note"]
    assert "reserve_stock" in detail["actions"] and detail["timeline"][-1]["kind"] == "stock_short"
    catalog.stock_receive(actor=None, warehouse_id=shop.warehouse.pk, product_id=shop.radio.pk, quantity="1")
    retried = api("warehouse").post(f"{ORDERS}{order.pk}/reserve-stock")
    assert retried.status_code == 200 and retried.json()["stock_state"] == "reserved"


# -- attachments ------------------------------------------------------------------------------------------
@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _upload(name: str, content: bytes):
    handle = io.BytesIO(content)
    handle.name = name
    return handle


def test_attachments_upload_download_and_refusals(shop, api, people, media, monkeypatch):
    from crm.orders import services

    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    url = f"{ORDERS}{order.pk}/attachments/"
    made = api("sales").post(url, {"file": _upload("采购合同.pdf", b"%PDF-1.4 test")}, format="multipart")
    assert made.status_code == 201 and made.json()["name"] == "采购合同.pdf" and made.json()["size"] == 13
    listed = api("sales").get(url).json()
    assert [a["name"] for a in listed] == ["采购合同.pdf"]
    download = api("sales").get(f"{url}{made.json()['id']}")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"%PDF-1.4 test"
    wrong = api("sales").post(url, {"file": _upload("tool.exe", b"MZ")}, format="multipart")
    assert wrong.status_code == 400 and "exe" in wrong.json()["file"][0] and "pdf" in wrong.json()["file"][0]
    fake = api("sales").post(url, {"file": _upload("scan.pdf", b"not a pdf")}, format="multipart")
    assert fake.status_code == 400
    monkeypatch.setattr(services, "ATTACHMENT_MAX_BYTES", 10)
    big = api("sales").post(url, {"file": _upload("big.pdf", b"%PDF" + b"0" * 20)}, format="multipart")
    assert big.status_code == 413 and "MB" in big.json()["detail"] and big.json()["code"] == "too_large"
    assert api("sales2").get(url).status_code == 404
    assert api("sales").delete(f"{url}{made.json()['id']}").status_code == 204
    assert api("sales").get(url).json() == []


# -- credit ------------------------------------------------------------------------------------------------
def test_credit_limit_api(shop, api, people):
    url = f"/api/v1/customers/{shop.customer.pk}/credit"
    empty = api("sales").get(url).json()
    assert empty["limit"] is None and empty["version"] == 0 and empty["open_receivables"] == "0.00"
    assert api("sales").put(url, {"limit": "5000.00"}, format="json").status_code == 403
    set_ = api("finance").put(url, {"limit": "5000.00", "version": 0}, format="json")
    assert set_.status_code == 200 and set_.json()["limit"] == "5000.00" and set_.json()["version"] == 1
    approve_pending(submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "10")]),
                    people["secretary"])
    state = api("sales").get(url).json()
    assert (state["open_receivables"], state["available"]) == ("1130.00", "3870.00")
    stale = api("finance").put(url, {"limit": "1.00", "version": 0}, format="json")
    assert stale.status_code == 412
    bad = api("finance").put(url, {"limit": "1.001"}, format="json")
    assert bad.status_code == 400 and "limit" in bad.json()
    assert api("sales2").get(url).status_code == 404
    removed = api("finance").put(url, {"limit": None}, format="json")
    assert removed.status_code == 200 and removed.json()["limit"] is None


# -- scope and isolation ---------------------------------------------------------------------------------
ENDPOINTS = [
    ("get", "{o}/"), ("patch", "{o}/"), ("post", "{o}/submit"), ("post", "{o}/cancel"), ("post", "{o}/recall"),
    ("post", "{o}/reserve-stock"), ("get", "{o}/shipments/"), ("post", "{o}/shipments/"), ("get", "{o}/attachments/"),
]


def test_every_endpoint_is_404_outside_scope_and_in_another_tenant(shop, api, people, api_for, tenant_b, user_in):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    other_tenant = api_for(tenant_b, user_in(tenant_b, "admin"))
    for method, path in ENDPOINTS:
        url = ORDERS + path.format(o=order.pk)
        for client in (api("sales2"), other_tenant):
            response = getattr(client, method)(url, {}, format="json")
            assert response.status_code == 404, (method, url, response.status_code)
    assert api("sales2").get(f"/api/v1/customers/{shop.customer.pk}/credit").status_code == 404
    assert Order.objects.get(pk=order.pk).status == "draft"


def test_list_scopes(shop, api, people):
    own = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    other = order_make(actor=people["sales2"], customer=shop.customer2, products=[shop.gps])

    def ids(key, query=""):
        return {o["id"] for o in api(key).get(ORDERS + query).json()["results"]}

    assert own.pk in ids("sales") and other.pk not in ids("sales")
    assert other.pk in ids("sales2") and own.pk not in ids("sales2")
    assert own.pk in ids("manager") and other.pk not in ids("manager")  # 华北 covers 北京, not 上海
    assert {own.pk, other.pk} <= ids("exec") and {own.pk, other.pk} <= ids("secretary")
    assert own.pk not in ids("service")  # department scope (客服部)


def test_list_filters_sorts_and_pages(shop, api, people):
    sales = people["sales"]
    small = order_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "1")])
    big = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "9")])
    other_customer = customer_make(owner=sales)
    third = order_make(actor=sales, customer=other_customer, lines=[line(shop.gps, "4")])
    client = api("exec")

    def numbers(query):
        response = client.get(ORDERS + query)
        assert response.status_code == 200, response.json()
        return [o["number"] for o in response.json()["results"]]

    mine = f"owner={sales.pk}"
    assert numbers(f"?{mine}") == [third.number, big.number, small.number]
    assert numbers(f"?{mine}&sort=created_at") == [small.number, big.number, third.number]
    assert numbers(f"?{mine}&sort=-total") == [big.number, third.number, small.number]
    assert numbers(f"?{mine}&status=in_approval") == [big.number]
    assert numbers(f"?{mine}&status=draft,in_approval&customer={shop.customer.pk}") == [big.number, small.number]
    assert numbers(f"?q={big.number}") == [big.number]
    assert numbers(f"?q={big.number[:9].lower()}&{mine}") == [third.number, big.number, small.number]
    assert numbers(f"?{mine}&region={people['manager'].region_id}") == [third.number, big.number, small.number]
    assert numbers(f"?{mine}&region={people['sales2'].region_id}") == []
    today = timezone.localdate(big.created_at).isoformat()  # the filter reads Asia/Shanghai days
    assert numbers(f"?{mine}&submitted_from={today}&submitted_to={today}") == [big.number]
    assert numbers(f"?{mine}&created_to=2000-01-01") == []
    page = client.get(f"{ORDERS}?{mine}&limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert [o["number"] for o in rest["results"]] == [small.number]
    for bad, field in (("status=lost", "status"), ("sort=name", "sort"), ("owner=abc", "owner"),
                       ("created_from=2026-99-01", "created_from"), ("region=999999", "region"),
                       ("created_from=2026-02-01&created_to=2026-01-01", "created_to")):
        response = client.get(f"{ORDERS}?{bad}")
        assert response.status_code == 400 and field in response.json(), (bad, response.json())


def test_list_query_count_does_not_grow_with_the_page(shop, api, people, django_assert_max_num_queries):
    """Token, roles, (the manager's region subtree), one SELECT of the page with customers and
    owners joined; django-tenants adds a SET search_path before each."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(client) -> int:
        client.get(ORDERS)  # warm the caches
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(ORDERS).status_code == 200
        return len(ctx.captured_queries)

    order_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "1")])
    clients = {key: api(key) for key in ("sales", "manager", "exec")}
    few = {key: count(client) for key, client in clients.items()}
    for _ in range(6):
        order_make(actor=people["sales"], customer=customer_make(owner=people["sales"]),
                   lines=[line(shop.gps, "1"), line(shop.cable, "1")])
    many = {key: count(client) for key, client in clients.items()}
    assert many == few
    with django_assert_max_num_queries(6):
        response = clients["sales"].get(ORDERS)
    assert len(response.json()["results"]) == 7
    with django_assert_max_num_queries(10):
        assert len(clients["manager"].get(ORDERS).json()["results"]) == 7


def test_detail_query_count_is_bounded(shop, api, people, django_assert_max_num_queries):
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "2"), line(shop.cable, "2")]), people["secretary"])
    from crm.orders.services import shipment_create

    for line_row in order.lines.all():
        shipment_create(actor=people["warehouse"], order_id=order.pk,
                        data={"lines": [{"order_line_id": line_row.pk, "quantity": "1"}]})
    client = api("sales")
    client.get(f"{ORDERS}{order.pk}/")
    with django_assert_max_num_queries(25):
        data = client.get(f"{ORDERS}{order.pk}/").json()
    assert len(data["shipments"]) == 2 and data["total"] == str(Decimal("296.66"))


def test_schema_documents_the_order_endpoints(shop, api):
    schema = api("admin").get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/orders/", "/api/v1/orders/{order_id}/", "/api/v1/orders/{order_id}/submit",
                 "/api/v1/orders/{order_id}/shipments/", "/api/v1/orders/{order_id}/attachments/",
                 "/api/v1/customers/{customer_id}/credit"):
        assert path in paths, path
    create = paths["/api/v1/orders/"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
