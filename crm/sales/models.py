"""Opportunities (with their stage history), quotes and quote lines. Customer-facing
records: each has an owner, a department and a region, and is read only through
``visible_to`` (crm.org.scoping). Written only by crm.sales.services."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import DEFAULT_CURRENCY, QUOTE_EDITABLE, OpportunityStatus, QuoteStatus

MONEY = {"max_digits": 14, "decimal_places": 2}
QTY = {"max_digits": 14, "decimal_places": 3}


class OpportunityQuerySet(ScopedQuerySet):
    def open(self):
        return self.filter(status=OpportunityStatus.OPEN)


class Opportunity(models.Model):
    """A possible deal with a customer, moving through the tenant's pipeline stages
    (TenantConfig.pipeline_stages of the business mode named by ``pipeline``)."""

    name = models.CharField(_("名称"), max_length=200)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("客户"))
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("联系人"))
    pipeline = models.CharField(_("销售流程"), max_length=32,
                                help_text="the business mode whose pipeline stages apply")
    stage = models.CharField(_("阶段"), max_length=32)
    status = models.CharField(_("状态"), max_length=8, choices=OpportunityStatus.choices,
                              default=OpportunityStatus.OPEN)
    amount = models.DecimalField(_("金额"), default=Decimal("0"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3, default=DEFAULT_CURRENCY)
    expected_close_date = models.DateField(_("预计成交日期"))
    probability = models.PositiveSmallIntegerField(_("赢率（%）"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("区域"))
    source = models.CharField(_("来源"), max_length=50, blank=True)
    next_step = models.CharField(_("下一步"), max_length=300, blank=True)
    lost_reason = models.CharField(_("输单原因"), max_length=500, blank=True)
    won_at = models.DateTimeField(_("赢单时间"), null=True, blank=True)
    lost_at = models.DateTimeField(_("输单时间"), null=True, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    scope_fields = ScopeFields(owner="owner", department="department", region="region")
    objects = OpportunityQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("商机")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="opportunity_amount_not_negative"),
            models.CheckConstraint(condition=Q(probability__lte=100), name="opportunity_probability_range"),
        ]
        indexes = [
            # the list: everyone's, per owner / region / department, per customer (the 360 page)
            models.Index(fields=["-updated_at", "-id"], name="opp_updated"),
            models.Index(fields=["owner", "-updated_at", "-id"], name="opp_owner_updated"),
            models.Index(fields=["region", "-updated_at", "-id"], name="opp_region_updated"),
            models.Index(fields=["department", "-updated_at", "-id"], name="opp_dept_updated"),
            models.Index(fields=["customer", "-updated_at"], name="opp_customer"),
            models.Index(fields=["stage", "-updated_at"], name="opp_stage_updated"),
            models.Index(fields=["expected_close_date", "id"], name="opp_close_date"),
            models.Index(fields=["owner", "expected_close_date", "id"], name="opp_owner_close_date"),
            models.Index(fields=["-amount", "-id"], name="opp_amount"),
            models.Index(fields=["-created_at", "-id"], name="opp_created"),
            # the forecast: open opportunities by expected close date and won ones by the day
            # they were won, carrying the summed columns (index-only scans)
            models.Index(fields=["expected_close_date"], name="opp_forecast_open",
                         include=["amount", "probability", "owner", "region", "department", "stage", "currency"],
                         condition=Q(status=OpportunityStatus.OPEN)),
            models.Index(fields=["region", "expected_close_date"], name="opp_forecast_open_region",
                         include=["amount", "probability", "owner", "stage", "currency"],
                         condition=Q(status=OpportunityStatus.OPEN)),
            models.Index(fields=["won_at"], name="opp_forecast_won",
                         include=["amount", "owner", "region", "department", "stage", "currency"],
                         condition=Q(status=OpportunityStatus.WON)),
        ]

    def __str__(self) -> str:
        return self.name

    def is_open(self) -> bool:
        return self.status == OpportunityStatus.OPEN

    def weighted_amount(self) -> Decimal:
        from .calc import money

        return money(self.amount * self.probability / Decimal(100))


class OpportunityStageChange(models.Model):
    """One move of an opportunity from a stage to another (the first row has no from
    stage): the history the pipeline analysis reads."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=32, blank=True)
    to_stage = models.CharField(max_length=32)
    to_status = models.CharField(max_length=8, choices=OpportunityStatus.choices)
    probability = models.PositiveSmallIntegerField()
    amount = models.DecimalField(**MONEY, help_text="the amount when it moved")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    note = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["opportunity", "at"], name="opp_stage_change_opp"),
            models.Index(fields=["to_stage", "at"], name="opp_stage_change_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage or '-'} -> {self.to_stage}"


class QuoteCounter(models.Model):
    """The last quote number given out in a year (one row per year, per tenant schema).
    Incremented with one INSERT ... ON CONFLICT DO UPDATE in the creating transaction:
    concurrent creates wait for each other and a rolled back create gives its number back."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Quote(models.Model):
    number = models.CharField(_("报价单号"), max_length=20, unique=True, editable=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+",
                                 verbose_name=_("客户"))
    opportunity = models.ForeignKey(Opportunity, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="quotes", verbose_name=_("商机"))
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("联系人"))
    status = models.CharField(_("状态"), max_length=12, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT)
    currency = models.CharField(_("币种"), max_length=3, default=DEFAULT_CURRENCY)
    valid_until = models.DateField(_("有效期至"))
    price_level = models.CharField(_("价格等级"), max_length=1, blank=True,
                                   help_text=_("客户等级，默认单价按此等级的价格表"))
    net_total = models.DecimalField(_("不含税合计"), default=Decimal("0"), **MONEY)
    tax_total = models.DecimalField(_("税额合计"), default=Decimal("0"), **MONEY)
    total = models.DecimalField(_("价税合计"), default=Decimal("0"), **MONEY)
    notes = models.TextField(_("备注与条款"), blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("区域"))
    approval_submitted_at = models.DateTimeField(_("提交审批时间"), null=True, blank=True)
    approved_at = models.DateTimeField(_("审批通过时间"), null=True, blank=True)
    approval_note = models.CharField(_("审批意见"), max_length=1000, blank=True,
                                     help_text=_("驳回或撤回审批时的意见"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("接受时间"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("拒绝时间"), null=True, blank=True)
    reject_reason = models.CharField(_("拒绝原因"), max_length=500, blank=True)
    expired_at = models.DateTimeField(_("过期时间"), null=True, blank=True)
    converted_at = models.DateTimeField(_("转订单时间"), null=True, blank=True)
    order_ref = models.CharField(_("订单号"), max_length=64, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    scope_fields = ScopeFields(owner="owner", department="department", region="region")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("报价单")
        constraints = [
            models.CheckConstraint(condition=Q(total=F("net_total") + F("tax_total")), name="quote_total_sum"),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="quote_created"),
            models.Index(fields=["owner", "-created_at", "-id"], name="quote_owner_created"),
            models.Index(fields=["region", "-created_at", "-id"], name="quote_region_created"),
            models.Index(fields=["department", "-created_at", "-id"], name="quote_dept_created"),
            models.Index(fields=["customer", "-created_at"], name="quote_customer"),
            models.Index(fields=["opportunity", "-created_at"], name="quote_opportunity"),
            models.Index(fields=["status", "-created_at"], name="quote_status_created"),
            models.Index(fields=["-updated_at", "-id"], name="quote_updated"),
            models.Index(fields=["valid_until", "id"], name="quote_valid_until"),
            models.Index(fields=["-total", "-id"], name="quote_total"),
            # the expiry task: sent quotes by validity
            models.Index(fields=["valid_until"], name="quote_sent_expiry", condition=Q(status=QuoteStatus.SENT)),
        ]

    def __str__(self) -> str:
        return self.number

    def is_editable(self) -> bool:
        return self.status in QUOTE_EDITABLE


class QuoteLine(models.Model):
    """One product on a quote. The amounts are computed by the services (crm.sales.calc),
    each rounded half up to the cent, and stored."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("产品"))
    sku = models.CharField(_("SKU"), max_length=64)
    description = models.CharField(_("描述"), max_length=500)
    unit = models.CharField(_("单位"), max_length=16, blank=True)
    quantity = models.DecimalField(_("数量"), **QTY)
    unit_price = models.DecimalField(_("单价"), **MONEY)
    price_source = models.CharField(_("价格来源"), max_length=200, blank=True)
    discount_percent = models.DecimalField(_("折扣（%）"), max_digits=5, decimal_places=2, default=Decimal("0"))
    tax_rate = models.DecimalField(_("税率"), max_digits=5, decimal_places=4)
    net_amount = models.DecimalField(_("不含税金额"), **MONEY)
    tax_amount = models.DecimalField(_("税额"), **MONEY)
    gross_amount = models.DecimalField(_("价税合计"), **MONEY)

    class Meta:
        ordering = ["quote_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["quote", "position"], name="quoteline_unique_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="quoteline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="quoteline_price_not_negative"),
            models.CheckConstraint(condition=Q(discount_percent__gte=0) & Q(discount_percent__lte=100),
                                   name="quoteline_discount_range"),
            models.CheckConstraint(condition=Q(gross_amount=F("net_amount") + F("tax_amount")),
                                   name="quoteline_gross_sum"),
        ]

    def __str__(self) -> str:
        return f"{self.quote_id}#{self.position} {self.sku} × {self.quantity}"
