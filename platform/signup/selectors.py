"""Read-side queries of the public site: the plans on offer and where a sign-up stands."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from billing.enums import Interval
from billing.models import Plan
from billing.modules import MODULES
from tenants.enums import TenantStatus
from tenants.models import Tenant
from tenants.selectors import tenant_base_url


def plan_module_rows(plans: list[Plan]) -> list[dict]:
    """One row per module: its label and, per plan, whether the plan includes it."""
    return [{"key": key, "label": label, "included": [key in plan.modules for plan in plans]}
            for key, label in MODULES.items()]


def plan_is_purchasable(plan: Plan, interval: str) -> bool:
    """A paid plan can be bought online only when its Stripe price is configured."""
    return plan.is_trial or bool(plan.stripe_price_id(interval))


def support_email() -> str:
    return getattr(settings, "SUPPORT_EMAIL", "") or f"support@{settings.BASE_DOMAIN}"


@dataclass(frozen=True)
class SignupProgress:
    tenant: Tenant
    status: str
    login_url: str
    admin_email: str
    interval: str
    awaiting_payment: bool
    provisioning: bool
    active: bool
    failed: bool
    closed: bool


def signup_progress_get(*, tenant_id: int) -> SignupProgress | None:
    """Where the sign-up of ``tenant_id`` stands (None: no such sign-up)."""
    tenant = Tenant.objects.real().filter(pk=tenant_id).first()
    if tenant is None:
        return None
    status = tenant.status
    serving = status in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED)
    return SignupProgress(
        tenant=tenant, status=status,
        login_url=tenant_base_url(tenant) + "login/" if serving else "",
        admin_email=tenant.admin_email,
        interval=(tenant.provisioning_payload or {}).get("interval") or Interval.MONTH,
        awaiting_payment=status == TenantStatus.AWAITING_PAYMENT,
        provisioning=status == TenantStatus.PROVISIONING,
        active=serving, failed=status == TenantStatus.FAILED, closed=status == TenantStatus.CLOSED,
    )
