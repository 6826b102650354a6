from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from .enums import TenantStatus

TRIAL_WARNING_DAYS = 3


def _day(value) -> str:
    return timezone.localtime(value).date().isoformat()


def billing_banner_text(subscription, *, now=None) -> str | None:
    """What a tenant admin must know about billing: the trial ends within 3 days, a payment
    is overdue (and when the space will be suspended), the subscription was cancelled (and
    until when the data is kept), or will end at the end of the period."""
    from billing.enums import BillingStatus

    if subscription is None:
        return None
    now = now or timezone.now()
    status = subscription.status
    if status == BillingStatus.TRIALING and subscription.trial_ends_at and not subscription.stripe_subscription_id:
        if subscription.trial_ends_at - now <= timedelta(days=TRIAL_WARNING_DAYS):
            if subscription.cancel_at_period_end:
                return _("试用将于 %(date)s 结束，届时空间将转为只读。") % {"date": _day(subscription.trial_ends_at)}
            return _("试用将于 %(date)s 结束，请选择套餐以继续使用。") % {"date": _day(subscription.trial_ends_at)}
    if status == BillingStatus.PAST_DUE:
        since = subscription.past_due_since or now
        return _("付款逾期：请在 %(date)s 前完成付款，否则空间将暂停为只读。") % {
            "date": _day(since + timedelta(days=settings.BILLING_GRACE_DAYS))}
    if status == BillingStatus.CANCELLED and subscription.closes_at:
        return _("订阅已取消，数据保留至 %(date)s，期间可导出全部数据或重新订阅。") % {
            "date": _day(subscription.closes_at)}
    if status in (BillingStatus.ACTIVE, BillingStatus.TRIALING) and subscription.cancel_at_period_end:
        end = subscription.current_period_end or subscription.trial_ends_at
        if end:
            return _("订阅将于 %(date)s 结束，之后空间转为只读。可在账单页撤销取消。") % {"date": _day(end)}
    return None


def _billing_banner(request, current) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    from crm.org.permissions import is_tenant_admin

    if getattr(user, "is_partner_user", False) or not is_tenant_admin(user):
        return None
    from billing.selectors import subscription_get

    return billing_banner_text(subscription_get(current.pk))


def tenant(request):
    current = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    if current is None or getattr(current, "schema_name", "public") == "public":
        return {"tenant": None, "tenant_banner": None, "billing_banner": None}
    banner = None
    if current.status == TenantStatus.SUSPENDED:
        banner = _("本空间已暂停，目前只读：%(reason)s") % {
            "reason": current.status_reason or _("请联系管理员")}
    billing = _billing_banner(request, current) if request is not None else None
    return {"tenant": current, "tenant_banner": banner or billing, "billing_banner": billing}
