"""Staff pages of partners: every page renders, forms post, and a partner outside the actor's
scope is 404 (a salesperson of another region), as are partner users."""

from __future__ import annotations

from django.utils import timezone

from crm.partners import deals, end_customers
from crm.partners.models import Partner, PartnerNotice, PartnerQuota
from crm.partners.selectors import members_of_partner


def test_pages_render(channel, people, web_as, tenant_a):
    admin = web_as(tenant_a, people["admin"])
    pk = channel.partner.pk
    for url in ["/partners/", "/partners/?status=active&tier=gold&q=渠道", f"/partners/?owner={people['manager'].pk}",
                "/partners/new/", "/partners/inbox/", "/partners/ranking/", "/partners/ranking/?period=quarter&sort=growth",
                "/partners/settings/", "/partners/notices/", f"/partners/{pk}/", f"/partners/{pk}/edit/"] + [
                f"/partners/{pk}/{tab}/" for tab in ("orders", "quotas", "receivables", "users", "deals", "customers")]:
        response = admin.get(url)
        assert response.status_code == 200, url
    body = admin.get("/partners/").content.decode()
    assert channel.partner.name in body and channel.other.name in body
    assert admin.get(f"/partners/{pk}/bogus/").status_code == 404
    assert admin.get("/partners/?status=nope").status_code == 200


def test_isolation_by_scope(channel, people, web_as, tenant_a):
    """sales2 (上海, own scope) cannot see the 华北 manager's partners; partner users get 404."""
    pk = channel.partner.pk
    sales2 = web_as(tenant_a, people["sales2"])
    assert channel.partner.name not in sales2.get("/partners/").content.decode()
    for url in [f"/partners/{pk}/", f"/partners/{pk}/users/", f"/partners/{pk}/quotas/", f"/partners/{pk}/edit/"]:
        assert sales2.get(url).status_code in (403, 404), url
    for url, data in [(f"/partners/{pk}/status/", {"status": "suspended", "note": "x"}),
                      (f"/partners/{pk}/quotas/set/", {"period": "month", "amount": "1"}),
                      (f"/partners/{pk}/users/invite/", {"email": "x@y.z", "full_name": "x"})]:
        assert sales2.post(url, data).status_code == 404, url
    Partner.objects.get(pk=pk, status="active")
    portal = web_as(tenant_a, channel.padmin)
    for url in ["/partners/", f"/partners/{pk}/", "/partners/inbox/"]:
        assert portal.get(url).status_code == 404, url
    manager = web_as(tenant_a, people["manager"])
    assert manager.get(f"/partners/{pk}/").status_code == 200


