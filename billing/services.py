"""Billing: each tenant's subscription, Stripe Checkout and the billing portal, plan changes,
cancellation, trials, Stripe's webhook events, and the dunning lifecycle.

The subscription's status moves only through ``_move`` (ALLOWED_TRANSITIONS in enums), which
records a ``billing_status_changed`` TenantEvent and keeps the tenant's own status in step:
past due -> still active with a banner; suspended -> tenant suspended (read-only); paid ->
active again; cancelled -> tenant suspended read-only until ``closes_at``; closed -> tenant
closed.

Stripe's state is never taken from an event's body: every event makes us re-read the object
from Stripe, and a state is applied only if it was read after the one we hold
(``stripe_synced_at``), so duplicates and any arrival order end in the same state."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tenants.enums import TenantEventKind, TenantStatus
from tenants.models import Tenant
from tenants.services import tenant_event_record, tenant_plan_code_set, tenant_set_status

from . import stripe_client
from .enums import ALLOWED_TRANSITIONS, BillingStatus, Interval, StripeEventStatus
from .models import Invoice, Plan, StripeEvent, Subscription
from .selectors import (
    TRIAL_NOTICE_DAYS,
    local_day,
    plan_for_price,
    subscription_for_stripe,
    subscriptions_due_for_dunning,
    tenant_admin_emails,
)
from .stripe_client import BillingError

log = logging.getLogger(__name__)

__all__ = [
    "BillingError", "subscription_for", "subscription_on_provisioned", "checkout_session_create",
    "checkout_session_sync", "billing_portal_url", "plan_change", "subscription_cancel",
    "subscription_cancel_undo", "trial_extend", "stripe_event_record", "stripe_event_process",
    "dunning_run", "subscriptions_reconcile",
]

STRIPE_ACTOR = "stripe"
MAX_TRIAL_EXTENSION_DAYS = 90


# -- helpers ---------------------------------------------------------------------------------
def _ts(value) -> datetime | None:
    if value in (None, "", 0):
        return None
    return datetime.fromtimestamp(int(value), tz=UTC)


def _id_of(value) -> str:
    """A Stripe reference is either an id or an expanded object."""
    if isinstance(value, dict):
        return value.get("id") or ""
    return value or ""




def _entitlements_forget(tenant_id: int) -> None:
    try:
        from billing.entitlements import entitlements_forget  # written by the entitlements work
    except ImportError:
        return
    entitlements_forget(tenant_id)


def _tenant(tenant_id: int) -> Tenant:
    return Tenant.objects.get(pk=tenant_id)


def _lock(sub_pk: int) -> Subscription:
    return Subscription.objects.select_for_update().select_related("plan").get(pk=sub_pk)


# -- the subscription of a tenant -------------------------------------------------------------
def _plan_or_trial(code: str) -> Plan:
    return Plan.objects.filter(code=code).first() or Plan.objects.get(code="trial")


def _subscription_create(tenant: Tenant, *, demo: bool = False, actor: str = "system",
                         trial_start: datetime | None = None) -> Subscription:
    plan = _plan_or_trial("enterprise" if demo else (tenant.plan_code or "trial"))
    now = timezone.now()
    payload = tenant.provisioning_payload or {}
    interval = payload.get("interval") if payload.get("interval") in Interval.values else Interval.MONTH
    fields = {"plan": plan, "interval": interval}
    if tenant.status == TenantStatus.AWAITING_PAYMENT:
        fields["status"] = BillingStatus.INCOMPLETE
    elif plan.is_trial:
        fields["status"] = BillingStatus.TRIALING
        fields["trial_ends_at"] = (trial_start or now) + timedelta(days=plan.trial_days)
    else:
        fields["status"] = BillingStatus.ACTIVE  # complimentary: no Stripe subscription
    try:
        with transaction.atomic():
            sub = Subscription.objects.create(tenant_id=tenant.pk, **fields)
    except IntegrityError:  # created meanwhile by another request
        return Subscription.objects.select_related("plan").get(tenant_id=tenant.pk)
    tenant_event_record(tenant_id=tenant.pk, kind=TenantEventKind.BILLING_STATUS_CHANGED, actor=actor,
                        to_status=sub.status, plan=plan.code,
                        complimentary=sub.status == BillingStatus.ACTIVE,
                        trial_ends_at=sub.trial_ends_at.isoformat() if sub.trial_ends_at else None)
    if tenant.plan_code != plan.code:
        tenant_plan_code_set(tenant_id=tenant.pk, plan_code=plan.code)
    return sub


def subscription_for(tenant) -> Subscription:
    """The tenant's subscription, created on first use: a trial on the trial plan, waiting for
    Checkout for a paid sign-up, otherwise complimentary (active, no Stripe)."""
    found = Subscription.objects.select_related("plan").filter(tenant_id=tenant.pk).first()
    if found is not None:
        return found
    with transaction.atomic():  # the tenant is read afresh (a cached one lacks fields)
        # a tenant from before billing existed: its trial starts now, not at its provisioning
        return _subscription_create(_tenant(tenant.pk))


def subscription_on_provisioned(*, tenant_id: int, demo: bool = False) -> Subscription:
    """Called when a tenant goes live: its trial starts, a paid sign-up keeps the subscription
    Checkout made, a demo tenant gets the top plan without charge. Idempotent."""
    found = Subscription.objects.select_related("plan").filter(tenant_id=tenant_id).first()
    if found is not None:
        return found
    tenant = _tenant(tenant_id)
    return _subscription_create(tenant, demo=demo, actor="demo" if demo else "system",
                                trial_start=tenant.provisioned_at)


# -- the lifecycle -----------------------------------------------------------------------------
BILLING_SOURCE = "billing"  # tenants.services.tenant_set_status(source=): changes billing made

def _tenant_reason(to: str, sub: Subscription, language: str) -> str:
    with translation.override(language):
        if to == BillingStatus.SUSPENDED:
            return _("欠费暂停：自 %(date)s 起逾期未付，付款后自动恢复。") % {"date": local_day(sub.past_due_since)}
        if to == BillingStatus.CANCELLED:
            return _("已取消订阅，数据保留至 %(date)s，期间可导出数据或重新订阅。") % {"date": local_day(sub.closes_at)}
        if to == BillingStatus.CLOSED:
            return _("订阅已取消，数据保留期已于 %(date)s 结束。") % {"date": local_day(sub.closes_at)}
    return ""


def _tenant_follow(sub: Subscription, before: str, to: str, *, actor: str) -> None:
    """Keep the tenant's status in step with its subscription. A suspension someone else made
    (an operator's, for abuse) is never replaced nor lifted by billing."""
    from tenants.services import tenant_suspended_by

    tenant = _tenant(sub.tenant_id)
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        return  # not live yet (awaiting payment, provisioning) or already closed
    ours = tenant.status == TenantStatus.SUSPENDED and tenant_suspended_by(tenant.pk) == BILLING_SOURCE
    if to in (BillingStatus.SUSPENDED, BillingStatus.CANCELLED):
        reason = _tenant_reason(to, sub, tenant.language)
        if tenant.status == TenantStatus.SUSPENDED:
            if ours and tenant.status_reason != reason:  # e.g. suspended for debt, then cancelled
                tenant_set_status(tenant_id=tenant.pk, status=TenantStatus.ACTIVE, actor=actor, source=BILLING_SOURCE)
                tenant_set_status(tenant_id=tenant.pk, status=TenantStatus.SUSPENDED, reason=reason, actor=actor,
                                  source=BILLING_SOURCE)
        else:
            tenant_set_status(tenant_id=tenant.pk, status=TenantStatus.SUSPENDED, reason=reason, actor=actor,
                              source=BILLING_SOURCE)
    elif to == BillingStatus.CLOSED:
        tenant_set_status(tenant_id=tenant.pk, status=TenantStatus.CLOSED,
                          reason=_tenant_reason(to, sub, tenant.language), actor=actor, source=BILLING_SOURCE)
    elif (to in (BillingStatus.ACTIVE, BillingStatus.TRIALING, BillingStatus.PAST_DUE)
          and before in (BillingStatus.SUSPENDED, BillingStatus.CANCELLED) and ours):
        tenant_set_status(tenant_id=tenant.pk, status=TenantStatus.ACTIVE, actor=actor,
                          reason=_("账单恢复正常"), source=BILLING_SOURCE)


def _move(sub: Subscription, to: str, *, actor: str, now: datetime | None = None, reason: str = "",
          cancelled_at: datetime | None = None, notify: str | None = None, email: bool = True,
          **detail) -> bool:
    """The one way a subscription's status changes. ``sub`` is locked by the caller."""
    now = now or timezone.now()
    before = sub.status
    if before == to:
        return False
    if to not in ALLOWED_TRANSITIONS.get(before, set()):
        log.warning("billing: %s -> %s refused for tenant %s", before, to, sub.tenant_id)
        return False
    sub.status = to
    if to == BillingStatus.PAST_DUE:
        sub.past_due_since = sub.past_due_since or now
    elif to == BillingStatus.SUSPENDED:
        sub.suspended_at = now
    elif to == BillingStatus.CANCELLED:
        sub.cancelled_at = cancelled_at or now
        sub.closes_at = sub.cancelled_at + timedelta(days=settings.BILLING_RETENTION_DAYS)
        sub.cancel_at_period_end = False
    elif to == BillingStatus.CLOSED:
        sub.closed_at = now
    if to in (BillingStatus.ACTIVE, BillingStatus.TRIALING):
        sub.past_due_since = sub.suspended_at = sub.cancelled_at = sub.closes_at = None
    sub.save(update_fields=["status", "past_due_since", "suspended_at", "cancelled_at", "closes_at",
                            "closed_at", "cancel_at_period_end", "updated_at"])
    tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.BILLING_STATUS_CHANGED, actor=actor,
                        from_status=before, to_status=to, reason=reason, plan=sub.plan.code,
                        closes_at=sub.closes_at.isoformat() if sub.closes_at else None, **detail)
    _tenant_follow(sub, before, to, actor=actor)
    message = notify or {BillingStatus.SUSPENDED: "suspended", BillingStatus.CANCELLED: "cancelled",
                         BillingStatus.CLOSED: "closed"}.get(to)
    if message is None and to == BillingStatus.ACTIVE and before in (BillingStatus.PAST_DUE, BillingStatus.SUSPENDED):
        message = "reactivated"
    if message and email:
        sub_pk = sub.pk
        transaction.on_commit(lambda: _email_admins(sub_pk, message))
    return True


