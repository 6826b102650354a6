"""Finance: invoices issued for shipped orders, the payments received against them, the number
counter and the tenant's finance settings.

An invoice copies its order's customer, owner, department and region, so that
``Invoice.objects.visible_to(user)`` (crm.org.scoping) follows the order's visibility: a
salesperson sees the invoices of their own orders, a regional manager those of the region,
finance everything. A payment copies the same from its invoice. Amounts are Decimal(14, 2) in
the order's currency; the database refuses amounts that do not add up."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import (
    DEFAULT_REMINDER_INTERVAL_DAYS,
    UNPAID_STATUSES,
    InvoiceKind,
    InvoiceStatus,
    PaymentMethod,
    PaymentSource,
)

MONEY = {"max_digits": 14, "decimal_places": 2}
# Still owed. Written as ORs of equalities, not an IN list: PostgreSQL prints an IN-list
# predicate back in a form that re-creates as a different text (schema clones compare index
# definitions); queries filtering ``status__in=UNPAID_STATUSES`` use these indexes all the same.
_UNPAID = Q(status=UNPAID_STATUSES[0]) | Q(status=UNPAID_STATUSES[1])
_AGING = ["customer", "currency", "issued_on", "total", "paid_amount"]  # covered by the unpaid indexes


class FinanceCounter(models.Model):
    """The last number given out per kind ("invoice", "payment") and year. Incremented with one
    INSERT ... ON CONFLICT DO UPDATE in the creating transaction (as the order numbers are)."""

    kind = models.CharField(max_length=10)
    year = models.PositiveIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "year"], name="financecounter_kind_year")]

    def __str__(self) -> str:
        return f"{self.kind} {self.year}: {self.last}"


class FinanceSettings(models.Model):
    """Per-tenant finance rules (one row), edited by finance or the tenant admin."""

    reminder_interval_days = models.PositiveSmallIntegerField(
        _("逾期提醒间隔（天）"), default=DEFAULT_REMINDER_INTERVAL_DAYS,
        help_text=_("同一张逾期发票，至少间隔这么多天才再次提醒负责人和财务"))
    invoice_limit = models.DecimalField(
        _("单张发票限额"), null=True, blank=True, **MONEY,
        help_text=_("单张发票价税合计的上限（如税控设备的开票限额）；留空表示不限"))
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("财务设置")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="financesettings_singleton"),
            models.CheckConstraint(condition=Q(reminder_interval_days__gte=1), name="financesettings_interval_positive"),
        ]

    def __str__(self) -> str:
        return f"remind every {self.reminder_interval_days} days"


class InvoiceQuerySet(ScopedQuerySet):
    def unpaid(self):
        return self.filter(_UNPAID)


class Invoice(models.Model):
    number = models.CharField(_("发票编号"), max_length=20, unique=True, editable=False)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+", verbose_name=_("订单"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+",
                                 db_index=False, verbose_name=_("客户"))  # (customer, -issued_on) serves it
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              db_index=False, verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False, verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", db_index=False, verbose_name=_("区域"))
    kind = models.CharField(_("发票种类"), max_length=16, choices=InvoiceKind.choices,
                            default=InvoiceKind.VAT_SPECIAL)
    tax_number = models.CharField(_("发票号码"), max_length=30, blank=True,
                                  help_text=_("税务发票上的号码；填写时不能重复"))
    buyer_name = models.CharField(_("购买方名称"), max_length=200)
    buyer_tax_id = models.CharField(_("纳税人识别号"), max_length=30, blank=True)
    currency = models.CharField(_("币种"), max_length=3)
    net_amount = models.DecimalField(_("金额（不含税）"), **MONEY)
    tax_amount = models.DecimalField(_("税额"), **MONEY)
    total = models.DecimalField(_("价税合计"), **MONEY)
    paid_amount = models.DecimalField(_("已收金额"), default=Decimal("0"), **MONEY)
    status = models.CharField(_("状态"), max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN)
    issued_on = models.DateField(_("开票日期"))
    due_on = models.DateField(_("到期日"), help_text=_("开票日期加订单账期"))
    settled_on = models.DateField(_("结清日期"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    void_reason = models.CharField(_("红冲原因"), max_length=500, blank=True)
    voided_at = models.DateTimeField(_("红冲时间"), null=True, blank=True)
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("红冲人"))
    last_reminded_on = models.DateField(_("上次逾期提醒"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("开票人"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    objects = InvoiceQuerySet.as_manager()
    scope_fields = ScopeFields(owner="owner", department="department", region="region")

    class Meta:
        ordering = ["-issued_on", "-id"]
        verbose_name = _("发票")
        constraints = [
            models.CheckConstraint(condition=Q(total=F("net_amount") + F("tax_amount")), name="invoice_total_adds_up"),
            models.CheckConstraint(condition=Q(total__gt=0) & Q(net_amount__gte=0) & Q(tax_amount__gte=0),
                                   name="invoice_amounts_positive"),
            models.CheckConstraint(condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=F("total")),
                                   name="invoice_never_paid_more_than_total"),
            models.CheckConstraint(condition=Q(due_on__gte=F("issued_on")), name="invoice_due_after_issue"),
            models.UniqueConstraint(fields=["tax_number"], condition=~Q(tax_number=""), name="invoice_tax_number_once"),
        ]
        indexes = [
            # The list, in every scope, newest first (keyset pages on (issued_on, id)).
            models.Index(fields=["owner", "-issued_on", "-id"], name="invoice_owner_issued"),
            models.Index(fields=["department", "-issued_on", "-id"], name="invoice_dept_issued"),
            models.Index(fields=["region", "-issued_on", "-id"], name="invoice_region_issued"),
            models.Index(fields=["-issued_on", "-id"], name="invoice_issued"),
            models.Index(fields=["status", "-issued_on", "-id"], name="invoice_status_issued"),
            models.Index(fields=["customer", "-issued_on", "-id"], name="invoice_customer_issued"),
            # What is still owed, by due date: the aging report, the overdue list and the
            # reminders read only these small partial indexes, whatever the history; they carry
            # what the aging report sums, so it reads them without visiting the table.
            models.Index(fields=["due_on", "id"], name="invoice_unpaid_due", condition=_UNPAID, include=_AGING),
            models.Index(fields=["owner", "due_on", "id"], name="invoice_owner_unpaid_due", condition=_UNPAID,
                         include=_AGING),
            models.Index(fields=["region", "due_on", "id"], name="invoice_region_unpaid_due", condition=_UNPAID,
                         include=_AGING),
            models.Index(fields=["department", "due_on", "id"], name="invoice_dept_unpaid_due", condition=_UNPAID,
                         include=_AGING),
            # The aging report as of an earlier date: invoices settled after it were still owed.
            models.Index(fields=["settled_on"], name="invoice_settled", condition=Q(settled_on__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def outstanding(self) -> Decimal:
        return Decimal("0.00") if self.status == InvoiceStatus.VOID else self.total - self.paid_amount

    def is_unpaid(self) -> bool:
        return self.status in UNPAID_STATUSES


class PaymentQuerySet(ScopedQuerySet):
    def live(self):
        return self.filter(voided_at__isnull=True)


class Payment(models.Model):
    """Money received against one invoice (several per invoice; partial allowed). A voided
    payment (冲销) stays, marked, and no longer counts."""

    number = models.CharField(_("收款编号"), max_length=20, unique=True, editable=False)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments", db_index=False,
                                verbose_name=_("发票"))  # (invoice, id) serves it
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="+", verbose_name=_("订单"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+",
                                 db_index=False, verbose_name=_("客户"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              db_index=False, verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False, verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", db_index=False, verbose_name=_("区域"))
    amount = models.DecimalField(_("收款金额"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3)
    received_on = models.DateField(_("收款日期"))
    method = models.CharField(_("收款方式"), max_length=16, choices=PaymentMethod.choices,
                              default=PaymentMethod.BANK_TRANSFER)
    reference = models.CharField(_("银行流水号"), max_length=100, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    source = models.CharField(_("来源"), max_length=8, choices=PaymentSource.choices, default=PaymentSource.STAFF)
    external_id = models.CharField(_("外部编号"), max_length=120, null=True, blank=True, unique=True,
                                   help_text=_("ERP 的收款单号；同一编号只登记一次"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("登记人"))
    void_reason = models.CharField(_("冲销原因"), max_length=500, blank=True)
    voided_at = models.DateTimeField(_("冲销时间"), null=True, blank=True)
    voided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="+", verbose_name=_("冲销人"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    objects = PaymentQuerySet.as_manager()
    scope_fields = ScopeFields(owner="owner", department="department", region="region")

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("收款")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        indexes = [
            models.Index(fields=["owner", "-received_on", "-id"], name="payment_owner_received"),
            models.Index(fields=["department", "-received_on", "-id"], name="payment_dept_received"),
            models.Index(fields=["region", "-received_on", "-id"], name="payment_region_received"),
            models.Index(fields=["-received_on", "-id"], name="payment_received"),
            models.Index(fields=["customer", "-received_on", "-id"], name="payment_customer_received"),
            models.Index(fields=["invoice", "id"], name="payment_invoice"),
        ]

    def __str__(self) -> str:
        return self.number

    def is_live(self) -> bool:
        return self.voided_at is None
