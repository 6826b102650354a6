"""Stripe's webhook: signatures checked with the SDK, each event stored once under its id and
processed once in a task, Stripe's state re-read so that any arrival order ends the same."""

from __future__ import annotations

import itertools
import json
import time

import pytest
from django.core import mail
from django.test import Client

from billing.models import Invoice, StripeEvent, Subscription
from billing.services import _subscription_apply, stripe_event_process
from tenants.models import Tenant, TenantEvent

from .factories import subscription_make
from .fake_stripe import (
    PRICE_IDS,
    WEBHOOK_SECRET,
    checkout_session_obj,
    event_obj,
    invoice_obj,
    post_webhook,
    sign,
    subscription_obj,
)

pytestmark = pytest.mark.django_db

NOW = int(time.time())


@pytest.fixture
def public():
    return Client(HTTP_HOST="localhost")


@pytest.fixture
def paying(tenant_a, fake_stripe):
    """Tenant alpha on a Stripe subscription (standard, monthly) that Stripe also knows."""
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A", stripe_status="active")
    return tenant_a


def stripe_sub(**kw):
    kw.setdefault("price", PRICE_IDS["standard_month"])
    return subscription_obj("sub_A", customer="cus_A", period_start=NOW - 86400, period_end=NOW + 29 * 86400, **kw)


def deliver(public, event, capture, **kw):
    with capture(execute=True):
        return post_webhook(public, event, **kw)


# -- signatures ----------------------------------------------------------------------------------
def test_a_valid_event_is_stored_answered_and_processed(public, paying, fake_stripe,
                                                        django_capture_on_commit_callbacks):
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(status="past_due"))
    event = event_obj("customer.subscription.updated", stripe_sub(status="past_due"))
    response = deliver(public, event, django_capture_on_commit_callbacks)
    assert response.status_code == 200 and response.json()["received"] is True
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert (stored.status, stored.tenant_id, stored.customer_id, stored.attempts) == ("processed", paying.pk, "cus_A", 1)
    sub = Subscription.objects.get(tenant=paying)
    assert sub.status == "past_due" and sub.past_due_since is not None and sub.stripe_status == "past_due"
    assert Tenant.objects.get(pk=paying.pk).status == "active"  # past due: still working, with a banner
    change = TenantEvent.objects.get(tenant=paying, kind="billing_status_changed", to_status="past_due")
    assert (change.from_status, change.to_status, change.actor) == ("active", "past_due", "stripe")


def test_the_answer_comes_before_processing(public, paying, fake_stripe, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = post_webhook(public, event_obj("customer.subscription.updated", stripe_sub()))
    assert response.status_code == 200
    assert StripeEvent.objects.get().status == "received"
    assert len(queued) == 1 and fake_stripe.calls == []  # processing waits for the task


def test_an_event_whose_task_was_lost_is_processed_by_the_hourly_run(public, paying, fake_stripe,
                                                                      django_capture_on_commit_callbacks):
    """The broker lost the task (the event stays received): the hourly run queues it again once
    it is ten minutes old; an event already processed is left alone."""
    from datetime import timedelta

    from django.utils import timezone

    from billing.services import dunning_run

    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(status="past_due"))
    with django_capture_on_commit_callbacks(execute=False):  # the task never runs
        post_webhook(public, event_obj("customer.subscription.updated", stripe_sub(status="past_due")))
    stored = StripeEvent.objects.get()
    assert stored.status == "received"
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(now=timezone.now() + timedelta(minutes=5))["events_requeued"] == 0  # too soon
        assert dunning_run(now=timezone.now() + timedelta(minutes=11))["events_requeued"] == 1
    stored.refresh_from_db()
    assert stored.status == "processed" and stored.attempts == 1
    assert Subscription.objects.get(tenant=paying).status == "past_due"
    with django_capture_on_commit_callbacks(execute=True):
        assert dunning_run(now=timezone.now() + timedelta(minutes=30))["events_requeued"] == 0


