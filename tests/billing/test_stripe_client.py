"""Every outgoing Stripe call through the real SDK over the fake HTTP client: what is sent
(parameters, idempotency keys derived from our rows, the pinned API version) and what happens
when Stripe declines a card or cannot be reached."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from billing import services
from billing.models import Plan, Subscription
from tenants.models import Tenant, TenantEvent

from .factories import subscription_make
from .fake_stripe import PRICE_IDS, checkout_session_obj, customer_obj, subscription_obj

pytestmark = pytest.mark.django_db

SUCCESS = "https://localhost/signup/done/?session_id={CHECKOUT_SESSION_ID}"
CANCEL = "https://localhost/pricing/"


def plan(code):
    return Plan.objects.get(code=code)


def test_checkout_creates_the_customer_once_then_a_session(fake_stripe, tenant_a):
    subscription_make(tenant_a, plan="trial", status="trialing", trial_days=5)
    fake_stripe.on("POST", "/v1/customers", customer_obj("cus_A"))
    fake_stripe.on("POST", "/v1/checkout/sessions",
                   checkout_session_obj("cs_test_1", tenant_id=tenant_a.pk, customer="cus_A", status="open",
                                        url="https://checkout.stripe.test/c/pay/cs_test_1"))

    url = services.checkout_session_create(tenant=tenant_a, plan=plan("professional"), interval="year",
                                           success_url=SUCCESS, cancel_url=CANCEL)

    assert url == "https://checkout.stripe.test/c/pay/cs_test_1"
    customer = fake_stripe.last("POST", "/v1/customers")
    assert customer.params["metadata"] == {"tenant_id": str(tenant_a.pk), "tenant_slug": "alpha"}
    assert customer.params["email"] == tenant_a.admin_email
    assert customer.idempotency_key == f"tenant-{tenant_a.pk}-customer"
    session = fake_stripe.last("POST", "/v1/checkout/sessions")
    assert session.params["mode"] == "subscription"
    assert session.params["customer"] == "cus_A"
    assert session.params["client_reference_id"] == str(tenant_a.pk)
    assert session.params["line_items"] == [{"price": PRICE_IDS["professional_year"], "quantity": "1"}]
    assert session.params["success_url"] == SUCCESS  # {CHECKOUT_SESSION_ID} reaches Stripe intact
    assert session.params["subscription_data"]["metadata"]["tenant_id"] == str(tenant_a.pk)
    assert session.idempotency_key.startswith(f"tenant-{tenant_a.pk}-checkout-professional-year-")
    assert {c.stripe_version for c in fake_stripe.calls} == {settings.STRIPE_API_VERSION}
    assert Subscription.objects.get(tenant=tenant_a).stripe_customer_id == "cus_A"

    # a second attempt (double click): no second customer, the same idempotency key
    services.checkout_session_create(tenant=tenant_a, plan=plan("professional"), interval="year",
                                     success_url=SUCCESS, cancel_url=CANCEL)
    assert len(fake_stripe.requests("POST", "/v1/customers")) == 1
    sessions = fake_stripe.requests("POST", "/v1/checkout/sessions")
    assert len(sessions) == 2 and sessions[0].idempotency_key == sessions[1].idempotency_key


def test_checkout_refuses_a_plan_without_a_price_and_the_trial(fake_stripe, tenant_a, settings):
    subscription_make(tenant_a, plan="trial", status="trialing", trial_days=5)
    settings.STRIPE_PRICE_IDS = {**PRICE_IDS, "enterprise_month": ""}
    with pytest.raises(services.BillingError) as exc:
        services.checkout_session_create(tenant=tenant_a, plan=plan("enterprise"), interval="month",
                                         success_url=SUCCESS, cancel_url=CANCEL)
    assert "暂不支持在线支付" in exc.value.message and exc.value.status == 400
    with pytest.raises(ValidationError) as bad:
        services.checkout_session_create(tenant=tenant_a, plan=plan("trial"), interval="month",
                                         success_url=SUCCESS, cancel_url=CANCEL)
    assert "plan" in bad.value.message_dict
    with pytest.raises(ValidationError) as bad:
        services.checkout_session_create(tenant=tenant_a, plan=plan("standard"), interval="weekly",
                                         success_url=SUCCESS, cancel_url=CANCEL)
    assert "interval" in bad.value.message_dict
    assert fake_stripe.calls == []  # nothing was sent


def test_checkout_without_a_secret_key_is_a_clear_503(fake_stripe, tenant_a, settings):
    subscription_make(tenant_a, plan="trial", status="trialing", trial_days=5)
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(services.BillingError) as exc:
        services.checkout_session_create(tenant=tenant_a, plan=plan("standard"), interval="month",
                                         success_url=SUCCESS, cancel_url=CANCEL)
    assert exc.value.status == 503 and "尚未配置" in exc.value.message
    assert fake_stripe.calls == []


def _stripe_sub(tenant, **kw):
    now = int(time.time())
    subscription_make(tenant, plan="standard", customer="cus_A", subscription="sub_A",
                      stripe_status="active")
    return subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"],
                            period_start=now - 86400, period_end=now + 29 * 86400,
                            metadata={"tenant_id": str(tenant.pk)}, **kw)


def test_plan_change_updates_stripe_with_proration_and_records_it(fake_stripe, tenant_a):
    current = _stripe_sub(tenant_a)
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", current)
    updated = subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["professional_month"])
    fake_stripe.on("POST", "/v1/subscriptions/sub_A", updated)

    sub = services.plan_change(tenant=tenant_a, plan=plan("professional"), interval="month",
                               actor="admin@alpha.test")

    call = fake_stripe.last("POST", "/v1/subscriptions/sub_A")
    assert call.params["items"] == [{"id": "si_A", "price": PRICE_IDS["professional_month"]}]
    assert call.params["proration_behavior"] == "create_prorations"
    assert call.idempotency_key == f"sub-{sub.pk}-plan-professional-month-v1"
    assert sub.plan.code == "professional"
    assert Tenant.objects.get(pk=tenant_a.pk).plan_code == "professional"
    event = TenantEvent.objects.filter(tenant=tenant_a, kind="plan_changed").get()
    assert event.actor == "admin@alpha.test"
    assert event.detail["from_plan"] == "standard" and event.detail["to_plan"] == "professional"


def test_a_declined_card_changes_nothing_and_says_so(fake_stripe, tenant_a):
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", _stripe_sub(tenant_a))
    fake_stripe.card_declined("POST", "/v1/subscriptions/sub_A", decline_code="insufficient_funds")

    with pytest.raises(services.BillingError) as exc:
        services.plan_change(tenant=tenant_a, plan=plan("professional"), interval="month", actor="admin@alpha.test")

    assert exc.value.status == 402 and exc.value.code == "card_declined"
    assert "银行卡被拒绝" in exc.value.message and "余额不足" in exc.value.message
    assert len(fake_stripe.requests("POST", "/v1/subscriptions/sub_A")) == 1  # a decline is not retried
    assert Subscription.objects.get(tenant=tenant_a).plan.code == "standard"
    assert Tenant.objects.get(pk=tenant_a.pk).plan_code == "standard"
    assert not TenantEvent.objects.filter(tenant=tenant_a, kind="plan_changed").exists()
    refusal = TenantEvent.objects.get(tenant=tenant_a, kind="payment_failed")
    assert refusal.detail["operation"] == "plan_change" and refusal.detail["code"] == "card_declined"

    # the admin fixes the card and tries again: a new request (a new key), not Stripe's stored refusal
    fake_stripe.reset()
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", _stripe_sub(tenant_a))
    fake_stripe.on("POST", "/v1/subscriptions/sub_A",
                   subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["professional_month"]))
    sub = services.plan_change(tenant=tenant_a, plan=plan("professional"), interval="month", actor="admin@alpha.test")
    keys = [c.idempotency_key for c in fake_stripe.requests("POST", "/v1/subscriptions/sub_A")]
    assert keys == [f"sub-{sub.pk}-plan-professional-month-v2"] and sub.plan.code == "professional"


def test_stripe_down_is_retried_with_the_same_key_then_reported(fake_stripe, tenant_a):
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", _stripe_sub(tenant_a))
    services.stripe_client.client()  # built before Stripe goes away
    fake_stripe.stripe_down()

    with pytest.raises(services.BillingError) as exc:
        services.subscription_cancel(tenant=tenant_a, actor="admin@alpha.test")

    assert exc.value.status == 503 and "暂时无法连接" in exc.value.message
    tries = fake_stripe.requests("POST", "/v1/subscriptions/sub_A")
    assert len(tries) == 1 + services.stripe_client.NETWORK_RETRIES
    assert len({t.idempotency_key for t in tries}) == 1
    sub = Subscription.objects.get(tenant=tenant_a)
    assert sub.cancel_at_period_end is False and sub.status == "active"
    assert not TenantEvent.objects.filter(tenant=tenant_a, kind="subscription_cancelled").exists()


def test_a_500_is_retried_and_the_retry_succeeds(fake_stripe, tenant_a):
    _stripe_sub(tenant_a)
    fake_stripe.on("POST", "/v1/subscriptions/sub_A",
                   subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"],
                                    cancel_at_period_end=True))
    fake_stripe.server_error("POST", "/v1/subscriptions/sub_A", once=True)

    sub = services.subscription_cancel(tenant=tenant_a, actor="admin@alpha.test")

    tries = fake_stripe.requests("POST", "/v1/subscriptions/sub_A")
    assert len(tries) == 2 and tries[0].idempotency_key == tries[1].idempotency_key
    assert tries[0].idempotency_key.startswith(f"sub-{sub.pk}-cancel-s")
    assert tries[0].params == {"cancel_at_period_end": "true"}
    assert sub.cancel_at_period_end is True and sub.status == "active"
    assert TenantEvent.objects.filter(tenant=tenant_a, kind="subscription_cancelled").count() == 1


def test_cancel_undo_goes_to_stripe_and_a_repeat_cancel_sends_nothing(fake_stripe, tenant_a):
    _stripe_sub(tenant_a)
    fake_stripe.on("POST", "/v1/subscriptions/sub_A",
                   lambda call: subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"],
                                                 cancel_at_period_end=call.params["cancel_at_period_end"] == "true"))
    services.subscription_cancel(tenant=tenant_a, actor="a")
    services.subscription_cancel(tenant=tenant_a, actor="a")
    assert len(fake_stripe.requests("POST")) == 1
    sub = services.subscription_cancel_undo(tenant=tenant_a, actor="a")
    last = fake_stripe.last("POST", "/v1/subscriptions/sub_A")
    assert last.params == {"cancel_at_period_end": "false"}
    assert last.idempotency_key.startswith(f"sub-{sub.pk}-uncancel-")
    assert sub.cancel_at_period_end is False


def test_billing_portal_link(fake_stripe, tenant_a):
    subscription_make(tenant_a, plan="trial", status="trialing", trial_days=3)
    with pytest.raises(services.BillingError) as exc:
        services.billing_portal_url(tenant=tenant_a, return_url="https://alpha.localhost/settings/billing/")
    assert exc.value.status == 409 and fake_stripe.calls == []
    _stripe_sub(tenant_a)
    fake_stripe.on("POST", "/v1/billing_portal/sessions",
                   {"id": "bps_1", "object": "billing_portal.session", "url": "https://billing.stripe.test/p/1"})
    url = services.billing_portal_url(tenant=tenant_a, return_url="https://alpha.localhost/settings/billing/")
    assert url == "https://billing.stripe.test/p/1"
    call = fake_stripe.last("POST", "/v1/billing_portal/sessions")
    assert call.params == {"customer": "cus_A", "return_url": "https://alpha.localhost/settings/billing/"}


def test_local_plan_change_for_a_complimentary_tenant_sends_nothing(fake_stripe, tenant_a):
    subscription_make(tenant_a, plan="standard", status="active")
    sub = services.plan_change(tenant=tenant_a, plan=plan("enterprise"), interval="year", actor="ops@qiao.cn")
    assert fake_stripe.calls == []
    assert (sub.plan.code, sub.interval, sub.status) == ("enterprise", "year", "active")
    assert Tenant.objects.get(pk=tenant_a.pk).plan_code == "enterprise"
    assert TenantEvent.objects.filter(tenant=tenant_a, kind="plan_changed", actor="ops@qiao.cn").count() == 1
    with pytest.raises(ValidationError):
        services.plan_change(tenant=tenant_a, plan=plan("trial"), interval="month", actor="ops@qiao.cn")


def test_a_tenant_admin_gets_no_free_plan_without_a_paid_subscription(fake_stripe, tenant_a):
    subscription_make(tenant_a, plan="trial", status="trialing")
    with pytest.raises(services.BillingError) as refused:
        services.plan_change(tenant=tenant_a, plan=plan("enterprise"), interval="month",
                             actor="admin@alpha.test", grant=False)
    assert refused.value.status == 409 and "完成付款" in refused.value.message
    assert Subscription.objects.get(tenant=tenant_a).plan.code == "trial" and fake_stripe.calls == []


def test_no_free_plan_switch_after_a_paid_subscription_ended(fake_stripe, tenant_a):
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A", stripe_status="canceled",
                      status="cancelled")
    with pytest.raises(ValidationError) as exc:
        services.plan_change(tenant=tenant_a, plan=plan("enterprise"), interval="month", actor="admin@alpha.test")
    assert "重新选择套餐并付款" in str(exc.value.message_dict["plan"])
    assert Subscription.objects.get(tenant=tenant_a).plan.code == "standard" and fake_stripe.calls == []


def test_cancel_and_undo_keys_follow_the_state_and_a_replayed_answer_is_read_again(fake_stripe, tenant_a):
    """Cancelled in the billing portal (a webhook applies it), undone here, cancelled in the
    portal again, undone again: each undo is a new request to Stripe (not a replay of the first
    one). And when Stripe answers with a replayed (older) body, the subscription is read again."""
    from django.utils import timezone

    from billing.services import _subscription_apply

    _stripe_sub(tenant_a)
    state = {"cancel": True}

    def current(_call=None):
        return subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"],
                                cancel_at_period_end=state["cancel"])

    fake_stripe.on("GET", "/v1/subscriptions/sub_A", lambda call: current())

    def update(call):
        state["cancel"] = call.params["cancel_at_period_end"] == "true"
        return current()

    fake_stripe.on("POST", "/v1/subscriptions/sub_A", update)
    keys = []
    for _round in range(2):
        state["cancel"] = True  # the portal cancels; the webhook applies it
        _subscription_apply(current(), fetched_at=timezone.now())
        assert Subscription.objects.get(tenant=tenant_a).cancel_at_period_end
        services.subscription_cancel_undo(tenant=tenant_a, actor="admin@alpha.test")
        keys.append(fake_stripe.last("POST", "/v1/subscriptions/sub_A").idempotency_key)
        assert not Subscription.objects.get(tenant=tenant_a).cancel_at_period_end
    assert len(set(keys)) == 2

    # Stripe replays a stored answer (older than the truth): the subscription is read again
    fake_stripe.reset()
    state["cancel"] = False
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", lambda call: current())
    stale = subscription_obj("sub_A", customer="cus_A", price=PRICE_IDS["standard_month"], cancel_at_period_end=True)
    fake_stripe.replay("POST", "/v1/subscriptions/sub_A", stale)
    Subscription.objects.filter(tenant=tenant_a).update(cancel_at_period_end=True)
    sub = services.subscription_cancel_undo(tenant=tenant_a, actor="admin@alpha.test")
    assert fake_stripe.requests("GET", "/v1/subscriptions/sub_A")  # read again
    assert sub.cancel_at_period_end is False  # the truth, not the replayed body