def subscription_end_now(*, tenant, actor: str, reason: str = "") -> Subscription:
    """The tenant is closed by an operator: its Stripe subscription ends at once (no further
    charge) and the local subscription is closed, so it no longer counts in MRR nor gets
    dunning emails. Stripe down: BillingError, nothing changed here. Idempotent."""
    sub = subscription_for(tenant)
    if _has_live_stripe_subscription(sub):
        data = stripe_client.subscription_cancel_now(
            sub.stripe_subscription_id, idempotency_key=f"sub-{sub.pk}-end-{sub.stripe_subscription_id}")
        _subscription_apply(data, fetched_at=timezone.now(), actor=actor)
    with transaction.atomic():
        sub = _lock(sub.pk)
        if sub.status != BillingStatus.CLOSED:
            if BillingStatus.CLOSED not in ALLOWED_TRANSITIONS.get(sub.status, set()):
                _move(sub, BillingStatus.CANCELLED, actor=actor, reason=reason or "tenant closed", email=False)
            _move(sub, BillingStatus.CLOSED, actor=actor, reason=reason or "tenant closed", email=False)
    return sub


# -- emails to the tenant admins ---------------------------------------------------------------
def _email_texts(kind: str, sub: Subscription, tenant: Tenant) -> tuple[str, str]:
    grace_end = (sub.past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS)) if sub.past_due_since else None
    args = {"name": tenant.name, "plan": sub.plan.display_name, "suspend": local_day(grace_end),
            "closes": local_day(sub.closes_at), "trial_end": local_day(sub.trial_ends_at)}
    texts = {
        "trial_ending": (_("【Qiao】%(name)s 的试用将于 %(trial_end)s 结束"),
                         _("%(name)s 的免费试用将于 %(trial_end)s 结束。请在此之前到“设置 → 套餐与账单”选择套餐并付款，"
                           "以免空间在宽限期后暂停为只读。数据会完整保留。")),
        "trial_ended": (_("【Qiao】%(name)s 的试用已结束"),
                        _("%(name)s 的免费试用已结束。请在 %(suspend)s 前选择套餐并付款，否则空间将暂停为只读。")),
        "payment_failed": (_("【Qiao】%(name)s 的付款未成功"),
                           _("%(name)s 的“%(plan)s”续费扣款未成功。请在 %(suspend)s 前在账单页更新付款方式，"
                             "否则空间将暂停为只读。")),
        "suspended": (_("【Qiao】%(name)s 的空间已暂停（只读）"),
                      _("%(name)s 因逾期未付已暂停，目前只能查看、不能修改。付款后立即恢复。")),
        "cancelled": (_("【Qiao】%(name)s 的订阅已取消"),
                      _("%(name)s 的订阅已结束，空间已转为只读。数据保留至 %(closes)s，期间可导出全部数据或重新订阅。")),
        "closed": (_("【Qiao】%(name)s 的空间已关闭"),
                   _("%(name)s 的数据保留期已结束，空间已关闭。")),
        "reactivated": (_("【Qiao】%(name)s 已恢复正常"),
                        _("已收到 %(name)s 的付款，空间已恢复正常使用。谢谢！")),
    }
    subject, body = texts[kind]
    return subject % args, body % args


