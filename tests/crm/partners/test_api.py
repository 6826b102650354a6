"""Staff partner API: shapes, writes, bad input (4xx naming the field), and isolation (404 for
partners outside the actor's scope, for partner users, and across tenants)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.partners import deals
from crm.partners.models import Partner


def test_partner_crud_and_shapes(channel, people, api_for, tenant_a, django_assert_max_num_queries):
    api = api_for(tenant_a, people["admin"])
    listing = api.get("/api/v1/partners/?status=active")
    assert listing.status_code == 200
    ids = {row["id"] for row in listing.json()["results"]}
    assert {channel.partner.pk, channel.other.pk} <= ids
    row = next(r for r in listing.json()["results"] if r["id"] == channel.partner.pk)
    assert set(row) >= {"id", "code", "name", "tier", "status", "owner_id", "owner_name", "credit_limit", "version"}
    assert api.get("/api/v1/partners/?status=bogus").status_code == 400
    assert api.get("/api/v1/partners/?owner=abc").status_code == 400
    with django_assert_max_num_queries(12):
        api.get("/api/v1/partners/?limit=100")
    created = api.post("/api/v1/partners/", {"name": "接口伙伴有限公司", "tier": "gold", "credit_limit": "1000"},
                       format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["tier"] == "gold" and body["credit_limit"] == "1000.00" and body["customer_id"]
    dup = api.post("/api/v1/partners/", {"name": "接口伙伴有限公司", "tier": "gold"}, format="json")
    assert dup.status_code == 409 and dup.json()["code"] == "possible_duplicates"
    bad = api.post("/api/v1/partners/", {"name": "", "tier": "nope", "credit_limit": "x"}, format="json")
    assert bad.status_code == 400 and {"name", "tier_id", "credit_limit"} <= set(bad.json())
    pk = body["id"]
    patched = api.patch(f"/api/v1/partners/{pk}/", {"payment_terms_days": 60, "version": body["version"]},
                        format="json")
    assert patched.status_code == 200 and patched.json()["payment_terms_days"] == 60
    stale = api.patch(f"/api/v1/partners/{pk}/", {"phone": "010-1", "version": 1}, format="json")
    assert stale.status_code == 412
    assert api.post(f"/api/v1/partners/{pk}/status", {"status": "suspended"}, format="json").status_code == 400
    done = api.post(f"/api/v1/partners/{pk}/status", {"status": "terminated", "note": "合同到期"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "terminated"
    again = api.post(f"/api/v1/partners/{pk}/status", {"status": "active"}, format="json")
    assert again.status_code == 400 and "status" in again.json()


def test_users_quotas_attainment_ranking(channel, people, api_for, tenant_a):
    api = api_for(tenant_a, people["admin"])
    pk = channel.partner.pk
    users = api.get(f"/api/v1/partners/{pk}/users/").json()
    assert {u["user_id"] for u in users} == {channel.padmin.pk, channel.psales.pk, channel.psales2.pk}
    invited = api.post(f"/api/v1/partners/{pk}/users/", {"email": "api-invite@partner.test", "full_name": "接口邀请"},
                       format="json")
    assert invited.status_code == 201 and invited.json()["role"] == "sales"
    assert api.post(f"/api/v1/partners/{pk}/users/", {"email": "bad", "full_name": ""}, format="json").status_code == 400
    mid = invited.json()["id"]
    assert api.post(f"/api/v1/partners/{pk}/users/{mid}/role", {"role": "admin"}, format="json").json()["role"] == "admin"
    assert api.post(f"/api/v1/partners/{pk}/users/{mid}/role", {"role": "boss"}, format="json").status_code == 400
    off = api.post(f"/api/v1/partners/{pk}/users/{mid}/active", {"active": False}, format="json")
    assert off.status_code == 200 and off.json()["is_active"] is False
    # another partner's member through this partner's URL: 404
    other_member = channel.other_admin.partner_member.pk
    assert api.post(f"/api/v1/partners/{pk}/users/{other_member}/role", {"role": "sales"},
                    format="json").status_code == 404
    start = timezone.localdate().replace(day=1)
    q = api.post(f"/api/v1/partners/{pk}/quotas/", {"period": "month", "period_start": start.isoformat(),
                                                   "amount": "5000"}, format="json")
    assert q.status_code == 200 and q.json()["amount"] == "5000.00"
    bad = api.post(f"/api/v1/partners/{pk}/quotas/", {"period": "month", "period_start": (start + datetime.timedelta(
        days=1)).isoformat() if start.day == 1 else start.isoformat(), "amount": "0"}, format="json")
    assert bad.status_code == 400
    att = api.get(f"/api/v1/partners/{pk}/attainment").json()
    assert att[0]["quota"]["id"] == q.json()["id"] and att[0]["ordered"] == "0.00" and att[0]["pct_ordered"] == "0.0"
    assert api.get(f"/api/v1/partners/{pk}/attainment?on=nope").status_code == 400
    assert api.get(f"/api/v1/partners/{pk}/attainment?all=1").status_code == 200
    ranking = api.get("/api/v1/partners/ranking?period=month").json()
    assert any(r["partner_id"] == pk and r["quota"] == "5000.00" for r in ranking)
    assert api.get("/api/v1/partners/ranking?period=week").status_code == 400
    assert api.get("/api/v1/partners/ranking?sort=bogus").status_code == 400
    assert api.delete(f"/api/v1/partners/{pk}/quotas/{q.json()['id']}").status_code == 204
    assert api.delete(f"/api/v1/partners/{pk}/quotas/{q.json()['id']}").status_code == 404
    tiers = api.get("/api/v1/partners/tiers/").json()
    assert {"platinum", "gold", "silver"} <= {t["code"] for t in tiers}
    assert api.post("/api/v1/partners/tiers/", {"code": "gold", "name_zh": "重复"}, format="json").status_code == 400


def test_isolation(channel, people, api_for, tenant_a, tenant_b, in_tenant):
    pk = channel.partner.pk
    sales2 = api_for(tenant_a, people["sales2"])
    assert pk not in {r["id"] for r in sales2.get("/api/v1/partners/").json()["results"]}
    for method, url, data in [("get", f"/api/v1/partners/{pk}/", None), ("patch", f"/api/v1/partners/{pk}/", {}),
                              ("post", f"/api/v1/partners/{pk}/status", {"status": "suspended", "note": "x"}),
                              ("get", f"/api/v1/partners/{pk}/users/", None),
                              ("post", f"/api/v1/partners/{pk}/users/", {"email": "a@b.c", "full_name": "x"}),
                              ("get", f"/api/v1/partners/{pk}/quotas/", None),
                              ("post", f"/api/v1/partners/{pk}/quotas/", {"period": "month",
                                                                          "period_start": "2026-01-01", "amount": "1"}),
                              ("get", f"/api/v1/partners/{pk}/attainment", None)]:
        response = getattr(sales2, method)(url, data, format="json") if data is not None else getattr(sales2, method)(url)
        assert response.status_code == 404, (method, url, response.status_code)
    # partner users: 404 on the staff API
    portal = api_for(tenant_a, channel.padmin)
    for url in ["/api/v1/partners/", f"/api/v1/partners/{pk}/", "/api/v1/partners/deals/", "/api/v1/partners/ranking"]:
        assert portal.get(url).status_code == 404, url
    # another tenant's staff: the id means nothing there
    anonymous = api_for(tenant_b)
    assert anonymous.get(f"/api/v1/partners/{pk}/").status_code in (401, 403)
    with in_tenant(tenant_a):
        assert Partner.objects.filter(pk=pk, status="active").exists()  # nothing was changed


def test_deals_api(channel_b, people_b, api_for, tenant_b):
    ch = channel_b
    deal = deals.deal_register(actor=ch.psales, data={"customer_name": "接口报备客户", "title": "一期", "amount": "88"})
    manager = api_for(tenant_b, people_b["manager"])
    rows = manager.get("/api/v1/partners/deals/?status=pending").json()
    assert [r["id"] for r in rows if r["id"] == deal.pk] == [deal.pk]
    assert set(rows[0]) >= {"number", "partner_id", "conflicts", "status", "protected_until"}
    assert manager.get("/api/v1/partners/deals/?status=bogus").status_code == 400
    assert manager.post(f"/api/v1/partners/deals/{deal.pk}/decide", {"decision": "reject"},
                        format="json").status_code == 400
    ok = manager.post(f"/api/v1/partners/deals/{deal.pk}/decide", {"decision": "approve", "note": "好"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "approved" and ok.json()["protected_until"]
    conflict = manager.post(f"/api/v1/partners/deals/{deal.pk}/decide", {"decision": "reject", "note": "x"},
                            format="json")
    assert conflict.status_code == 409 and conflict.json()["current_status"] == "approved"
    sales = api_for(tenant_b, people_b["sales"])
    assert sales.post(f"/api/v1/partners/deals/{deal.pk}/decide", {"decision": "approve"},
                      format="json").status_code == 404
    assert deal.pk not in {r["id"] for r in sales.get("/api/v1/partners/deals/").json()}
    portal = api_for(tenant_b, ch.padmin)
    assert portal.post(f"/api/v1/partners/deals/{deal.pk}/decide", {"decision": "approve"},
                       format="json").status_code == 404


def test_schema_has_partners_tag(people, api_for, tenant_a, alpha):
    schema = api_for(tenant_a, people["admin"]).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    tagged = [p for p, ops in paths.items() if any("partners" in (op.get("tags") or []) for op in ops.values()
                                                   if isinstance(op, dict))]
    assert "/api/v1/partners/" in tagged and "/api/v1/partners/{partner_id}/attainment" in tagged


def test_order_lists_mark_partner_orders(channel, people, web_as, api_for, tenant_a):
    from crm.orders import services as orders
    from tests.crm.catalog.factories import product_make

    product = product_make(list_price="10.00")
    order = orders.order_create(actor=people["admin"], partner_id=channel.partner.pk, data={
        "customer_id": channel.partner.customer_id, "lines": [{"product_id": product.pk, "quantity": "1"}]})
    page = web_as(tenant_a, people["admin"]).get("/orders/").content.decode()
    assert "partner-badge" in page
    detail = web_as(tenant_a, people["admin"]).get(f"/orders/{order.pk}/").content.decode()
    assert channel.partner.name in detail and "order-partner" in detail
    rows = api_for(tenant_a, people["admin"]).get("/api/v1/orders/").json()["results"]
    assert next(r for r in rows if r["id"] == order.pk)["partner_id"] == channel.partner.pk