@pytest.mark.parametrize("how", ["unsigned", "forged", "tampered", "stale", "garbage header", "not json"])
def test_bad_signatures_get_400_and_nothing_is_stored(public, paying, fake_stripe, how,
                                                      django_capture_on_commit_callbacks):
    event = event_obj("customer.subscription.deleted", stripe_sub(status="canceled"))
    kwargs = {}
    if how == "unsigned":
        kwargs["signature"] = None
    elif how == "forged":
        kwargs["secret"] = "whsec_someone_else"
    elif how == "stale":
        kwargs["timestamp"] = int(time.time()) - 600
    elif how == "garbage header":
        kwargs["signature"] = "t=abc,v1=zzz"
    with django_capture_on_commit_callbacks(execute=True):
        if how == "tampered":
            body, header = sign(event)
            body = body.replace('"canceled"', '"active"')
            response = public.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                                   HTTP_STRIPE_SIGNATURE=header)
        elif how == "not json":
            body, header = sign("hello")
            response = public.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                                   HTTP_STRIPE_SIGNATURE=header)
        else:
            response = post_webhook(public, event, **kwargs)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()
    assert fake_stripe.calls == []
    assert Subscription.objects.get(tenant=paying).status == "active"


def test_only_post_and_only_on_the_public_host(public, web, fake_stripe):
    assert public.get("/billing/stripe/webhook/").status_code == 405
    # a tenant's host has no webhook
    assert post_webhook(web, event_obj("invoice.paid", {"id": "in_1", "object": "invoice"})).status_code == 404
    assert not StripeEvent.objects.exists()


def test_missing_webhook_secret_refuses_everything(public, paying, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_webhook(public, event_obj("invoice.paid", {"id": "in_1", "object": "invoice"}),
                            secret=WEBHOOK_SECRET)
    assert response.status_code == 400 and not StripeEvent.objects.exists()


# -- once and only once ----------------------------------------------------------------------------
def test_a_replayed_event_changes_nothing(public, paying, fake_stripe, django_capture_on_commit_callbacks):
    fake_stripe.on("GET", "/v1/invoices/in_1", invoice_obj("in_1", customer="cus_A", subscription="sub_A",
                                                          status="open", amount_due=99000))
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(status="past_due"))
    event = event_obj("invoice.payment_failed", invoice_obj("in_1", customer="cus_A", subscription="sub_A",
                                                            status="open"))
    first = deliver(public, event, django_capture_on_commit_callbacks)
    again = deliver(public, event, django_capture_on_commit_callbacks)
    later = deliver(public, event, django_capture_on_commit_callbacks, timestamp=int(time.time()) + 5)
    assert [r.status_code for r in (first, again, later)] == [200, 200, 200]
    assert again.json()["duplicate"] is True
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert StripeEvent.objects.get().attempts == 1
    assert len(fake_stripe.requests("GET", "/v1/invoices/in_1")) == 1
    assert TenantEvent.objects.filter(tenant=paying, kind="payment_failed").count() == 1
    assert Invoice.objects.filter(tenant=paying).count() == 1
    # the tenant admins got exactly one email, in Chinese, naming the deadline
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["admin@alpha.test"] and "付款未成功" in mail.outbox[0].subject
    assert "admin@beta.test" not in mail.outbox[0].to


def test_processing_the_same_stored_event_twice_does_it_once(paying, fake_stripe):
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(status="past_due"))
    event = StripeEvent.objects.create(event_id="evt_x", type="customer.subscription.updated",
                                       created="2026-01-01T00:00:00Z",
                                       payload=event_obj("customer.subscription.updated", stripe_sub()))
    stripe_event_process(event_pk=event.pk)
    stripe_event_process(event_pk=event.pk)
    assert len(fake_stripe.requests("GET")) == 1
    assert TenantEvent.objects.filter(tenant=paying, kind="billing_status_changed", to_status="past_due").count() == 1