def _email_admins(sub_pk: int, kind: str) -> int:
    sub = Subscription.objects.select_related("plan").filter(pk=sub_pk).first()
    if sub is None:
        return 0
    tenant = _tenant(sub.tenant_id)
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.CLOSED):
        return 0
    try:
        recipients = tenant_admin_emails(tenant.schema_name)
    except Exception:  # the schema is gone: nobody to write to
        log.exception("billing: no tenant admins for %s", tenant.slug)
        return 0
    if not recipients and tenant.admin_email:
        recipients = [tenant.admin_email]
    with translation.override(tenant.language):
        subject, body = _email_texts(kind, sub, tenant)
    send_mail(subject, body, None, recipients, fail_silently=True)
    return len(recipients)


# -- applying Stripe's state -------------------------------------------------------------------
def _stripe_view(data: dict) -> dict:
    """What we keep of a Stripe subscription (API version clover: the period is on the item)."""
    items = ((data.get("items") or {}).get("data") or [])
    item = items[0] if items else {}
    price = item.get("price") or data.get("plan") or {}
    price_id = _id_of(price)
    plan_interval = plan_for_price(price_id)
    recurring = (price.get("recurring") or {}) if isinstance(price, dict) else {}
    interval = plan_interval[1] if plan_interval else recurring.get("interval") or ""
    return {
        "stripe_subscription_id": data.get("id") or "",
        "stripe_customer_id": _id_of(data.get("customer")),
        "stripe_status": data.get("status") or "",
        "plan_code": plan_interval[0] if plan_interval else None,
        "interval": interval if interval in Interval.values else None,
        "current_period_start": _ts(item.get("current_period_start") or data.get("current_period_start")),
        "current_period_end": _ts(item.get("current_period_end") or data.get("current_period_end")),
        "cancel_at_period_end": bool(data.get("cancel_at_period_end")),
        "trial_end": _ts(data.get("trial_end")),
        "ended_at": _ts(data.get("ended_at") or data.get("canceled_at")),
        "tenant_id": (data.get("metadata") or {}).get("tenant_id"),
    }


def _status_from_stripe(stripe_status: str, local: str) -> str | None:
    if stripe_status == "trialing":
        return BillingStatus.TRIALING
    if stripe_status == "active":
        return BillingStatus.ACTIVE
    if stripe_status in ("past_due", "unpaid"):
        return None if local == BillingStatus.SUSPENDED else BillingStatus.PAST_DUE
    if stripe_status == "canceled":
        return None if local == BillingStatus.CLOSED else BillingStatus.CANCELLED
    return None  # incomplete, incomplete_expired, paused: nothing to do locally


def _subscription_find(view: dict) -> Subscription | None:
    sub = subscription_for_stripe(subscription_id=view["stripe_subscription_id"],
                                  customer_id=view["stripe_customer_id"])
    if sub is None and str(view.get("tenant_id") or "").isdigit():
        sub = Subscription.objects.filter(tenant_id=int(view["tenant_id"]),
                                          stripe_customer_id__in=["", view["stripe_customer_id"]]).first()
    return sub


def _plan_set(sub: Subscription, plan: Plan, interval: str, *, actor: str, **detail) -> bool:
    """Locked ``sub``: record a plan change and keep Tenant.plan_code equal to it."""
    if sub.plan_id == plan.pk and sub.interval == interval:
        return False
    before, before_interval = sub.plan.code, sub.interval
    sub.plan, sub.interval = plan, interval
    sub.save(update_fields=["plan", "interval", "updated_at"])
    tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.PLAN_CHANGED, actor=actor,
                        from_plan=before, to_plan=plan.code, from_interval=before_interval,
                        to_interval=interval, **detail)
    tenant_plan_code_set(tenant_id=sub.tenant_id, plan_code=plan.code)
    tenant_id = sub.tenant_id
    transaction.on_commit(lambda: _entitlements_forget(tenant_id))
    return True


