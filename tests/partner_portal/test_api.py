"""The portal API: partner tokens only, the partner's scope (admin all, sales their own),
orders with Idempotency-Key, previews, clear 4xx for bad input (each line named), the credit
step instead of a refusal, statements, end customers, deals (project mode), users (admin only),
and the OpenAPI schema under the "portal" tag."""

from __future__ import annotations

import pytest

from crm.orders.models import Order
from crm.partners import services as partners
from tests.conftest import PASSWORD

from .factories import line, order_make

pytestmark = pytest.mark.django_db

BASE = "/api/v1/portal"


def test_token_for_partner_users_only(portal, api, people):
    ok = api().post(f"{BASE}/auth/token", {"email": portal.psales.email, "password": PASSWORD}, format="json")
    assert ok.status_code == 200 and ok.json()["token"]
    staff = api().post(f"{BASE}/auth/token", {"email": people["sales"].email, "password": PASSWORD}, format="json")
    assert staff.status_code == 400 and staff.json()["code"] == "invalid_credentials"
    staff_side = api().post("/api/v1/auth/token", {"email": portal.psales.email, "password": PASSWORD}, format="json")
    assert staff_side.status_code == 400


def test_me_and_who_gets_what(portal, api, people):
    me = api(portal.padmin).get(f"{BASE}/me")
    assert me.status_code == 200 and me.json()["role"] == "admin"
    assert me.json()["partner"]["id"] == portal.partner.pk and me.json()["partner"]["tier"] == "gold"
    assert api().get(f"{BASE}/me").status_code == 401
    assert api(people["sales"]).get(f"{BASE}/me").status_code == 404  # staff token
    assert api(portal.padmin).get("/api/v1/orders/").status_code == 404  # partner token on the staff API
    partners.partner_status_set(actor=people["admin"], partner_id=portal.partner.pk, status="suspended", note="停")
    assert api(portal.padmin).get(f"{BASE}/me").status_code == 404


def test_catalog_prices_and_availability(portal, api):
    data = api(portal.psales).get(f"{BASE}/catalog", {"q": portal.cable.sku}).json()
    row = data["results"][0]
    assert row["sku"] == portal.cable.sku and row["unit_price"] == "30.00" and row["min_quantity"] == "5.000"
    assert row["availability"] == "low" and row["available"] is None and "list_price" not in row
    assert api(portal.psales).get(f"{BASE}/catalog", {"q": portal.offlist.sku}).json()["results"] == []
    assert api(portal.psales).get(f"{BASE}/catalog", {"category": "abc"}).status_code == 400


