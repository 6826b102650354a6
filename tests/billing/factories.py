"""Billing test data: a tenant's subscription in a given state (inside the test transaction)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from billing.models import Plan, Subscription
from tenants.services import tenant_plan_code_set


def subscription_make(tenant, *, plan: str = "standard", status: str = "active", interval: str = "month",
                      customer: str = "", subscription: str = "", stripe_status: str = "",
                      trial_days: int | None = None, **fields) -> Subscription:
    """Set ``tenant``'s subscription (created or replaced) and keep Tenant.plan_code in step."""
    values = {"plan": Plan.objects.get(code=plan), "status": status, "interval": interval,
              "stripe_customer_id": customer, "stripe_subscription_id": subscription,
              "stripe_status": stripe_status or ("active" if subscription else ""),
              "stripe_synced_at": None, "past_due_since": None, "suspended_at": None,
              "cancelled_at": None, "closes_at": None, "closed_at": None, "cancel_at_period_end": False,
              "trial_ends_at": None, "current_period_start": None, "current_period_end": None}
    if trial_days is not None:
        values["trial_ends_at"] = timezone.now() + timedelta(days=trial_days)
    values.update(fields)
    sub, _created = Subscription.objects.update_or_create(tenant_id=tenant.pk, defaults=values)
    tenant_plan_code_set(tenant_id=tenant.pk, plan_code=plan)
    return Subscription.objects.select_related("plan").get(pk=sub.pk)