@transaction.atomic
def _subscription_apply(data: dict, *, fetched_at: datetime, actor: str = STRIPE_ACTOR) -> Subscription | None:
    """Apply a Stripe subscription as read at ``fetched_at``; an older read changes nothing."""
    view = _stripe_view(data)
    found = _subscription_find(view)
    if found is None:
        return None
    sub = _lock(found.pk)
    if sub.stripe_subscription_id and sub.stripe_subscription_id != view["stripe_subscription_id"]:
        if view["stripe_status"] in ("canceled", "incomplete_expired", "incomplete"):
            return sub  # an old or abandoned subscription of the same customer
        if _has_live_stripe_subscription(sub) and sub.status not in (BillingStatus.CANCELLED, BillingStatus.CLOSED):
            # a second live subscription (two Checkout tabs both paid): never flip between them;
            # the event is flagged for an operator to refund one
            log.warning("billing: tenant %s has a second live Stripe subscription %s (keeps %s)",
                        sub.tenant_id, view["stripe_subscription_id"], sub.stripe_subscription_id)
            return None
        log.info("billing: tenant %s moves to Stripe subscription %s", sub.tenant_id,
                 view["stripe_subscription_id"])
    if sub.stripe_synced_at and fetched_at <= sub.stripe_synced_at:
        return sub
    sub.stripe_subscription_id = view["stripe_subscription_id"]
    sub.stripe_customer_id = sub.stripe_customer_id or view["stripe_customer_id"]
    sub.stripe_status = view["stripe_status"]
    sub.current_period_start = view["current_period_start"]
    sub.current_period_end = view["current_period_end"]
    sub.cancel_at_period_end = view["cancel_at_period_end"]
    if view["trial_end"]:
        sub.trial_ends_at = view["trial_end"]
    sub.stripe_synced_at = fetched_at
    sub.save(update_fields=["stripe_subscription_id", "stripe_customer_id", "stripe_status",
                            "current_period_start", "current_period_end", "cancel_at_period_end",
                            "trial_ends_at", "stripe_synced_at", "updated_at"])
    if view["plan_code"]:
        plan = Plan.objects.filter(code=view["plan_code"]).first()
        if plan is not None:
            _plan_set(sub, plan, view["interval"] or sub.interval, actor=actor, source="stripe")
    target = _status_from_stripe(view["stripe_status"], sub.status)
    if target:
        _move(sub, target, actor=actor, cancelled_at=view["ended_at"], stripe_status=view["stripe_status"])
    return sub


def _subscription_sync(subscription_id: str, *, actor: str = STRIPE_ACTOR) -> Subscription | None:
    fetched_at = timezone.now()
    data = stripe_client.subscription_retrieve(subscription_id)
    return _subscription_apply(data, fetched_at=fetched_at, actor=actor)


def _minor(amount) -> Decimal:
    return (Decimal(int(amount or 0)) / 100).quantize(Decimal("0.01"))


def _invoice_subscription_id(data: dict) -> str:
    parent = data.get("parent") or {}
    details = parent.get("subscription_details") or {}
    return _id_of(details.get("subscription")) or _id_of(data.get("subscription"))


@transaction.atomic
def _invoice_apply(data: dict, *, tenant_id: int, fetched_at: datetime) -> Invoice:
    invoice = Invoice.objects.select_for_update().filter(stripe_invoice_id=data["id"]).first()
    if invoice is not None and invoice.stripe_synced_at and fetched_at <= invoice.stripe_synced_at:
        return invoice
    values = {
        "tenant_id": tenant_id, "number": data.get("number") or "", "status": data.get("status") or "",
        "currency": (data.get("currency") or "cny").upper()[:3],
        "amount_due": _minor(data.get("amount_due")), "amount_paid": _minor(data.get("amount_paid")),
        "hosted_invoice_url": data.get("hosted_invoice_url") or "", "invoice_pdf": data.get("invoice_pdf") or "",
        "period_start": _ts(data.get("period_start")), "period_end": _ts(data.get("period_end")),
        "created": _ts(data.get("created")) or fetched_at, "stripe_synced_at": fetched_at,
    }
    if invoice is None:
        try:
            with transaction.atomic():
                return Invoice.objects.create(stripe_invoice_id=data["id"], **values)
        except IntegrityError:
            invoice = Invoice.objects.select_for_update().get(stripe_invoice_id=data["id"])
            if invoice.stripe_synced_at and fetched_at <= invoice.stripe_synced_at:
                return invoice
    for field, value in values.items():
        setattr(invoice, field, value)
    invoice.save()
    return invoice


# -- Checkout, the portal, plan changes ---------------------------------------------------------
def _customer_ensure(sub: Subscription, tenant: Tenant) -> str:
    if sub.stripe_customer_id:
        return sub.stripe_customer_id
    customer = stripe_client.customer_create(tenant_id=tenant.pk, name=tenant.name,
                                             email=tenant.admin_email, slug=tenant.slug)
    with transaction.atomic():
        locked = _lock(sub.pk)
        if not locked.stripe_customer_id:
            locked.stripe_customer_id = customer["id"]
            locked.save(update_fields=["stripe_customer_id", "updated_at"])
        sub.stripe_customer_id = locked.stripe_customer_id
    return sub.stripe_customer_id


def _price_for(plan: Plan, interval: str) -> str:
    if interval not in Interval.values:
        raise ValidationError({"interval": _("请选择按月或按年付费。")})
    if plan.is_trial or not plan.is_active:
        raise ValidationError({"plan": _("“%(plan)s”不是可付费的套餐。") % {"plan": plan.display_name}})
    price = plan.stripe_price_id(interval)
    if not price:
        raise BillingError(_("“%(plan)s”（%(interval)s）暂不支持在线支付，请联系平台客服。") % {
            "plan": plan.display_name, "interval": Interval(interval).label}, code="no_price", status=400)
    return price


def _has_live_stripe_subscription(sub: Subscription) -> bool:
    return bool(sub.stripe_subscription_id) and sub.stripe_status not in ("", "canceled", "incomplete_expired")


