"""The tenant admin's "套餐与账单" page: plan, status, usage against the limits, invoices, and the
Stripe actions (Checkout, billing portal, plan change, cancel and undo) through the real SDK over
a fake HTTP client. Only the tenant's admins reach it; Stripe failing is a message, never a 500."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.entitlements import entitlements_forget
from billing.enums import BillingStatus
from billing.models import Invoice, Plan, Subscription
from tenants.enums import TenantEventKind, TenantStatus
from tenants.models import Tenant, TenantEvent
from tenants.selectors import tenant_cache_forget
from tests.billing.fake_stripe import (
    checkout_session_obj,
    customer_obj,
    fake_stripe,  # noqa: F401  (the fixture)
    subscription_obj,
)

pytestmark = pytest.mark.django_db
URL = "/settings/billing/"


@pytest.fixture(autouse=True)
def _fresh_plan_cache(tenant_env):
    yield
    for tenant in tenant_env.values():
        entitlements_forget(tenant.pk)


def _subscribe(tenant, code="standard", **fields) -> Subscription:
    with schema_context("public"):
        defaults = {"plan": Plan.objects.get(code=code), "status": BillingStatus.ACTIVE,
                    "stripe_customer_id": "", "stripe_subscription_id": "", "stripe_status": "",
                    "cancel_at_period_end": False, "trial_ends_at": None, "current_period_end": None,
                    "past_due_since": None, "closes_at": None, **fields}
        sub, _created = Subscription.objects.update_or_create(tenant=tenant, defaults=defaults)
        Tenant.objects.filter(pk=tenant.pk).update(plan_code=code)
    entitlements_forget(tenant.pk)
    return sub


def _invoice(tenant, number: str, **fields) -> Invoice:
    with schema_context("public"):
        now = timezone.now()
        return Invoice.objects.create(tenant=tenant, stripe_invoice_id=f"in_{number}", number=number, status="paid",
                                      amount_due=Decimal("990.00"), amount_paid=Decimal("990.00"),
                                      hosted_invoice_url=f"https://invoice.stripe.test/{number}",
                                      period_start=now - datetime.timedelta(days=30), period_end=now,
                                      created=now, **fields)


@pytest.fixture
def admin_web(tenant_a, user_in, web_as):
    return web_as(tenant_a, user_in(tenant_a, "admin"))


# -- who may see it ---------------------------------------------------------------------------------
def test_admin_sees_plan_status_usage_modules_and_only_their_own_invoices(tenant_a, tenant_b, admin_web, in_tenant):
    from crm.org.models import User

    renews = timezone.now() + datetime.timedelta(days=20)
    _subscribe(tenant_a, "standard", current_period_end=renews, stripe_customer_id="cus_alpha",
               stripe_subscription_id="sub_alpha", stripe_status="active")
    _invoice(tenant_a, "QIAO-A-0001")
    _invoice(tenant_b, "QIAO-B-0001")
    with in_tenant(tenant_a):
        active_staff = User.staff.filter(is_active=True).count()

    page = admin_web.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="plan-name">标准版<' in body
    assert 'data-status="active"' in body
    assert f"下次续费日期：{timezone.localtime(renews):%Y-%m-%d}" in body
    assert f"已用 {active_staff} / 10" in body  # staff seats
    assert 'data-module="partners" data-on="0"' in body and 'data-module="orders" data-on="1"' in body
    assert "QIAO-A-0001" in body and "https://invoice.stripe.test/QIAO-A-0001" in body
    assert "QIAO-B-0001" not in body  # another tenant's invoice
    assert 'data-testid="billing-portal"' in body  # a Stripe customer: the portal button


def test_non_admins_partner_users_and_strangers_are_kept_out(tenant_a, tenant_b, user_in, web_as, in_tenant):
    from tests.crm.partners.factories import member_make, partner_make

    assert web_as(tenant_a, user_in(tenant_a, "sales")).get(URL).status_code == 403
    # the settings page links it for the tenant admin only
    assert URL in web_as(tenant_a, user_in(tenant_a, "admin")).get("/settings/").content.decode()
    assert URL not in web_as(tenant_a, user_in(tenant_a, "manager")).get("/settings/").content.decode()
    assert web_as(tenant_a, user_in(tenant_a, "finance")).post(URL + "export/").status_code == 403
    anonymous = web_as(tenant_a).get(URL)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        padmin = member_make(actor=admin, partner=partner_make(actor=admin, owner=user_in(tenant_a, "manager")),
                             role="admin").user
    assert web_as(tenant_a, padmin).get(URL).status_code == 404
    # beta's admin, signed in on beta, carries no session into alpha
    beta_admin = web_as(tenant_b, user_in(tenant_b, "admin"))
    assert beta_admin.get(URL).status_code == 200
    beta_admin.defaults["HTTP_HOST"] = "alpha.localhost"
    stranger = beta_admin.get(URL)
    assert stranger.status_code == 302 and "/login/" in stranger["Location"]


def test_status_lines_for_trial_past_due_and_cancelled(tenant_a, admin_web):
    trial_end = timezone.now() + datetime.timedelta(days=5)
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING, trial_ends_at=trial_end)
    body = admin_web.get(URL).content.decode()
    assert f"试用期至 {timezone.localtime(trial_end):%Y-%m-%d}" in body
    assert 'action="/settings/billing/checkout/"' in body  # the upgrade form
    assert 'action="/settings/billing/plan/"' not in body

    since = timezone.now() - datetime.timedelta(days=2)
    _subscribe(tenant_a, "standard", status=BillingStatus.PAST_DUE, past_due_since=since,
               stripe_subscription_id="sub_pd", stripe_customer_id="cus_pd", stripe_status="past_due")
    suspend_on = timezone.localtime(since + datetime.timedelta(days=7))
    body = admin_web.get(URL).content.decode()
    assert f"请在 {suspend_on:%Y-%m-%d} 前更新付款方式" in body

    assert 'action="/settings/billing/plan/"' in body and 'action="/settings/billing/checkout/"' not in body

    closes = timezone.now() + datetime.timedelta(days=30)
    _subscribe(tenant_a, "standard", status=BillingStatus.CANCELLED, closes_at=closes,
               stripe_subscription_id="sub_pd", stripe_customer_id="cus_pd", stripe_status="canceled")
    body = admin_web.get(URL).content.decode()
    assert f"数据保留至 {timezone.localtime(closes):%Y-%m-%d}" in body
    assert 'data-testid="export-request"' in body
    # during the retention period the admin can subscribe again, as the banner says
    assert 'action="/settings/billing/checkout/"' in body and 'action="/settings/billing/plan/"' not in body

    _subscribe(tenant_a, "standard", status=BillingStatus.CLOSED)
    body = admin_web.get(URL).content.decode()
    assert 'action="/settings/billing/checkout/"' not in body and 'action="/settings/billing/plan/"' not in body


# -- Stripe actions -----------------------------------------------------------------------------------
def test_upgrade_from_trial_goes_to_stripe_checkout(tenant_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING, trial_ends_at=timezone.now())
    fake_stripe.on("POST", "/v1/customers", customer_obj("cus_new"))
    fake_stripe.on("POST", "/v1/checkout/sessions", checkout_session_obj(
        "cs_test_up", tenant_id=tenant_a.pk, customer="cus_new", url="https://checkout.stripe.test/pay/cs_test_up"))
    response = admin_web.post(URL + "checkout/", {"plan": "professional", "interval": "year"})
    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.test/pay/cs_test_up"
    sent = fake_stripe.last("POST", "/v1/checkout/sessions").params
    assert sent["success_url"] == "http://alpha.localhost/settings/billing/?session_id={CHECKOUT_SESSION_ID}"
    assert sent["cancel_url"] == "http://alpha.localhost/settings/billing/?checkout=cancelled"
    assert sent["line_items"][0]["price"] == "price_professional_year"


def test_back_from_checkout_the_session_is_applied(tenant_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING, stripe_customer_id="cus_back")
    sub = subscription_obj("sub_back", customer="cus_back", price="price_standard_month")
    fake_stripe.on("GET", "/v1/checkout/sessions/cs_test_back", checkout_session_obj(
        "cs_test_back", tenant_id=tenant_a.pk, customer="cus_back", subscription="sub_back"))
    fake_stripe.on("GET", "/v1/subscriptions/sub_back", sub)
    response = admin_web.get(URL + "?session_id=cs_test_back", follow=True)
    assert response.status_code == 200
    assert "付款已完成" in response.content.decode()
    with schema_context("public"):
        got = Subscription.objects.get(tenant=tenant_a)
    assert (got.plan.code, got.status, got.stripe_subscription_id) == ("standard", BillingStatus.ACTIVE, "sub_back")


def test_a_made_up_or_foreign_session_id_applies_nothing_and_claims_no_payment(
        tenant_a, tenant_b, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING, stripe_customer_id="cus_a")
    fake_stripe.on("GET", "/v1/checkout/sessions/cs_test_beta", checkout_session_obj(
        "cs_test_beta", tenant_id=tenant_b.pk, customer="cus_b", subscription="sub_b"))
    for session_id in ("cs_bogus", "cs_test_beta", "x" * 300):
        page = admin_web.get(URL + "?session_id=" + session_id, follow=True).content.decode()
        assert "付款已完成" not in page and "尚未收到这笔付款的确认" in page
    assert fake_stripe.requests("GET", "/v1/subscriptions/sub_b") == []  # beta's session never applied
    with schema_context("public"):
        assert Subscription.objects.get(tenant=tenant_a).status == BillingStatus.TRIALING


@pytest.mark.parametrize("failure", ["declined", "down"])
def test_stripe_failing_at_checkout_is_a_message_not_a_500(tenant_a, admin_web, fake_stripe, failure):  # noqa: F811
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING, stripe_customer_id="cus_fail")
    if failure == "declined":
        fake_stripe.card_declined("POST", "/v1/checkout/sessions")
    else:
        fake_stripe.stripe_down()
    response = admin_web.post(URL + "checkout/", {"plan": "standard", "interval": "month"})
    assert 400 <= response.status_code < 600 and response.status_code != 500
    assert 'data-testid="billing-errors"' in response.content.decode()
    with schema_context("public"):
        assert Subscription.objects.get(tenant=tenant_a).plan.code == "trial"


def test_bad_plan_or_interval_is_400_with_the_rule(tenant_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING)
    bad_plan = admin_web.post(URL + "checkout/", {"plan": "trial", "interval": "month"})
    assert bad_plan.status_code == 400 and "请选择一个有效的付费套餐。" in bad_plan.content.decode()
    bad_interval = admin_web.post(URL + "checkout/", {"plan": "standard", "interval": "weekly"})
    assert bad_interval.status_code == 400 and "请选择按月或按年付费。" in bad_interval.content.decode()
    assert fake_stripe.requests() == []


def test_billing_portal_link(tenant_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "standard")
    without = admin_web.post(URL + "portal/")
    assert without.status_code == 409 and "请先选择套餐" in without.content.decode()
    _subscribe(tenant_a, "standard", stripe_customer_id="cus_portal")
    fake_stripe.on("POST", "/v1/billing_portal/sessions",
                   {"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.test/p/1"})
    response = admin_web.post(URL + "portal/")
    assert response.status_code == 302 and response["Location"] == "https://billing.stripe.test/p/1"
    sent = fake_stripe.last("POST", "/v1/billing_portal/sessions").params
    assert sent == {"customer": "cus_portal", "return_url": "http://alpha.localhost/settings/billing/"}


def test_plan_change_with_a_paid_subscription_and_never_as_a_free_grant(tenant_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "trial", status=BillingStatus.TRIALING)
    free = admin_web.post(URL + "plan/", {"plan": "enterprise", "interval": "month"})
    assert free.status_code == 409 and "请先选择付费套餐并完成付款" in free.content.decode()
    with schema_context("public"):
        assert Subscription.objects.get(tenant=tenant_a).plan.code == "trial"
    assert fake_stripe.requests() == []

    _subscribe(tenant_a, "standard", stripe_customer_id="cus_pc", stripe_subscription_id="sub_pc",
               stripe_status="active")
    fake_stripe.on("GET", "/v1/subscriptions/sub_pc", subscription_obj("sub_pc", customer="cus_pc"))
    fake_stripe.on("POST", "/v1/subscriptions/sub_pc", subscription_obj(
        "sub_pc", customer="cus_pc", price="price_professional_month"))
    response = admin_web.post(URL + "plan/", {"plan": "professional", "interval": "month"}, follow=True)
    assert response.status_code == 200 and "套餐已变更为「专业版」" in response.content.decode()
    sent = fake_stripe.last("POST", "/v1/subscriptions/sub_pc")
    assert sent.params["proration_behavior"] == "create_prorations"
    assert sent.params["items"][0]["price"] == "price_professional_month"
    with schema_context("public"):
        assert Subscription.objects.get(tenant=tenant_a).plan.code == "professional"
        assert TenantEvent.objects.filter(tenant=tenant_a, kind=TenantEventKind.PLAN_CHANGED,
                                          actor="admin@alpha.test").exists()
    # the new plan's modules open at once (the cached plan was dropped)
    assert admin_web.get("/partners/").status_code == 200


def test_cancel_and_undo(tenant_a, admin_web, fake_stripe):  # noqa: F811
    end = int((timezone.now() + datetime.timedelta(days=12)).timestamp())
    _subscribe(tenant_a, "standard", stripe_customer_id="cus_c", stripe_subscription_id="sub_c",
               stripe_status="active")
    fake_stripe.on("POST", "/v1/subscriptions/sub_c", subscription_obj(
        "sub_c", customer="cus_c", cancel_at_period_end=True, period_end=end), once=True)
    cancelled = admin_web.post(URL + "cancel/", follow=True)
    assert cancelled.status_code == 200 and "已申请取消订阅" in cancelled.content.decode()
    assert fake_stripe.last("POST", "/v1/subscriptions/sub_c").params == {"cancel_at_period_end": "true"}
    assert 'data-testid="billing-cancel-undo"' in cancelled.content.decode()

    fake_stripe.on("POST", "/v1/subscriptions/sub_c", subscription_obj(
        "sub_c", customer="cus_c", cancel_at_period_end=False, period_end=end))
    undone = admin_web.post(URL + "cancel/undo/", follow=True)
    assert undone.status_code == 200 and "已撤销取消" in undone.content.decode()
    with schema_context("public"):
        assert Subscription.objects.get(tenant=tenant_a).cancel_at_period_end is False


def test_only_post_changes_anything(tenant_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(tenant_a, "standard", stripe_customer_id="cus_g", stripe_subscription_id="sub_g")
    for path in ("checkout/", "portal/", "plan/", "cancel/", "cancel/undo/", "export/"):
        assert admin_web.get(URL + path).status_code == 405, path
    assert fake_stripe.requests() == []


# -- while suspended ----------------------------------------------------------------------------------
@pytest.fixture
def suspended_a(tenant_a):
    with schema_context("public"):
        Tenant.objects.filter(pk=tenant_a.pk).update(status=TenantStatus.SUSPENDED, status_reason="欠费")
    tenant_cache_forget(tenant_a)
    yield tenant_a
    tenant_cache_forget(tenant_a)


def test_a_suspended_tenant_admin_still_reads_the_page(suspended_a, admin_web):
    _subscribe(suspended_a, "standard", status=BillingStatus.SUSPENDED, stripe_customer_id="cus_s")
    page = admin_web.get(URL)
    assert page.status_code == 200 and "因欠费已暂停" in page.content.decode()
    assert admin_web.post("/staff/invite/", {"email": "x@alpha.cn"}).status_code == 423  # other writes refused


def test_a_suspended_tenant_admin_can_still_pay(suspended_a, admin_web, fake_stripe):  # noqa: F811
    _subscribe(suspended_a, "standard", status=BillingStatus.SUSPENDED, stripe_customer_id="cus_s2")
    fake_stripe.on("POST", "/v1/billing_portal/sessions",
                   {"id": "bps_2", "object": "billing_portal.session", "url": "https://billing.stripe.test/p/2"})
    response = admin_web.post(URL + "portal/")
    assert response.status_code == 302 and response["Location"] == "https://billing.stripe.test/p/2"