def test_unknown_types_are_stored_and_ignored(public, paying, fake_stripe, django_capture_on_commit_callbacks):
    event = event_obj("customer.discount.created", {"id": "di_1", "object": "discount", "customer": "cus_A"})
    assert deliver(public, event, django_capture_on_commit_callbacks).status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == "ignored" and stored.type == "customer.discount.created"
    assert fake_stripe.calls == []


def test_an_unknown_customer_is_stored_and_flagged(public, paying, fake_stripe, django_capture_on_commit_callbacks):
    stranger = subscription_obj("sub_Z", customer="cus_ZZZ")
    event = event_obj("customer.subscription.updated", stranger)
    assert deliver(public, event, django_capture_on_commit_callbacks).status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == "flagged" and "cus_ZZZ" in stored.error and stored.tenant is None
    invoice = event_obj("invoice.paid", invoice_obj("in_Z", customer="cus_ZZZ", subscription="sub_Z"))
    assert deliver(public, invoice, django_capture_on_commit_callbacks).status_code == 200
    assert StripeEvent.objects.get(event_id=invoice["id"]).status == "flagged"
    session = event_obj("checkout.session.completed",
                        checkout_session_obj("cs_test_Z", tenant_id=987654, customer="cus_ZZZ"))
    fake_stripe.on("GET", "/v1/checkout/sessions/cs_test_Z",
                   checkout_session_obj("cs_test_Z", tenant_id=987654, customer="cus_ZZZ"))
    assert deliver(public, session, django_capture_on_commit_callbacks).status_code == 200
    assert StripeEvent.objects.get(event_id=session["id"]).status == "flagged"
    assert Subscription.objects.get(tenant=paying).status == "active"
    assert not Invoice.objects.exists()


def test_stripe_down_while_processing_keeps_the_event_to_retry(public, paying, fake_stripe,
                                                               django_capture_on_commit_callbacks):
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(status="past_due"))
    fake_stripe.stripe_down()
    event = event_obj("customer.subscription.updated", stripe_sub(status="past_due"))
    assert deliver(public, event, django_capture_on_commit_callbacks).status_code == 200
    stored = StripeEvent.objects.get()
    assert stored.status == "failed" and "stripe_unavailable" in stored.error and stored.processed_at is None
    assert Subscription.objects.get(tenant=paying).status == "active"
    fake_stripe.stripe_down(False)
    # Stripe's own retry of the delivery (or our task's retry) finishes the work
    assert deliver(public, event, django_capture_on_commit_callbacks).status_code == 200
    stored.refresh_from_db()
    assert stored.status == "processed" and stored.attempts == 2
    assert Subscription.objects.get(tenant=paying).status == "past_due"


# -- any order ends in the same state ---------------------------------------------------------------
def _final_state(tenant):
    sub = Subscription.objects.select_related("plan").get(tenant=tenant)
    t = Tenant.objects.get(pk=tenant.pk)
    invoices = list(Invoice.objects.filter(tenant=tenant).values_list("stripe_invoice_id", "status", "amount_paid"))
    return (sub.status, sub.plan.code, sub.interval, sub.stripe_status, sub.cancel_at_period_end,
            sub.current_period_end, bool(sub.closes_at), t.status, t.plan_code, tuple(invoices))