def test_forms_post(channel, people, web_as, tenant_a):
    admin = web_as(tenant_a, people["admin"])
    pk = channel.partner.pk
    # create (with a possible duplicate, then the override)
    response = admin.post("/partners/new/", {"name": channel.partner.name, "tier_id": channel.partner.tier_id})
    assert response.status_code == 200 and "duplicate-candidates" in response.content.decode()
    response = admin.post("/partners/new/", {"name": channel.partner.name + "（华东）", "tier_id": channel.partner.tier_id,
                                             "duplicate_override": "on", "override_reason": "分公司"})
    assert response.status_code in (200, 302)
    response = admin.post("/partners/new/", {"name": "全新伙伴甲有限公司", "tier_id": channel.partner.tier_id,
                                             "credit_limit": "abc"})
    assert response.status_code == 200 and "信用额度" in response.content.decode()
    response = admin.post("/partners/new/", {"name": "全新伙伴甲有限公司", "tier_id": channel.partner.tier_id,
                                             "credit_limit": "50000", "owner_id": people["manager"].pk})
    assert response.status_code == 302
    created = Partner.objects.get(name="全新伙伴甲有限公司")
    assert created.owner_id == people["manager"].pk
    # edit
    response = admin.post(f"/partners/{pk}/edit/", {"name": "改名伙伴", "tier_id": channel.partner.tier_id,
                                                    "payment_terms_days": "45", "version": channel.partner.version})
    assert response.status_code == 302
    channel.partner.refresh_from_db()
    assert channel.partner.name == "改名伙伴" and channel.partner.payment_terms_days == 45
    stale = admin.post(f"/partners/{pk}/edit/", {"name": "又改", "tier_id": channel.partner.tier_id, "version": 1})
    assert stale.status_code == 200 and "修改" in stale.content.decode()
    # quota
    start = timezone.localdate().replace(day=1).isoformat()
    admin.post(f"/partners/{pk}/quotas/set/", {"period": "month", "period_start": start, "amount": "8000"})
    quota = PartnerQuota.objects.get(partner_id=pk)
    assert admin.get(f"/partners/{pk}/quotas/").content.decode().count("8000") >= 1
    admin.post(f"/partners/{pk}/quotas/{quota.pk}/delete/")
    assert not PartnerQuota.objects.filter(partner_id=pk).exists()
    # users
    admin.post(f"/partners/{pk}/users/invite/", {"email": "newp@partner.test", "full_name": "新伙伴", "role": "sales"})
    member = members_of_partner(partner_id=pk).get(user__email="newp@partner.test")
    admin.post(f"/partners/{pk}/users/{member.pk}/", {"role": "admin"})
    admin.post(f"/partners/{pk}/users/{member.pk}/", {"active": "0"})
    member.refresh_from_db()
    member.user.refresh_from_db()
    assert member.role == "admin" and not member.user.is_active
    # status: a reason is needed
    response = admin.post(f"/partners/{pk}/status/", {"status": "suspended", "note": ""}, follow=True)
    assert "原因" in response.content.decode()
    admin.post(f"/partners/{pk}/status/", {"status": "suspended", "note": "逾期未付"})
    channel.partner.refresh_from_db()
    assert channel.partner.status == "suspended"
    # settings and tiers
    admin.post("/partners/settings/", {"form": "settings", "stock_display": "exact", "low_stock_threshold": "5",
                                       "deal_protection_days": "60"})
    from crm.partners.selectors import partner_settings_get

    assert partner_settings_get().deal_protection_days == 60
    admin.post("/partners/settings/", {"form": "tier", "code": "bronze", "name_zh": "铜牌", "is_active": "on"})
    assert "铜牌" in admin.get("/partners/settings/").content.decode()
    # notices
    admin.post("/partners/notices/", {"title_zh": "五一放假通知", "tiers": ["gold"]})
    notice = PartnerNotice.objects.get(title_zh="五一放假通知")
    admin.post(f"/partners/notices/{notice.pk}/unpublish/")
    notice.refresh_from_db()
    assert not notice.is_active


def test_inbox_and_deal_decision_page(channel_b, people_b, web_as, tenant_b):
    ch = channel_b
    deal = deals.deal_register(actor=ch.psales, data={"customer_name": "页面测试客户", "title": "扩容", "amount": "10"})
    end_customers.end_customer_register(actor=ch.psales, data={"name": people_b["admin"].full_name + "不存在的名字"})
    manager = web_as(tenant_b, people_b["manager"])
    body = manager.get("/partners/inbox/").content.decode()
    assert deal.number in body
    response = manager.post(f"/partners/deals/{deal.pk}/decide/", {"decision": "approve", "note": "ok"})
    assert response.status_code == 302
    deal.refresh_from_db()
    assert deal.status == "approved"
    other = web_as(tenant_b, people_b["sales"])
    assert other.post(f"/partners/deals/{deal.pk}/decide/", {"decision": "reject", "note": "x"}).status_code == 404


def test_inbox_shows_partner_orders_and_flagged_customers(channel, people, web_as, tenant_a):
    from crm.customers.services import customer_create
    from crm.orders import services as orders
    from tests.crm.catalog.factories import product_make

    product = product_make(list_price="10.00")
    order = orders.order_create(actor=people["admin"], partner_id=channel.partner.pk, data={
        "customer_id": channel.partner.customer_id, "lines": [{"product_id": product.pk, "quantity": "1"}]})
    order = orders.order_submit(actor=people["admin"], order_id=order.pk)
    customer_create(actor=people["sales"], data={"name": "收件箱重复客户有限公司"}, duplicate_override=True)
    end_customers.end_customer_register(actor=channel.psales, data={"name": "收件箱重复客户"})
    body = web_as(tenant_a, people["manager"]).get("/partners/inbox/").content.decode()
    assert order.number in body and "收件箱重复客户" in body
    # the salesperson of another region sees neither
    body = web_as(tenant_a, people["sales2"]).get("/partners/inbox/").content.decode()
    assert order.number not in body and "收件箱重复客户" not in body
    # staff see which customer matched on the end customers tab
    page = web_as(tenant_a, people["manager"]).get(f"/partners/{channel.partner.pk}/customers/").content.decode()
    assert "疑似重复" in page and "收件箱重复客户有限公司" in page