def test_create_with_idempotency_key_replays_and_never_duplicates(portal, api):
    client = api(portal.psales)
    body = {"lines": [{"sku": portal.gps.sku, "quantity": "2"}], "delivery_address": "北京市海淀区"}
    first = client.post(f"{BASE}/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["status"] == "in_approval" and data["total"] == "180.80"
    assert [s["name"] for s in data["steps"]][:2] == ["渠道经理审批", "商务审核"]
    assert data["steps"][0]["status"] == "active" and "approver" not in str(data["steps"])
    again = client.post(f"{BASE}/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true" and again.json()["id"] == data["id"]
    other = client.post(f"{BASE}/orders", {**body, "notes": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422
    assert Order.objects.filter(created_by=portal.psales).count() == 1


@pytest.mark.parametrize(("which", "quantity", "extra", "message"), [
    ("cable", "2", {}, "起订量为 5"),
    ("offlist", "1", {}, "不在你的价格表上"),
    ("retired", "1", {}, "已停用"),
    ("gps", "1", {"unit_price": "1.00"}, "不能填写单价或折扣"),
    ("gps", "0", {}, "数量"),
])
def test_bad_lines_are_400_naming_the_line(portal, api, which, quantity, extra, message):
    product = getattr(portal, which)
    response = api(portal.psales).post(f"{BASE}/orders", {"lines": [
        {"product_id": portal.gps.pk, "quantity": "1"}, {"product_id": product.pk, "quantity": quantity, **extra}]},
        format="json")
    assert response.status_code == 400, response.json()
    assert any(message in m and "第 2 行" in m for m in response.json()["lines"])
    assert not Order.objects.filter(created_by=portal.psales).exists()


def test_unknown_sku_and_empty_lines(portal, api):
    unknown = api(portal.psales).post(f"{BASE}/orders", {"lines": [{"sku": "NOPE", "quantity": "1"}]}, format="json")
    assert unknown.status_code == 400 and "NOPE" in unknown.json()["lines"][0]
    empty = api(portal.psales).post(f"{BASE}/orders", {"lines": []}, format="json")
    assert empty.status_code == 400 and "lines" in empty.json()


def test_over_the_credit_limit_goes_to_the_credit_step(portal, api, people):
    partners.partner_update(actor=people["admin"], partner_id=portal.partner.pk, data={"credit_limit": "100.00"})
    response = api(portal.padmin).post(f"{BASE}/orders", {"lines": [{"sku": portal.gps.sku, "quantity": "2"}]},
                                       format="json")
    assert response.status_code == 201 and response.json()["status"] == "in_approval"
    steps = response.json()["steps"]
    assert any("信用" in s["name"] for s in steps), steps


def test_preview_draft_patch_submit_recall_cancel(portal, api):
    client = api(portal.psales)
    preview = client.post(f"{BASE}/orders/preview", {"lines": [{"sku": portal.cable.sku, "quantity": "5"}]},
                          format="json")
    assert preview.status_code == 200 and preview.json()["total"] == "159.00"
    draft = client.post(f"{BASE}/orders", {"lines": [line(portal.gps, 1)], "submit": False}, format="json").json()
    assert draft["status"] == "draft" and set(draft["actions"]) >= {"edit", "submit", "cancel"}
    stale = client.patch(f"{BASE}/orders/{draft['id']}", {"notes": "x", "version": 99}, format="json")
    assert stale.status_code == 412
    patched = client.patch(f"{BASE}/orders/{draft['id']}", {"lines": [line(portal.gps, 3)]}, format="json",
                           HTTP_IF_MATCH=f'"{draft["version"]}"')
    assert patched.status_code == 200 and patched.json()["total"] == "271.20"
    submitted = client.post(f"{BASE}/orders/{draft['id']}/submit", {}, format="json")
    assert submitted.status_code == 200 and submitted.json()["status"] == "in_approval"
    refused = client.post(f"{BASE}/orders/{draft['id']}/cancel", {}, format="json")
    assert refused.status_code == 409 and refused.json()["current_status"] == "in_approval"
    recalled = client.post(f"{BASE}/orders/{draft['id']}/recall")
    assert recalled.status_code == 200 and recalled.json()["status"] == "draft"
    cancelled = client.post(f"{BASE}/orders/{draft['id']}/cancel", {"reason": "不要了"}, format="json")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.patch(f"{BASE}/orders/{draft['id']}", {"notes": "x"}, format="json").status_code == 409


def test_order_scope_sales_admin_other_partner(portal, api, django_assert_max_num_queries):
    mine = order_make(actor=portal.psales, lines=[line(portal.gps, 1)])
    theirs = order_make(actor=portal.psales2, lines=[line(portal.gps, 1)])
    listed = api(portal.psales).get(f"{BASE}/orders").json()["results"]
    assert [o["id"] for o in listed] == [mine.pk]
    assert api(portal.psales).get(f"{BASE}/orders/{theirs.pk}").status_code == 404
    assert api(portal.psales).post(f"{BASE}/orders/{theirs.pk}/submit", {}, format="json").status_code == 404
    assert api(portal.other_admin).get(f"{BASE}/orders/{mine.pk}").status_code == 404
    client = api(portal.padmin)
    with django_assert_max_num_queries(12):
        admin_list = client.get(f"{BASE}/orders").json()["results"]
    assert {o["id"] for o in admin_list} == {mine.pk, theirs.pk}
    assert api(portal.padmin).get(f"{BASE}/orders", {"status": "bogus"}).status_code == 400


def test_statements_end_customers_and_users(portal, api):
    statement = api(portal.padmin).get(f"{BASE}/statements")
    assert statement.status_code == 200 and statement.json()["outstanding"] == "0.00"
    assert api(portal.psales).get(f"{BASE}/statements/invoices").status_code == 200
    made = api(portal.psales).post(f"{BASE}/end-customers", {"name": "门户API终端客户有限公司"}, format="json")
    assert made.status_code == 201 and made.json()["possible_duplicate"] is False
    assert api(portal.psales).post(f"{BASE}/end-customers", {"name": "门户API终端客户有限公司"},
                                   format="json").status_code == 400
    row_id = made.json()["id"]
    assert api(portal.padmin).get(f"{BASE}/end-customers/{row_id}").status_code == 200
    assert api(portal.psales2).get(f"{BASE}/end-customers/{row_id}").status_code == 404
    assert api(portal.other_admin).get(f"{BASE}/end-customers/{row_id}").status_code == 404
    users = api(portal.padmin).get(f"{BASE}/users")
    assert users.status_code == 200 and len(users.json()) == 3
    assert api(portal.psales).get(f"{BASE}/users").status_code == 404
    invited = api(portal.padmin).post(f"{BASE}/users", {"email": "api.new@portal.test", "full_name": "新人"},
                                      format="json")
    assert invited.status_code == 201 and invited.json()["role"] == "sales"
    member_id = invited.json()["id"]
    changed = api(portal.padmin).patch(f"{BASE}/users/{member_id}", {"role": "admin", "is_active": False},
                                       format="json")
    assert changed.status_code == 200 and changed.json()["role"] == "admin" and changed.json()["is_active"] is False
    assert api(portal.other_admin).patch(f"{BASE}/users/{member_id}", {"role": "sales"},
                                         format="json").status_code == 404
    visibility = api(portal.padmin).put(f"{BASE}/users/settings", {"sales_see_all": True}, format="json")
    assert visibility.status_code == 200 and visibility.json() == {"sales_see_all": True}
    assert api(portal.padmin).get(f"{BASE}/deals").status_code == 404  # alpha: no deal registration


def test_deals_in_project_mode(tenant_b, in_tenant, user_in, api_for):
    from .conftest import _people, make_portal

    with in_tenant(tenant_b):
        portal = make_portal(_people(tenant_b, user_in))
    client = api_for(tenant_b, portal.psales)
    made = client.post(f"{BASE}/deals", {"customer_name": "门户报备客户有限公司", "title": "机房改造",
                                         "amount": "500000"}, format="json")
    assert made.status_code == 201, made.json()
    deal = made.json()
    assert deal["status"] == "pending" and "conflicts" not in deal and deal["conflict_flagged"] is False
    assert api_for(tenant_b, portal.other_admin).get(f"{BASE}/deals/{deal['id']}").status_code == 404
    assert api_for(tenant_b, portal.psales2).post(f"{BASE}/deals/{deal['id']}/withdraw").status_code == 404
    withdrawn = client.post(f"{BASE}/deals/{deal['id']}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    bad = client.post(f"{BASE}/deals", {"title": "", "amount": "x"}, format="json")
    assert bad.status_code == 400
    assert api_for(tenant_b, portal.padmin).get(f"{BASE}/deals").json()["count"] == 1


def test_another_tenants_partner_token_means_nothing_here(portal, tenant_b, in_tenant, user_in, api_for, tenant_a):
    from crm.org.services import token_issue

    from .conftest import _people, make_portal

    with in_tenant(tenant_b):
        beta = make_portal(_people(tenant_b, user_in))
        key = token_issue(user=beta.padmin).key
    client = api_for(tenant_a)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{BASE}/me").status_code == 401
    assert client.get(f"{BASE}/orders").status_code == 401


def test_schema_lists_the_portal_under_its_tag(portal, api, people):
    schema = api(people["admin"]).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    portal_paths = {p for p in paths if p.startswith("/api/v1/portal/")}
    assert {"/api/v1/portal/orders", "/api/v1/portal/auth/token", "/api/v1/portal/me",
            "/api/v1/portal/statements", "/api/v1/portal/end-customers", "/api/v1/portal/deals",
            "/api/v1/portal/users", "/api/v1/portal/catalog"} <= portal_paths
    for path in portal_paths:
        for operation in paths[path].values():
            assert operation["tags"] == ["portal"], path


def test_messages_in_the_users_language(portal, api):
    from crm.org.services import user_set_language

    user_set_language(user=portal.psales, language="en")
    response = api(portal.psales).post(f"{BASE}/orders", {"lines": []}, format="json")
    assert response.status_code == 400 and response["Content-Language"] == "en"