def checkout_session_create(*, tenant, plan: Plan, interval: str, success_url: str, cancel_url: str) -> str:
    """A Stripe Checkout session for ``plan``; returns the URL to send the browser to. The
    tenant's Stripe customer is created first if needed."""
    price = _price_for(plan, interval)
    tenant = _tenant(tenant.pk)
    if tenant.status == TenantStatus.CLOSED:
        raise ValidationError({"tenant": _("空间已关闭，不能再订阅。")})
    sub = subscription_for(tenant)
    if _has_live_stripe_subscription(sub) and sub.status != BillingStatus.CANCELLED:
        raise BillingError(_("已有付费订阅，请在账单页更改套餐。"), code="already_subscribed", status=409)
    customer_id = _customer_ensure(sub, tenant)
    digest = hashlib.sha256(f"{price}|{success_url}|{cancel_url}|{sub.stripe_subscription_id}".encode()).hexdigest()
    session = stripe_client.checkout_session_create(
        tenant_id=tenant.pk, customer_id=customer_id, price_id=price, success_url=success_url,
        cancel_url=cancel_url, plan_code=plan.code, interval=interval,
        idempotency_key=f"tenant-{tenant.pk}-checkout-{plan.code}-{interval}-{digest[:16]}")
    if not session.get("url"):
        raise BillingError(_("支付服务没有返回付款页面，请稍后再试。"), code="stripe_error", status=503)
    return session["url"]


def _checkout_apply(session: dict, *, actor: str = STRIPE_ACTOR) -> Tenant | None:
    ref = str(session.get("client_reference_id") or (session.get("metadata") or {}).get("tenant_id") or "")
    tenant = Tenant.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
    if tenant is None:
        return None
    if session.get("status") != "complete" or session.get("mode", "subscription") != "subscription":
        return tenant
    subscription_id = _id_of(session.get("subscription"))
    if tenant.status == TenantStatus.CLOSED:
        # paid after the sign-up was closed (or the tenant was closed): nothing to serve, so the
        # subscription Checkout made is ended at once and the event flagged for a refund
        if subscription_id:
            stripe_client.subscription_cancel_now(subscription_id,
                                                  idempotency_key=f"sub-{subscription_id}-end-closed-tenant")
        log.warning("billing: checkout completed for closed tenant %s; subscription %s ended",
                    tenant.pk, subscription_id)
        return None
    sub = subscription_for(tenant)
    customer_id = _id_of(session.get("customer"))
    with transaction.atomic():
        locked = _lock(sub.pk)
        if customer_id and locked.stripe_customer_id != customer_id:
            if locked.stripe_customer_id:
                log.warning("billing: tenant %s pays as %s, had %s", tenant.pk, customer_id,
                            locked.stripe_customer_id)
            locked.stripe_customer_id = customer_id
            locked.save(update_fields=["stripe_customer_id", "updated_at"])
    if subscription_id:
        _subscription_sync(subscription_id, actor=actor)
    if (tenant.status == TenantStatus.AWAITING_PAYMENT
            and session.get("payment_status") in ("paid", "no_payment_required")):
        from tenants.services import tenant_provision_start

        tenant_provision_start(tenant_id=tenant.pk, actor=actor)
    return _tenant(tenant.pk)


def checkout_session_sync(*, session_id: str, tenant_id: int) -> Subscription | None:
    """The success redirect of Checkout: re-read the session from Stripe and apply it as the
    webhook would (idempotent; whichever comes first does the work). Only a session of
    ``tenant_id`` is applied (the id comes from the browser); returns the tenant's subscription
    when the session is complete, else None (unknown, another tenant's, not paid yet)."""
    if not session_id or not session_id.startswith("cs_") or len(session_id) > 255:
        return None
    try:
        session = stripe_client.checkout_session_retrieve(session_id)
    except BillingError as exc:
        if exc.code == "stripe_not_found":
            return None
        raise
    ref = str(session.get("client_reference_id") or (session.get("metadata") or {}).get("tenant_id") or "")
    if ref != str(tenant_id):
        log.warning("billing: checkout session %s is not tenant %s's", session_id, tenant_id)
        return None
    if session.get("status") != "complete":
        return None
    if _checkout_apply(session, actor=STRIPE_ACTOR) is None:
        return None
    return Subscription.objects.select_related("plan").filter(tenant_id=tenant_id).first()


def billing_portal_url(*, tenant, return_url: str) -> str:
    sub = subscription_for(tenant)
    if not sub.stripe_customer_id:
        raise BillingError(_("尚未在线付款过，没有可管理的付款信息。请先选择套餐。"), code="no_customer", status=409)
    session = stripe_client.billing_portal_session_create(customer_id=sub.stripe_customer_id,
                                                          return_url=return_url)
    if not session.get("url"):
        raise BillingError(_("支付服务没有返回账单管理页面，请稍后再试。"), code="stripe_error", status=503)
    return session["url"]


def _version(tenant_id: int, kind: str, operation: str = "") -> int:
    """The version in an idempotency key: one more than the changes of this kind recorded,
    and the definite refusals of this operation (a declined card), so that a retry after a
    network error replays the same request while a retry after fixing the card is a new one
    (Stripe would otherwise answer the stored refusal again for 24 hours)."""
    from tenants.models import TenantEvent

    events = TenantEvent.objects.filter(tenant_id=tenant_id)
    done = events.filter(kind=kind).count()
    refused = events.filter(kind=TenantEventKind.PAYMENT_FAILED, detail__operation=operation).count() if operation else 0
    return done + refused + 1


def _state_stamp(sub: Subscription) -> str:
    """The state of ``sub`` an idempotency key is derived from: it changes with every change
    of the row (ours, or Stripe's applied from a webhook, e.g. a cancel in the billing portal),
    so a new request after any change is new to Stripe, while a retry of the same request
    (nothing changed meanwhile) is the same one."""
    return f"s{int(sub.updated_at.timestamp() * 1_000_000)}"


def _refusal_recorded(sub: Subscription, exc: BillingError, *, operation: str, actor: str, **detail) -> None:
    """Record a definite refusal by Stripe (4xx, not a network or server error, which is
    retried with the same key) of an operation on the subscription."""
    if exc.status < 500:
        tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.PAYMENT_FAILED, actor=actor,
                            operation=operation, code=exc.code, message=str(exc.message)[:500], **detail)