SCENARIOS = {
    # Stripe's state at the end, and the events that led there
    "upgraded and set to cancel": (
        dict(status="active", price=PRICE_IDS["professional_year"], interval="year", cancel_at_period_end=True),
        ["customer.subscription.created", "customer.subscription.updated", "invoice.paid",
         "customer.subscription.updated"]),
    "failed then deleted": (
        dict(status="canceled", ended_at=NOW, canceled_at=NOW),
        ["customer.subscription.created", "invoice.payment_failed", "customer.subscription.updated",
         "customer.subscription.deleted"]),
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_arrival_order_ends_in_the_same_state(scenario, paying, fake_stripe):
    final, kinds = SCENARIOS[scenario]
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(**final))
    paid = kinds.count("invoice.paid") > 0
    fake_stripe.on("GET", "/v1/invoices/in_A", invoice_obj("in_A", customer="cus_A", subscription="sub_A",
                                                          status="paid" if paid else "open", created=NOW))
    events = [event_obj(kind, invoice_obj("in_A", customer="cus_A", subscription="sub_A")
                        if kind.startswith("invoice") else stripe_sub(), id=f"evt_{i}")
              for i, kind in enumerate(kinds)]
    outcomes = set()
    orders = list(itertools.permutations(range(len(events))))
    assert len(orders) == 24
    for order in orders:
        subscription_make(paying, plan="standard", customer="cus_A", subscription="sub_A", stripe_status="active")
        StripeEvent.objects.all().delete()
        Invoice.objects.all().delete()
        for i in order:
            stored = StripeEvent.objects.create(event_id=events[i]["id"], type=events[i]["type"],
                                                created="2026-01-01T00:00:00Z", payload=events[i])
            assert stripe_event_process(event_pk=stored.pk).status == "processed"
        outcomes.add(_final_state(paying))
    assert len(outcomes) == 1, outcomes
    (state,) = outcomes
    if scenario == "upgraded and set to cancel":
        assert state[:5] == ("active", "professional", "year", "active", True)
        assert state[7:9] == ("active", "professional")
    else:
        assert state[0] == "cancelled" and state[6] is True and state[7] == "suspended"


def test_an_older_read_applied_late_changes_nothing(paying):
    from datetime import timedelta

    from django.utils import timezone

    t1 = timezone.now()
    t2 = t1 + timedelta(seconds=1)
    newer = stripe_sub(status="active", price=PRICE_IDS["professional_month"])
    older = stripe_sub(status="past_due")
    _subscription_apply(newer, fetched_at=t2)
    _subscription_apply(older, fetched_at=t1)  # a slow worker commits its older read last
    sub = Subscription.objects.select_related("plan").get(tenant=paying)
    assert (sub.status, sub.plan.code, sub.stripe_synced_at) == ("active", "professional", t2)


# -- checkout ----------------------------------------------------------------------------------------
@pytest.fixture
def awaiting(tenant_env, unique_slug):
    from billing.services import subscription_for
    from tenants.services import tenant_request

    tenant = tenant_request(name="付费注册公司", slug=unique_slug("paid"), mode="standard",
                            admin_email="boss@paid.cn", admin_name="老板", admin_password="Boss-pass-2026",
                            plan_code="professional", awaiting_payment=True, extra={"interval": "year"})
    sub = subscription_for(tenant)
    assert (sub.status, sub.plan.code, sub.interval) == ("incomplete", "professional", "year")
    Subscription.objects.filter(pk=sub.pk).update(stripe_customer_id="cus_P")
    return tenant


def _paid_checkout(fake_stripe, tenant, *, session_id: str = "cs_test_P"):
    session = checkout_session_obj(session_id, tenant_id=tenant.pk, customer="cus_P", subscription="sub_P",
                                   plan="professional", interval="year")
    fake_stripe.on("GET", f"/v1/checkout/sessions/{session_id}", session)
    fake_stripe.on("GET", "/v1/subscriptions/sub_P",
                   subscription_obj("sub_P", customer="cus_P", price=PRICE_IDS["professional_year"], interval="year"))
    return session


def test_checkout_completed_links_stripe_and_provisions_the_tenant(public, awaiting, fake_stripe,
                                                                  django_capture_on_commit_callbacks):
    session = _paid_checkout(fake_stripe, awaiting)
    event = event_obj("checkout.session.completed", session)
    assert deliver(public, event, django_capture_on_commit_callbacks).status_code == 200
    assert StripeEvent.objects.get().status == "processed"
    sub = Subscription.objects.get(tenant=awaiting)
    assert (sub.status, sub.stripe_customer_id, sub.stripe_subscription_id) == ("active", "cus_P", "sub_P")
    tenant = Tenant.objects.get(pk=awaiting.pk)
    assert tenant.status == "active", tenant.provisioning_error  # provisioned after payment
    assert tenant.plan_code == "professional"
    kinds = list(TenantEvent.objects.filter(tenant=tenant).order_by("pk").values_list("kind", flat=True))
    assert kinds.count("provisioned") == 1


