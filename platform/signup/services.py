"""Self-service sign-up on the public site.

A trial plan starts provisioning at once (in a Celery task); a paid plan records the tenant
as awaiting payment and sends the buyer to Stripe Checkout, and provisioning starts when the
Checkout completes (on the return to the progress page, or by the webhook, whichever comes
first: both go through ``billing.services``, which is idempotent). The tenant row and its
TenantEvent history are written by ``tenants.services``."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils.translation import gettext as _

from billing.enums import Interval
from billing.selectors import plan_get
from tenants.enums import TenantStatus
from tenants.models import Tenant
from tenants.modes import MODES
from tenants.services import tenant_create_async, tenant_request, tenant_slug_validate

from .selectors import plan_is_purchasable

SESSION_ID_RE = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")


def _password_errors(*, password: str, admin_email: str, admin_name: str) -> list[str]:
    user = get_user_model()(email=admin_email or "", full_name=admin_name or "")
    try:
        validate_password(password or "", user=user)
    except ValidationError as exc:
        return list(exc.messages)  # every rule the password fails, not only the first
    return []


def signup_validate(*, name: str, slug: str, mode: str, admin_name: str, admin_email: str,
                    password: str, plan_code: str, interval: str):
    """Every rule of the sign-up at once; raises ValidationError naming each failed field.
    Returns the plan."""
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = [_("公司名称不能为空。")]
    if not (admin_name or "").strip():
        errors["admin_name"] = [_("管理员姓名不能为空。")]
    if mode not in MODES:
        errors["mode"] = [_("请选择业务模式。")]
    try:
        tenant_slug_validate(slug)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    password_errors = _password_errors(password=password, admin_email=admin_email, admin_name=admin_name)
    if password_errors:
        errors["password"] = password_errors
    plan = plan_get(plan_code, public=True)
    if plan is None:
        errors["plan"] = [_("请选择一个套餐。")]
    elif not plan.is_trial:
        if interval not in Interval.values:
            errors["interval"] = [_("请选择按月或按年付费。")]
        elif not plan_is_purchasable(plan, interval):
            errors["plan"] = [_("“%(plan)s”暂不支持在线购买，请联系我们或先免费试用。")
                              % {"plan": plan.display_name}]
    if errors:
        raise ValidationError(errors)
    return plan


def signup_create(*, name: str, slug: str, mode: str, admin_name: str, admin_email: str,
                  password: str, plan_code: str, interval: str = "", language: str = "zh-hans") -> Tenant:
    """Record the sign-up. Trial: the tenant is provisioned in a task after commit. Paid: the
    tenant waits for payment (``signup_checkout_start`` sends the buyer to Stripe).

    The slug is checked first; two sign-ups racing for the same one end with one tenant and
    a clear "taken" message for the other (the unique index decides)."""
    plan = signup_validate(name=name, slug=slug, mode=mode, admin_name=admin_name,
                           admin_email=admin_email, password=password, plan_code=plan_code,
                           interval=interval)
    fields = dict(name=name, slug=slug, mode=mode, admin_email=admin_email, admin_name=admin_name,
                  admin_password=password, language=language, plan_code=plan.code,
                  actor=(admin_email or "").strip().lower())
    try:
        if plan.is_trial:
            return tenant_create_async(**fields)
        return tenant_request(**fields, awaiting_payment=True, extra={"interval": interval})
    except (IntegrityError, ValidationError) as exc:
        # The same subdomain committed by a concurrent sign-up: the unique index (or
        # django-tenants' schema-name check, a ValidationError without fields) decides.
        if isinstance(exc, ValidationError) and hasattr(exc, "error_dict"):
            raise
        raise ValidationError({"slug": _("子域名“%(slug)s”已被占用。") % {"slug": slug.strip().lower()}}) from None


def signup_checkout_start(*, tenant: Tenant, success_url: str, cancel_url: str) -> str | None:
    """The Stripe Checkout URL for a tenant awaiting payment, or None when there is nothing to
    pay any more (already paid and provisioning or live). Raises billing's BillingError when
    Stripe refuses or is unreachable; the tenant then stays awaiting payment."""
    from billing.services import checkout_session_create

    if tenant.status != TenantStatus.AWAITING_PAYMENT:
        return None
    plan = plan_get(tenant.plan_code, public=True)
    interval = (tenant.provisioning_payload or {}).get("interval") or Interval.MONTH
    if plan is None or plan.is_trial:
        raise ValidationError({"plan": _("该套餐已停止销售，请联系我们。")})
    return checkout_session_create(tenant=tenant, plan=plan, interval=interval,
                                   success_url=success_url, cancel_url=cancel_url)


def signup_checkout_return(*, tenant: Tenant, session_id: str) -> Tenant:
    """The buyer is back from Stripe: re-read the Checkout session and apply it (idempotent;
    the webhook may have done it already). A malformed session id is ignored."""
    from billing.services import checkout_session_sync

    if tenant.status == TenantStatus.AWAITING_PAYMENT and SESSION_ID_RE.match(session_id or ""):
        checkout_session_sync(session_id=session_id, tenant_id=tenant.pk)
        tenant.refresh_from_db()
    return tenant