def plan_change(*, tenant, plan: Plan, interval: str, actor: str, grant: bool = True) -> Subscription:
    """Move the tenant to ``plan``. With a Stripe subscription: Stripe updates it with
    proration; without one (trial, complimentary): recorded here only, as a free grant, which
    only operators make (``grant=False`` for the tenant's own admin: they pay via Checkout)."""
    if interval not in Interval.values:
        raise ValidationError({"interval": _("请选择按月或按年付费。")})
    if plan.is_trial or not plan.is_active:
        raise ValidationError({"plan": _("不能切换到“%(plan)s”。") % {"plan": plan.display_name}})
    sub = subscription_for(tenant)
    if sub.status == BillingStatus.CLOSED:
        raise ValidationError({"plan": _("空间已关闭，不能更改套餐。")})
    if sub.stripe_subscription_id and (not _has_live_stripe_subscription(sub)
                                       or sub.status == BillingStatus.CANCELLED):
        # the paid subscription has ended: a new one goes through Checkout, not a free switch
        raise ValidationError({"plan": _("订阅已结束，请重新选择套餐并付款。")})
    if _has_live_stripe_subscription(sub):
        if sub.plan_id == plan.pk and sub.interval == interval:
            return sub
        price = _price_for(plan, interval)
        current = stripe_client.subscription_retrieve(sub.stripe_subscription_id)
        items = ((current.get("items") or {}).get("data") or [])
        if not items:
            raise BillingError(_("支付服务中的订阅没有可更改的项目，请联系平台客服。"), code="stripe_error", status=409)
        version = _version(sub.tenant_id, TenantEventKind.PLAN_CHANGED, "plan_change")
        fetched_at = timezone.now()
        try:
            data = stripe_client.subscription_update(sub.stripe_subscription_id, params={
                "items": [{"id": items[0]["id"], "price": price}],
                "proration_behavior": "create_prorations",
                "metadata": {"tenant_id": str(sub.tenant_id), "plan": plan.code, "interval": interval},
            }, idempotency_key=f"sub-{sub.pk}-plan-{plan.code}-{interval}-v{version}")
        except BillingError as exc:
            _refusal_recorded(sub, exc, operation="plan_change", actor=actor, plan=plan.code, interval=interval)
            raise
        return _subscription_apply(data, fetched_at=fetched_at, actor=actor) or sub
    if not grant:
        raise BillingError(_("当前没有付费订阅，请先选择付费套餐并完成付款。"), code="no_subscription", status=409)
    with transaction.atomic():
        sub = _lock(sub.pk)
        _plan_set(sub, plan, interval, actor=actor, source="local")
        if sub.status == BillingStatus.TRIALING:
            _move(sub, BillingStatus.ACTIVE, actor=actor, reason="plan granted", complimentary=True)
        elif sub.status in (BillingStatus.PAST_DUE, BillingStatus.SUSPENDED) and not sub.stripe_subscription_id:
            _move(sub, BillingStatus.ACTIVE, actor=actor, reason="plan granted", complimentary=True)
    return sub


def subscription_cancel(*, tenant, actor: str) -> Subscription:
    """Cancel at the end of the paid period (a trial or complimentary plan: at the end of the
    trial, or now if there is no period). Idempotent."""
    sub = subscription_for(tenant)
    if sub.status in (BillingStatus.CANCELLED, BillingStatus.CLOSED) or sub.cancel_at_period_end:
        return sub
    if _has_live_stripe_subscription(sub):
        fetched_at = timezone.now()
        data = stripe_client.subscription_update(
            sub.stripe_subscription_id, params={"cancel_at_period_end": True},
            idempotency_key=f"sub-{sub.pk}-cancel-{_state_stamp(sub)}")
        sub = _subscription_apply(data, fetched_at=fetched_at, actor=actor) or sub
        tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.SUBSCRIPTION_CANCELLED, actor=actor,
                            at_period_end=True, period_end=sub.current_period_end.isoformat()
                            if sub.current_period_end else None)
        return sub
    with transaction.atomic():
        sub = _lock(sub.pk)
        end = sub.trial_ends_at if sub.status == BillingStatus.TRIALING else sub.current_period_end
        tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.SUBSCRIPTION_CANCELLED, actor=actor,
                            at_period_end=bool(end and end > timezone.now()),
                            period_end=end.isoformat() if end else None)
        if end and end > timezone.now():
            sub.cancel_at_period_end = True
            sub.save(update_fields=["cancel_at_period_end", "updated_at"])
        else:
            _move(sub, BillingStatus.CANCELLED, actor=actor, reason="cancelled")
    return sub


def subscription_cancel_undo(*, tenant, actor: str) -> Subscription:
    sub = subscription_for(tenant)
    if sub.status in (BillingStatus.CANCELLED, BillingStatus.CLOSED):
        raise ValidationError({"subscription": _("订阅已经结束，请重新选择套餐。")})
    if not sub.cancel_at_period_end:
        return sub
    if _has_live_stripe_subscription(sub):
        fetched_at = timezone.now()
        data = stripe_client.subscription_update(
            sub.stripe_subscription_id, params={"cancel_at_period_end": False},
            idempotency_key=f"sub-{sub.pk}-uncancel-{_state_stamp(sub)}")
        sub = _subscription_apply(data, fetched_at=fetched_at, actor=actor) or sub
    else:
        with transaction.atomic():
            sub = _lock(sub.pk)
            sub.cancel_at_period_end = False
            sub.save(update_fields=["cancel_at_period_end", "updated_at"])
    tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.BILLING_STATUS_CHANGED, actor=actor,
                        from_status=sub.status, to_status=sub.status, reason="cancellation undone")
    return sub


