"""manage.py billing_reconcile: re-read every Stripe subscription and fix the drift."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import Subscription
from tenants.models import Tenant, TenantEvent

from .factories import subscription_make
from .fake_stripe import PRICE_IDS, subscription_obj

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("billing_reconcile", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def drifted(tenant_a, tenant_b, fake_stripe):
    subscription_make(tenant_a, plan="standard", customer="cus_A", subscription="sub_A")
    subscription_make(tenant_b, plan="standard", customer="cus_B", subscription="sub_B")
    # Stripe moved A to professional and past due (the events were lost); B is as we have it
    a = subscription_obj("sub_A", customer="cus_A", status="past_due", price=PRICE_IDS["professional_month"])
    fake_stripe.on("GET", "/v1/subscriptions/sub_A", a)
    b = subscription_obj("sub_B", customer="cus_B", status="active", price=PRICE_IDS["standard_month"])
    fake_stripe.on("GET", "/v1/subscriptions/sub_B", b)
    Subscription.objects.filter(tenant=tenant_b).update(current_period_end=_ts(b))
    return tenant_a, tenant_b


def _ts(obj):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(obj["items"]["data"][0]["current_period_end"], tz=UTC)


def test_dry_run_reports_and_changes_nothing(drifted):
    a, b = drifted
    out, err = run("--dry-run")
    assert "alpha (sub_A): would change" in out
    assert "plan: standard -> professional" in out and "status: active -> past_due" in out
    assert "beta" not in out and err == ""
    assert "1 subscription(s) drifted" in out
    sub = Subscription.objects.get(tenant=a)
    assert (sub.status, sub.plan.code, sub.stripe_status) == ("active", "standard", "active")
    assert not TenantEvent.objects.filter(tenant=a, kind="plan_changed").exists()


def test_reconcile_fixes_the_drift_and_records_it(drifted, fake_stripe):
    a, b = drifted
    out, _err = run()
    assert "alpha (sub_A): fixed" in out and "1 subscription(s) fixed" in out
    sub = Subscription.objects.select_related("plan").get(tenant=a)
    assert (sub.status, sub.plan.code, sub.stripe_status) == ("past_due", "professional", "past_due")
    assert Tenant.objects.get(pk=a.pk).plan_code == "professional"
    assert TenantEvent.objects.get(tenant=a, kind="plan_changed").actor == "reconcile"
    assert TenantEvent.objects.filter(tenant=a, kind="billing_status_changed", to_status="past_due",
                                      actor="reconcile").count() == 1
    assert {c.path for c in fake_stripe.calls} == {"/v1/subscriptions/sub_A", "/v1/subscriptions/sub_B"}
    assert all(c.method == "GET" for c in fake_stripe.calls)  # reconcile only reads Stripe
    # a second run finds nothing left to fix
    out, _err = run()
    assert "0 subscription(s) fixed" in out


def test_stripe_down_is_reported_per_subscription(drifted, fake_stripe):
    fake_stripe.stripe_down()
    out, err = run()
    assert "alpha (sub_A): error" in err and "beta (sub_B): error" in err
    assert "0 subscription(s) fixed, 2 error(s)" in out
    assert Subscription.objects.get(tenant=drifted[0]).plan.code == "standard"
