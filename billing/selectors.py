"""Read-side queries over plans, subscriptions, invoices and Stripe events (public schema)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from .enums import BillingStatus
from .models import Invoice, Plan, StripeEvent, Subscription


def plan_list(*, public: bool = False, paid: bool = False) -> list[Plan]:
    """The plans on sale, in their display order; ``public``: only those on the pricing page;
    ``paid``: not the trial."""
    qs = Plan.objects.filter(is_active=True)
    if public:
        qs = qs.filter(is_public=True)
    if paid:
        qs = qs.filter(is_trial=False)
    return list(qs.order_by("sort_order", "code"))


def plan_get(code: str, *, public: bool = False) -> Plan | None:
    if not code or len(code) > 32:
        return None
    qs = Plan.objects.filter(code=code, is_active=True)
    return (qs.filter(is_public=True) if public else qs).first()


def plan_for_price(price_id: str) -> tuple[str, str] | None:
    """(plan code, interval) of a Stripe price id, from settings.STRIPE_PRICE_IDS."""
    if not price_id:
        return None
    for key, value in settings.STRIPE_PRICE_IDS.items():
        if value and value == price_id:
            code, _sep, interval = key.rpartition("_")
            return code, interval
    return None


def subscription_get(tenant_id: int) -> Subscription | None:
    return Subscription.objects.select_related("plan").filter(tenant_id=tenant_id).first()


def subscription_for_stripe(*, subscription_id: str = "", customer_id: str = "") -> Subscription | None:
    if subscription_id:
        found = Subscription.objects.filter(stripe_subscription_id=subscription_id).first()
        if found is not None:
            return found
    if customer_id:
        return Subscription.objects.filter(stripe_customer_id=customer_id).first()
    return None


def subscriptions_with_stripe() -> QuerySet[Subscription]:
    return (Subscription.objects.exclude(stripe_subscription_id="")
            .select_related("tenant", "plan").order_by("pk"))


def subscriptions_due_for_dunning(now: datetime) -> QuerySet[Subscription]:
    """Candidates for a time-based move (the service decides, row by row, under a lock)."""
    from django.db.models import Q

    return Subscription.objects.filter(
        Q(status=BillingStatus.TRIALING, trial_ends_at__lte=now)
        | Q(status=BillingStatus.PAST_DUE)
        | Q(status=BillingStatus.CANCELLED, closes_at__lte=now)
        | Q(status__in=[BillingStatus.TRIALING, BillingStatus.ACTIVE], cancel_at_period_end=True,
            stripe_subscription_id="")
    ).order_by("pk")


def billing_actions_for(sub: Subscription) -> dict[str, bool]:
    """What the tenant admin may do on the billing page: pay through Checkout whenever there is
    no live Stripe subscription (a trial, a complimentary plan, or after cancelling, during the
    retention period: resubscribing), change the plan of a live one, cancel or undo."""
    from .services import _has_live_stripe_subscription

    open_ = sub.status != BillingStatus.CLOSED
    paying = _has_live_stripe_subscription(sub) and sub.status != BillingStatus.CANCELLED
    live = sub.status not in (BillingStatus.CANCELLED, BillingStatus.CLOSED)
    return {
        "can_checkout": open_ and not paying,
        "can_change_plan": paying,
        "can_cancel": live and not sub.cancel_at_period_end and sub.status != BillingStatus.INCOMPLETE,
        "can_undo_cancel": live and sub.cancel_at_period_end,
    }


def trials_ending(start: datetime, end: datetime) -> QuerySet[Subscription]:
    """Trials ending between ``start`` and ``end`` whose admins were not told yet."""
    return Subscription.objects.filter(status=BillingStatus.TRIALING, trial_ends_at__gt=start,
                                       trial_ends_at__lte=end, trial_reminded_at__isnull=True).order_by("pk")


def invoice_list(tenant_id: int) -> QuerySet[Invoice]:
    return Invoice.objects.filter(tenant_id=tenant_id)


def stripe_event_list(*, tenant_id: int | None = None, status: str | None = None) -> QuerySet[StripeEvent]:
    qs = StripeEvent.objects.all()
    if tenant_id is not None:
        qs = qs.filter(tenant_id=tenant_id)
    if status:
        qs = qs.filter(status=status)
    return qs


def tenant_admin_emails(schema_name: str) -> list[str]:
    """The active tenant admins of a tenant (users holding the tenant_admin role there)."""
    from crm.org.enums import SystemRole
    from crm.org.models import User

    with schema_context(schema_name):
        return list(User.staff.filter(is_active=True, roles__code=SystemRole.TENANT_ADMIN)
                    .order_by("email").values_list("email", flat=True).distinct())


# -- what the tenant admins are told -------------------------------------------------------------
TRIAL_NOTICE_DAYS = 3  # the banner and the reminder email come this many days before a trial ends


def local_day(value: datetime | None) -> str:
    """The Asia/Shanghai (current time zone) day of ``value``, ISO, for messages."""
    return timezone.localtime(value).date().isoformat() if value else ""


def billing_banner_text(subscription, *, now=None) -> str | None:
    """What a tenant admin must know about billing: the trial ends within 3 days, a payment
    is overdue (and when the space will be suspended), the subscription was cancelled (and
    until when the data is kept), or will end at the end of the period."""
    if subscription is None:
        return None
    now = now or timezone.now()
    status = subscription.status
    if status == BillingStatus.TRIALING and subscription.trial_ends_at and not subscription.stripe_subscription_id:
        if subscription.trial_ends_at - now <= timedelta(days=TRIAL_NOTICE_DAYS):
            if subscription.cancel_at_period_end:
                return _("试用将于 %(date)s 结束，届时空间将转为只读。") % {"date": local_day(subscription.trial_ends_at)}
            return _("试用将于 %(date)s 结束，请选择套餐以继续使用。") % {"date": local_day(subscription.trial_ends_at)}
    if status == BillingStatus.PAST_DUE:
        since = subscription.past_due_since or now
        return _("付款逾期：请在 %(date)s 前完成付款，否则空间将暂停为只读。") % {
            "date": local_day(since + timedelta(days=settings.BILLING_GRACE_DAYS))}
    if status == BillingStatus.CANCELLED and subscription.closes_at:
        return _("订阅已取消，数据保留至 %(date)s，期间可导出全部数据或重新订阅。") % {
            "date": local_day(subscription.closes_at)}
    if status in (BillingStatus.ACTIVE, BillingStatus.TRIALING) and subscription.cancel_at_period_end:
        end = subscription.current_period_end or subscription.trial_ends_at
        if end:
            return _("订阅将于 %(date)s 结束，之后空间转为只读。可在账单页撤销取消。") % {"date": local_day(end)}
    return None