def trial_extend(*, tenant, days: int, actor: str) -> Subscription:
    """Give a trial ``days`` more (from its end, or from now if it has ended); a trial that had
    run out (past due or suspended) is live again."""
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= MAX_TRIAL_EXTENSION_DAYS:
        raise ValidationError({"days": _("延长天数须在 1 到 %(max)s 天之间。") % {"max": MAX_TRIAL_EXTENSION_DAYS}})
    sub = subscription_for(tenant)
    with transaction.atomic():
        sub = _lock(sub.pk)
        if _has_live_stripe_subscription(sub) and sub.status != BillingStatus.CANCELLED:
            raise ValidationError({"days": _("已是付费订阅，不能延长试用。")})
        if sub.status == BillingStatus.CLOSED:
            raise ValidationError({"days": _("空间已关闭，不能延长试用。")})
        if not sub.plan.is_trial and sub.status == BillingStatus.ACTIVE:
            raise ValidationError({"days": _("当前是“%(plan)s”，不在试用期。") % {"plan": sub.plan.display_name}})
        now = timezone.now()
        before = sub.trial_ends_at
        sub.trial_ends_at = max(sub.trial_ends_at or now, now) + timedelta(days=days)
        sub.trial_reminded_at = None  # the new end gets its own reminder
        sub.save(update_fields=["trial_ends_at", "trial_reminded_at", "updated_at"])
        tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.TRIAL_EXTENDED, actor=actor, days=days,
                            from_date=before.isoformat() if before else None, to_date=sub.trial_ends_at.isoformat())
        if sub.status != BillingStatus.TRIALING:
            _move(sub, BillingStatus.TRIALING, actor=actor, reason="trial extended")
    return sub


# -- webhook events ----------------------------------------------------------------------------
def stripe_event_record(*, data: dict) -> tuple[StripeEvent, bool]:
    """Store a verified event under its id; (event, created). A duplicate stores nothing."""
    obj = (data.get("data") or {}).get("object") or {}
    customer = obj.get("id") if obj.get("object") == "customer" else _id_of(obj.get("customer"))
    defaults = {
        "type": str(data.get("type"))[:100], "api_version": str(data.get("api_version") or "")[:32],
        "livemode": bool(data.get("livemode")), "created": _ts(data.get("created")) or timezone.now(),
        "object_id": str(obj.get("id") or "")[:255], "customer_id": str(customer or "")[:255], "payload": data,
    }
    try:
        with transaction.atomic():
            return StripeEvent.objects.get_or_create(event_id=str(data["id"])[:255], defaults=defaults)
    except IntegrityError:  # a concurrent duplicate won the insert
        return StripeEvent.objects.get(event_id=str(data["id"])[:255]), False


def _on_checkout_completed(obj: dict) -> Tenant | None:
    session = stripe_client.checkout_session_retrieve(obj["id"])
    return _checkout_apply(session)


def _on_subscription(obj: dict) -> Tenant | None:
    if _subscription_find(_stripe_view(obj)) is None:
        return None
    sub = _subscription_sync(obj["id"])
    return _tenant(sub.tenant_id) if sub else None


def _on_invoice(obj: dict, *, paid: bool) -> Tenant | None:
    customer_id = _id_of(obj.get("customer"))
    subscription_id = _invoice_subscription_id(obj)
    sub = subscription_for_stripe(subscription_id=subscription_id, customer_id=customer_id)
    if sub is None:
        return None
    fetched_at = timezone.now()
    data = stripe_client.invoice_retrieve(obj["id"])
    invoice = _invoice_apply(data, tenant_id=sub.tenant_id, fetched_at=fetched_at)
    tenant_event_record(tenant_id=sub.tenant_id,
                        kind=TenantEventKind.PAYMENT_SUCCEEDED if paid else TenantEventKind.PAYMENT_FAILED,
                        actor=STRIPE_ACTOR, invoice=invoice.stripe_invoice_id, number=invoice.number,
                        amount=str(invoice.amount_paid if paid else invoice.amount_due), currency=invoice.currency)
    subscription_id = _invoice_subscription_id(data) or subscription_id
    if subscription_id:
        sub = _subscription_sync(subscription_id) or sub
    if not paid:
        sub_pk = sub.pk
        transaction.on_commit(lambda: _email_admins(sub_pk, "payment_failed"))
    return _tenant(sub.tenant_id)


HANDLERS = {
    "checkout.session.completed": _on_checkout_completed,
    # a delayed payment method (bank transfer): paid later, then provisioned like the above
    "checkout.session.async_payment_succeeded": _on_checkout_completed,
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "invoice.paid": lambda obj: _on_invoice(obj, paid=True),
    "invoice.payment_failed": lambda obj: _on_invoice(obj, paid=False),
}
DONE = (StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED, StripeEventStatus.FLAGGED)


def stripe_event_process(*, event_pk: int) -> StripeEvent:
    """Process one stored event, once: the row is locked, and an event already done is left
    alone. Stripe unreachable: the event is FAILED (the task retries it)."""
    with transaction.atomic():
        event = StripeEvent.objects.select_for_update().get(pk=event_pk)
        if event.status in DONE:
            return event
        event.attempts += 1
        handler = HANDLERS.get(event.type)
        obj = (event.payload.get("data") or {}).get("object") or {}
        if handler is None:
            event.status, event.error = StripeEventStatus.IGNORED, ""
        else:
            try:
                with transaction.atomic():
                    tenant = handler(obj)
            except BillingError as exc:
                event.status, event.error = StripeEventStatus.FAILED, f"{exc.code}: {exc.message}"
            except Exception as exc:  # a bug must not lose the event: kept as failed, with the error
                log.exception("billing: event %s failed", event.event_id)
                event.status, event.error = StripeEventStatus.FAILED, f"{type(exc).__name__}: {exc}"[:4000]
            else:
                if tenant is None:
                    event.status = StripeEventStatus.FLAGGED
                    event.error = _("未知的 Stripe 客户或订阅，或该租户已有另一份有效订阅：%(id)s") % {
                        "id": event.customer_id or event.object_id}
                else:
                    event.status, event.error, event.tenant_id = StripeEventStatus.PROCESSED, "", tenant.pk
        if event.status != StripeEventStatus.FAILED:
            event.processed_at = timezone.now()
        event.save(update_fields=["status", "error", "tenant", "attempts", "processed_at"])
        return event


