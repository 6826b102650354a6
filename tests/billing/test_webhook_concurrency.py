"""The same Stripe event delivered several times at once, each on its own thread and database
connection: one row, processed once, one email.

This cannot run inside the usual per-test transaction (the threads' connections would not see
it), and ``transactional_db`` would flush the session's tenants; so, like
tests/crm/catalog/test_concurrency.py, it commits what it needs and removes it afterwards."""

from __future__ import annotations

import threading

import pytest
from django.core import mail
from django.db import connections
from django.test import Client

from billing.models import Invoice, StripeEvent, Subscription
from tenants.models import Tenant, TenantEvent

from .fake_stripe import PRICE_IDS, event_obj, invoice_obj, post_webhook, subscription_obj

THREADS = 6


@pytest.fixture
def committed(test_database, django_db_blocker, request, fake_stripe):
    tenant = request.getfixturevalue("tenant_env")["alpha"]
    with django_db_blocker.unblock():
        from billing.services import subscription_for

        subscription_for(tenant)
        sub = Subscription.objects.get(tenant_id=tenant.pk)
        saved_sub = {f.attname: getattr(sub, f.attname) for f in Subscription._meta.concrete_fields}
        saved_tenant = Tenant.objects.filter(pk=tenant.pk).values("status", "status_reason", "plan_code").get()
        last_event = TenantEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        Subscription.objects.filter(pk=sub.pk).update(stripe_customer_id="cus_RACE", stripe_subscription_id="sub_RACE",
                                                      stripe_status="active", status="active",
                                                      stripe_synced_at=None)
        try:
            yield tenant
        finally:
            StripeEvent.objects.filter(customer_id="cus_RACE").delete()
            Invoice.objects.filter(stripe_invoice_id="in_RACE").delete()
            TenantEvent.objects.filter(tenant_id=tenant.pk, pk__gt=last_event).delete()
            Subscription.objects.filter(pk=sub.pk).update(**{k: v for k, v in saved_sub.items() if k != "id"})
            Tenant.objects.filter(pk=tenant.pk).update(**saved_tenant)
            connections.close_all()


def test_concurrent_duplicate_deliveries_are_stored_and_processed_once(committed, fake_stripe):
    tenant = committed
    fake_stripe.on("GET", "/v1/invoices/in_RACE", invoice_obj("in_RACE", customer="cus_RACE",
                                                             subscription="sub_RACE", status="open"))
    fake_stripe.on("GET", "/v1/subscriptions/sub_RACE", subscription_obj(
        "sub_RACE", customer="cus_RACE", status="past_due", price=PRICE_IDS["standard_month"]))
    event = event_obj("invoice.payment_failed", invoice_obj("in_RACE", customer="cus_RACE", subscription="sub_RACE"))
    mail.outbox = []
    barrier = threading.Barrier(THREADS)
    results: list = [None] * THREADS

    def worker(i):
        try:
            barrier.wait(timeout=30)
            results[i] = post_webhook(Client(HTTP_HOST="localhost"), event).status_code
        except BaseException as exc:  # reported below
            results[i] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert results == [200] * THREADS, results
    stored = StripeEvent.objects.get(event_id=event["id"])
    assert stored.status == "processed" and stored.attempts == 1
    assert TenantEvent.objects.filter(tenant_id=tenant.pk, kind="payment_failed").count() == 1
    assert len(fake_stripe.requests("GET", "/v1/invoices/in_RACE")) == 1
    assert Invoice.objects.filter(stripe_invoice_id="in_RACE").count() == 1
    assert Subscription.objects.get(tenant_id=tenant.pk).status == "past_due"
    assert len([m for m in mail.outbox if "付款未成功" in m.subject]) == 1
