from django.db import models
from django.utils.translation import gettext_lazy as _


class Interval(models.TextChoices):
    MONTH = "month", _("按月")
    YEAR = "year", _("按年")


class BillingStatus(models.TextChoices):
    INCOMPLETE = "incomplete", _("待支付")  # a paid sign-up before Checkout completes
    TRIALING = "trialing", _("试用中")
    ACTIVE = "active", _("正常")
    PAST_DUE = "past_due", _("逾期未付")
    SUSPENDED = "suspended", _("已暂停（欠费）")
    CANCELLED = "cancelled", _("已取消")
    CLOSED = "closed", _("已关闭")


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", _("已接收")
    PROCESSED = "processed", _("已处理")
    IGNORED = "ignored", _("已忽略")  # an event type we do not act on
    FLAGGED = "flagged", _("待核查")  # e.g. for a Stripe customer we do not know
    FAILED = "failed", _("处理失败")


# The single source of truth for the subscription's lifecycle moves (billing.services._move).
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    BillingStatus.INCOMPLETE: {BillingStatus.TRIALING, BillingStatus.ACTIVE, BillingStatus.PAST_DUE,
                               BillingStatus.CANCELLED, BillingStatus.CLOSED},
    BillingStatus.TRIALING: {BillingStatus.ACTIVE, BillingStatus.PAST_DUE, BillingStatus.CANCELLED},
    BillingStatus.ACTIVE: {BillingStatus.TRIALING, BillingStatus.PAST_DUE, BillingStatus.CANCELLED},
    BillingStatus.PAST_DUE: {BillingStatus.ACTIVE, BillingStatus.TRIALING, BillingStatus.SUSPENDED,
                             BillingStatus.CANCELLED},
    BillingStatus.SUSPENDED: {BillingStatus.ACTIVE, BillingStatus.TRIALING, BillingStatus.CANCELLED,
                              BillingStatus.CLOSED},
    BillingStatus.CANCELLED: {BillingStatus.ACTIVE, BillingStatus.TRIALING, BillingStatus.CLOSED},
    BillingStatus.CLOSED: set(),
}
