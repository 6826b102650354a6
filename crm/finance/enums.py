"""Statuses, kinds, the aging buckets and the list sorts of finance: data, so the services,
the API and the pages all read the same rules."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_REMINDER_INTERVAL_DAYS = 7
MAX_REMINDER_INTERVAL_DAYS = 90
# How far back an invoice or a payment may be dated (finance enters last year's paper late).
MAX_BACKDATE_DAYS = 3 * 366


class InvoiceStatus(models.TextChoices):
    """open: nothing received yet; partially_paid / paid: by the payments recorded against it;
    void: cancelled (红冲 / 作废), which needs it to have no live payment."""

    OPEN = "open", _("未收款")
    PARTIALLY_PAID = "partially_paid", _("部分收款")
    PAID = "paid", _("已收款")
    VOID = "void", _("已红冲")


# Invoices that are still owed (the aging report, reminders, credit control).
UNPAID_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
LIVE_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)


class InvoiceKind(models.TextChoices):
    VAT_SPECIAL = "vat_special", _("增值税专用发票")
    VAT_NORMAL = "vat_normal", _("增值税普通发票")
    ELECTRONIC = "electronic", _("电子发票")


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("银行转账")
    ACCEPTANCE_BILL = "acceptance_bill", _("承兑汇票")
    CASH = "cash", _("现金")
    WECHAT = "wechat", _("微信")
    ALIPAY = "alipay", _("支付宝")
    OTHER = "other", _("其他")


class PaymentSource(models.TextChoices):
    STAFF = "staff", _("财务登记")
    ERP = "erp", _("ERP 回传")


# The aging report's columns: key -> (label, the days past due it holds: (from, to), both
# inclusive, None open-ended). Days past due = the report date - the due date; an invoice due
# today or later is not yet due.
AGING_BUCKETS: dict[str, tuple] = {
    "not_due": (_("未到期"), None, 0),
    "d0_30": (_("0-30 天"), 1, 30),
    "d31_60": (_("31-60 天"), 31, 60),
    "d61_90": (_("61-90 天"), 61, 90),
    "d90_plus": (_("90 天以上"), 91, None),
}
OVERDUE_BUCKETS = ("d0_30", "d31_60", "d61_90", "d90_plus")


def aging_bucket_of(days_past_due: int) -> str:
    """The bucket of an invoice that is ``days_past_due`` days past its due date."""
    for key, (_label, low, high) in AGING_BUCKETS.items():
        if (low is None or days_past_due >= low) and (high is None or days_past_due <= high):
            return key
    return "d90_plus"  # pragma: no cover - the buckets cover every integer


# ?sort= of the invoice list: value -> ordering (the id breaks ties). Each is served by an index
# of Invoice; the overdue view is ordered by due date (a partial index of the unpaid ones).
INVOICE_SORTS: dict[str, tuple[str, ...]] = {
    "-issued_on": ("-issued_on", "-id"),
    "issued_on": ("issued_on", "id"),
    "due_on": ("due_on", "id"),
}
INVOICE_SORT_DEFAULT = "-issued_on"
PAYMENT_SORTS: dict[str, tuple[str, ...]] = {
    "-received_on": ("-received_on", "-id"),
    "received_on": ("received_on", "id"),
}
PAYMENT_SORT_DEFAULT = "-received_on"