# -- dunning -------------------------------------------------------------------------------------
def dunning_run(*, now: datetime | None = None) -> dict[str, int]:
    """The time-based moves: trials that ended, past due beyond the grace period, cancellations
    at the end of a period we manage ourselves, retention periods that ran out."""
    now = now or timezone.now()
    grace = timedelta(days=settings.BILLING_GRACE_DAYS)
    counts = {"past_due": 0, "suspended": 0, "cancelled": 0, "closed": 0}
    for pk in list(subscriptions_due_for_dunning(now).values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                sub = _lock(pk)
                local = not _has_live_stripe_subscription(sub)
                if sub.status in (BillingStatus.TRIALING, BillingStatus.ACTIVE) and local and sub.cancel_at_period_end:
                    end = sub.trial_ends_at if sub.status == BillingStatus.TRIALING else sub.current_period_end
                    if end is None or end <= now:
                        if _move(sub, BillingStatus.CANCELLED, actor="system", now=now, cancelled_at=end or now,
                                 reason="period ended"):
                            counts["cancelled"] += 1
                elif sub.status == BillingStatus.TRIALING and local and sub.trial_ends_at and sub.trial_ends_at <= now:
                    if _move(sub, BillingStatus.PAST_DUE, actor="system", now=now, reason="trial ended",
                             notify="trial_ended"):
                        counts["past_due"] += 1
                elif (sub.status == BillingStatus.PAST_DUE and sub.past_due_since
                      and sub.past_due_since + grace <= now):
                    if _move(sub, BillingStatus.SUSPENDED, actor="system", now=now, reason="grace period over"):
                        counts["suspended"] += 1
                elif sub.status == BillingStatus.CANCELLED and sub.closes_at and sub.closes_at <= now:
                    if _move(sub, BillingStatus.CLOSED, actor="system", now=now, reason="retention over"):
                        counts["closed"] += 1
        except Exception:
            log.exception("billing: dunning of subscription %s failed", pk)
    counts["trial_reminders"] = trial_reminders_send(now=now)
    counts["events_requeued"] = stripe_events_requeue(now=now)
    from tenants.services import tenant_signups_abandoned_close

    counts["unpaid_signups_closed"] = tenant_signups_abandoned_close(now=now)
    return counts


EVENT_STALE_MINUTES = 10  # a stored event not processed by then lost its task (a broker outage)
EVENT_MAX_ATTEMPTS = 20


def stripe_events_requeue(*, now: datetime) -> int:
    """Queue again the events stored more than EVENT_STALE_MINUTES ago and still not done:
    received but never processed (the task was lost), or failed and out of task retries
    (Stripe was down for long). Processing is idempotent, so a duplicate task is harmless."""
    from .tasks import stripe_event_process_task

    stale = (StripeEvent.objects.filter(status__in=[StripeEventStatus.RECEIVED, StripeEventStatus.FAILED],
                                        received_at__lt=now - timedelta(minutes=EVENT_STALE_MINUTES),
                                        attempts__lt=EVENT_MAX_ATTEMPTS)
             .order_by("received_at").values_list("pk", flat=True)[:500])
    pks = list(stale)
    for pk in pks:
        transaction.on_commit(lambda pk=pk: stripe_event_process_task.delay(pk))
    return len(pks)


def trial_reminders_send(*, now: datetime) -> int:
    """Tell the admins of each trial that ends within TRIAL_NOTICE_DAYS (and is not already
    cancelled or paid through Stripe) once per trial end; recorded as a tenant event."""
    from .selectors import trials_ending

    sent = 0
    for pk in list(trials_ending(now, now + timedelta(days=TRIAL_NOTICE_DAYS)).values_list("pk", flat=True)):
        with transaction.atomic():
            sub = _lock(pk)
            if (sub.status != BillingStatus.TRIALING or sub.trial_reminded_at is not None or sub.cancel_at_period_end
                    or _has_live_stripe_subscription(sub) or not sub.trial_ends_at or sub.trial_ends_at <= now):
                continue
            sub.trial_reminded_at = now
            sub.save(update_fields=["trial_reminded_at", "updated_at"])
            tenant_event_record(tenant_id=sub.tenant_id, kind=TenantEventKind.BILLING_NOTICE, actor="system",
                                notice="trial_ending", trial_ends_at=sub.trial_ends_at.isoformat())
            transaction.on_commit(lambda pk=pk: _email_admins(pk, "trial_ending"))
            sent += 1
    return sent


# -- reconcile -----------------------------------------------------------------------------------
def _drift(sub: Subscription, view: dict) -> dict:
    wanted = {
        "stripe_status": view["stripe_status"],
        "cancel_at_period_end": view["cancel_at_period_end"],
        "current_period_end": view["current_period_end"],
    }
    if view["plan_code"]:
        wanted["plan"] = view["plan_code"]
    if view["interval"]:
        wanted["interval"] = view["interval"]
    target = _status_from_stripe(view["stripe_status"], sub.status)
    if target and target in ALLOWED_TRANSITIONS.get(sub.status, set()):
        wanted["status"] = target
    have = {"stripe_status": sub.stripe_status, "cancel_at_period_end": sub.cancel_at_period_end,
            "current_period_end": sub.current_period_end, "plan": sub.plan.code, "interval": sub.interval,
            "status": sub.status}
    return {k: (have[k], v) for k, v in wanted.items() if have[k] != v}


def subscriptions_reconcile(*, dry_run: bool = False) -> list[tuple[Subscription, dict | str]]:
    """Re-read every subscription that has a Stripe id and fix what drifted. Returns
    (subscription, {field: (ours, Stripe's)}) for each one that differed, or an error text."""
    from .selectors import subscriptions_with_stripe

    report = []
    for sub in subscriptions_with_stripe():
        fetched_at = timezone.now()
        try:
            data = stripe_client.subscription_retrieve(sub.stripe_subscription_id)
        except BillingError as exc:
            report.append((sub, str(exc.message)))
            continue
        drift = _drift(sub, _stripe_view(data))
        if not drift:
            continue
        report.append((sub, drift))
        if not dry_run:
            _subscription_apply(data, fetched_at=fetched_at, actor="reconcile")
    return report