def test_the_success_redirect_and_the_webhook_do_the_work_once(public, awaiting, fake_stripe,
                                                               django_capture_on_commit_callbacks):
    from billing.services import checkout_session_sync

    session = _paid_checkout(fake_stripe, awaiting)
    with django_capture_on_commit_callbacks(execute=True):
        assert checkout_session_sync(session_id="cs_test_P", tenant_id=awaiting.pk + 1) is None  # not theirs
    assert Tenant.objects.get(pk=awaiting.pk).status == "awaiting_payment"  # nothing applied
    with django_capture_on_commit_callbacks(execute=True):
        sub = checkout_session_sync(session_id="cs_test_P", tenant_id=awaiting.pk)
    assert sub.tenant_id == awaiting.pk and Tenant.objects.get(pk=awaiting.pk).status == "active"
    assert deliver(public, event_obj("checkout.session.completed", session),
                   django_capture_on_commit_callbacks).status_code == 200
    assert TenantEvent.objects.filter(tenant=awaiting, kind="provisioned").count() == 1
    assert checkout_session_sync(session_id="not-a-session", tenant_id=awaiting.pk) is None
    assert checkout_session_sync(session_id="cs_test_unknown", tenant_id=awaiting.pk) is None  # Stripe: 404


def test_a_delayed_payment_provisions_when_it_succeeds(public, awaiting, fake_stripe,
                                                       django_capture_on_commit_callbacks):
    """A bank transfer: Checkout completes unpaid (nothing provisioned), then Stripe reports the
    payment with checkout.session.async_payment_succeeded."""
    unpaid = checkout_session_obj("cs_test_A", tenant_id=awaiting.pk, customer="cus_P", subscription="sub_P",
                                  payment_status="unpaid")
    fake_stripe.on("GET", "/v1/checkout/sessions/cs_test_A", unpaid, once=True)
    fake_stripe.on("GET", "/v1/subscriptions/sub_P",
                   subscription_obj("sub_P", customer="cus_P", price=PRICE_IDS["professional_month"],
                                    status="incomplete"), once=True)
    deliver(public, event_obj("checkout.session.completed", unpaid), django_capture_on_commit_callbacks)
    assert Tenant.objects.get(pk=awaiting.pk).status == "awaiting_payment"
    _paid_checkout(fake_stripe, awaiting, session_id="cs_test_A")
    paid = checkout_session_obj("cs_test_A", tenant_id=awaiting.pk, customer="cus_P", subscription="sub_P")
    deliver(public, event_obj("checkout.session.async_payment_succeeded", paid), django_capture_on_commit_callbacks)
    assert Tenant.objects.get(pk=awaiting.pk).status == "active"
    assert StripeEvent.objects.filter(type="checkout.session.async_payment_succeeded", status="processed").exists()


def test_a_payment_for_a_closed_tenant_ends_the_subscription_and_is_flagged(public, awaiting, fake_stripe,
                                                                           django_capture_on_commit_callbacks):
    """The sign-up was closed unpaid, then its Checkout completes after all: nothing to serve, so
    the new Stripe subscription is ended at once and the event flagged for a refund."""
    from datetime import timedelta

    from django.utils import timezone

    from tenants.services import tenant_signups_abandoned_close

    assert tenant_signups_abandoned_close(now=timezone.now() + timedelta(hours=26)) == 1
    session = _paid_checkout(fake_stripe, awaiting)
    fake_stripe.on("DELETE", "/v1/subscriptions/sub_P", subscription_obj("sub_P", customer="cus_P",
                                                                         price=PRICE_IDS["professional_month"],
                                                                         status="canceled"))
    deliver(public, event_obj("checkout.session.completed", session), django_capture_on_commit_callbacks)
    assert StripeEvent.objects.get().status == "flagged"
    [cancel] = fake_stripe.requests("DELETE", "/v1/subscriptions/sub_P")
    assert cancel.idempotency_key == "sub-sub_P-end-closed-tenant"
    assert Tenant.objects.get(pk=awaiting.pk).status == "closed"
    assert not TenantEvent.objects.filter(tenant=awaiting, kind="provisioned").exists()


def test_an_unpaid_checkout_does_not_provision(public, awaiting, fake_stripe, django_capture_on_commit_callbacks):
    session = checkout_session_obj("cs_test_U", tenant_id=awaiting.pk, customer="cus_P", status="open",
                                   payment_status="unpaid")
    fake_stripe.on("GET", "/v1/checkout/sessions/cs_test_U", session)
    deliver(public, event_obj("checkout.session.completed", session), django_capture_on_commit_callbacks)
    assert Tenant.objects.get(pk=awaiting.pk).status == "awaiting_payment"


def test_invoice_paid_records_the_invoice_and_reactivates(public, paying, fake_stripe,
                                                          django_capture_on_commit_callbacks):
    from tenants.services import tenant_set_status

    Subscription.objects.filter(tenant=paying).update(status="suspended", stripe_status="past_due")
    tenant_set_status(tenant_id=paying.pk, status="suspended", reason="欠费", source="billing")  # billing's own
    fake_stripe.on("GET", "/v1/invoices/in_9", invoice_obj("in_9", customer="cus_A", subscription="sub_A",
                                                          status="paid", amount_due=99000, number="QIAO-0009"))
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", stripe_sub(status="active"))
    event = event_obj("invoice.paid", invoice_obj("in_9", customer="cus_A", subscription="sub_A"))
    assert deliver(public, event, django_capture_on_commit_callbacks).status_code == 200
    invoice = Invoice.objects.get(stripe_invoice_id="in_9")
    assert (invoice.tenant_id, invoice.number, str(invoice.amount_paid), invoice.status) == \
        (paying.pk, "QIAO-0009", "990.00", "paid")
    assert Subscription.objects.get(tenant=paying).status == "active"
    tenant = Tenant.objects.get(pk=paying.pk)
    assert tenant.status == "active"
    assert TenantEvent.objects.filter(tenant=paying, kind="payment_succeeded").count() == 1
    assert any("恢复正常" in m.subject for m in mail.outbox)


def test_event_payload_round_trips_as_json(public, paying, fake_stripe, django_capture_on_commit_callbacks):
    event = event_obj("customer.discount.created", {"id": "di_1", "object": "discount", "customer": "cus_A"})
    deliver(public, event, django_capture_on_commit_callbacks)
    assert json.dumps(StripeEvent.objects.get().payload, sort_keys=True) == json.dumps(event, sort_keys=True)


def test_a_second_live_subscription_is_flagged_not_switched_to(public, paying, fake_stripe,
                                                               django_capture_on_commit_callbacks):
    """Two Checkout tabs both paid: the tenant keeps its subscription; the other one's events are
    flagged for an operator (who refunds it), and the plan never flips between the two."""
    other = subscription_obj("sub_Z", customer="cus_A", price=PRICE_IDS["professional_month"],
                             period_start=NOW - 60, period_end=NOW + 30 * 86400)
    fake_stripe.on("GET", "/v1/subscriptions/sub_Z", other)
    deliver(public, event_obj("customer.subscription.created", other), django_capture_on_commit_callbacks)
    event = StripeEvent.objects.get()
    assert event.status == "flagged" and "另一份有效订阅" in event.error
    sub = Subscription.objects.get(tenant=paying)
    assert (sub.stripe_subscription_id, sub.plan.code) == ("sub_A", "standard")
