"""Partners (distributors): the partner company, its tier, its users (PartnerMember ties a
portal user to exactly one partner), quotas, deal registrations, the end customers a partner
registers, and notices shown on the portal.

A partner is owned by a channel manager (``owner``) and scoped like every customer-facing
record (``Partner.objects.visible_to(staff)``). Its orders are crm.orders Orders with
``partner_id`` set, placed for the partner's own customer record (``Partner.customer``): the
tenant sells to the partner, so credit, invoices and receivables follow the crm.orders and
crm.finance rules unchanged. Partner users see only their own partner's rows, and only
through partner_portal's selectors (crm.partners.portal)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import DealStatus, MemberRole, PartnerStatus, QuotaPeriod, StockDisplay

MONEY = {"max_digits": 16, "decimal_places": 2}


class PartnerTier(models.Model):
    """A tenant-defined tier (platinum, gold, silver...). Its code is also the code of the
    catalog's partner-tier price lists (crm.catalog PriceList kind=partner_tier): a partner of
    tier "gold" buys at the "gold" list's prices."""

    code = models.SlugField(_("编码"), max_length=32, unique=True)
    name_zh = models.CharField(_("名称"), max_length=50)
    name_en = models.CharField(_("英文名称"), max_length=50, blank=True)
    position = models.PositiveSmallIntegerField(_("排序"), default=0, help_text=_("越小越高级"))
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name_zh

    def name(self, language: str = "zh-hans") -> str:
        return (self.name_en or self.name_zh) if language.startswith("en") else self.name_zh


class PartnerQuerySet(ScopedQuerySet):
    pass


class Partner(models.Model):
    code = models.CharField(_("伙伴编号"), max_length=20, unique=True)
    name = models.CharField(_("伙伴名称"), max_length=200)
    short_name = models.CharField(_("简称"), max_length=60, blank=True)
    tier = models.ForeignKey(PartnerTier, on_delete=models.PROTECT, related_name="partners", verbose_name=_("等级"))
    status = models.CharField(_("状态"), max_length=12, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE)
    status_note = models.CharField(_("状态说明"), max_length=500, blank=True)
    # The partner as the tenant's customer: its orders, invoices and receivables are this
    # customer's (crm.orders / crm.finance). Created with the partner.
    customer = models.OneToOneField("customers.Customer", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("对应客户档案"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("渠道经理"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("所属区域"))
    regions_served = models.ManyToManyField("org.Region", blank=True, related_name="+",
                                            verbose_name=_("覆盖区域"))
    credit_limit = models.DecimalField(_("信用额度"), null=True, blank=True, **MONEY)
    payment_terms_days = models.PositiveSmallIntegerField(_("账期（天）"), default=30)
    contract_start = models.DateField(_("合同开始"), null=True, blank=True)
    contract_end = models.DateField(_("合同结束"), null=True, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=100, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    address = models.CharField(_("地址"), max_length=300, blank=True)
    # Whether partner sales users see all of their partner's orders, customers and deals (the
    # partner admin decides); otherwise only what they created.
    sales_see_all = models.BooleanField(_("伙伴销售可查看本公司全部数据"), default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    objects = PartnerQuerySet.as_manager()
    scope_fields = ScopeFields(owner="owner", department="department", region="region")

    class Meta:
        ordering = ["code"]
        verbose_name = _("渠道伙伴")
        indexes = [
            models.Index(fields=["owner", "code"], name="partner_owner"),
            models.Index(fields=["region", "code"], name="partner_region"),
            models.Index(fields=["department", "code"], name="partner_dept"),
            models.Index(fields=["status", "code"], name="partner_status"),
            models.Index(fields=["tier", "code"], name="partner_tier"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(credit_limit__isnull=True) | Q(credit_limit__gte=0),
                                   name="partner_credit_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    @property
    def is_active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE


class PartnerMember(models.Model):
    """A portal user of exactly one partner (the user's ``kind`` is "partner")."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="partner_member")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="members")
    role = models.CharField(_("角色"), max_length=8, choices=MemberRole.choices, default=MemberRole.SALES)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["partner_id", "id"]
        indexes = [models.Index(fields=["partner", "role"], name="partnermember_partner")]

    def __str__(self) -> str:
        return f"{self.user_id} @ {self.partner_id} ({self.role})"

    @property
    def is_admin(self) -> bool:
        return self.role == MemberRole.ADMIN


class PartnerSettings(models.Model):
    """The tenant's channel settings (one row, id=1)."""

    stock_display = models.CharField(_("门户库存显示"), max_length=8, choices=StockDisplay.choices,
                                     default=StockDisplay.LEVEL)
    low_stock_threshold = models.DecimalField(_("库存紧张阈值"), max_digits=14, decimal_places=3,
                                              default=Decimal("10"))
    deal_protection_days = models.PositiveSmallIntegerField(_("报备保护期（天）"), default=90)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "partner settings"


class PartnerQuota(models.Model):
    """A target for one period (month, quarter or year starting on ``period_start``), by amount
    and optionally for one product category (and its subtree)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="quotas")
    period = models.CharField(_("周期"), max_length=8, choices=QuotaPeriod.choices)
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    category = models.ForeignKey("catalog.Category", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("产品分类"))
    amount = models.DecimalField(_("目标金额"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["partner_id", "-period_start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "period", "period_start", "category"],
                                    name="partnerquota_unique", nulls_distinct=False),
            models.CheckConstraint(condition=Q(amount__gt=0), name="partnerquota_amount_positive"),
            models.CheckConstraint(condition=Q(period_end__gte=models.F("period_start")),
                                   name="partnerquota_period_order"),
        ]
        indexes = [models.Index(fields=["period_start", "period"], name="partnerquota_period")]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.period} {self.period_start}: {self.amount}"


class PartnerCustomer(models.Model):
    """An end customer a partner sells to, registered in the portal. Registering checks for
    duplicates against the tenant's customers without revealing them (``tenant_match``)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="end_customers")
    name = models.CharField(_("客户名称"), max_length=200)
    name_norm = models.CharField(max_length=200, editable=False)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=100, blank=True)
    phone = models.CharField(_("电话"), max_length=40, blank=True)
    email = models.EmailField(_("邮箱"), blank=True)
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("区域"))
    address = models.CharField(_("地址"), max_length=300, blank=True)
    notes = models.TextField(_("备注"), blank=True)
    # Whether the tenant already had a customer like this one when it was registered (staff see
    # which; the partner only sees that a possible duplicate was flagged).
    tenant_match = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["partner_id", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "name_norm"], name="partnercustomer_unique_name"),
        ]
        indexes = [
            models.Index(fields=["partner", "-created_at", "-id"], name="partnercustomer_list"),
            models.Index(fields=["partner", "created_by", "-created_at", "-id"], name="partnercustomer_creator"),
        ]

    def __str__(self) -> str:
        return self.name


class DealRegistration(models.Model):
    """A partner's opportunity registered for protection: the channel manager approves
    (protected until ``protected_until``) or rejects it. Conflicts found at registration (another
    partner's live registration or a staff opportunity for the same customer) are stored for the
    channel manager; the partner sees only that a conflict exists."""

    number = models.CharField(_("报备编号"), max_length=20, unique=True)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="deals")
    end_customer = models.ForeignKey(PartnerCustomer, null=True, blank=True, on_delete=models.PROTECT,
                                     related_name="deals", verbose_name=_("终端客户"))
    customer_name = models.CharField(_("客户名称"), max_length=200)
    customer_name_norm = models.CharField(max_length=200, editable=False, db_index=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, db_index=True)
    title = models.CharField(_("项目名称"), max_length=200)
    amount = models.DecimalField(_("预计金额"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    expected_close = models.DateField(_("预计成交日期"), null=True, blank=True)
    description = models.TextField(_("说明"), blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=DealStatus.choices, default=DealStatus.PENDING)
    conflicts = models.JSONField(default=list, blank=True,
                                 help_text="[{kind: deal|opportunity, id, label}] found at registration")
    protected_until = models.DateField(_("保护期至"), null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(_("审核意见"), max_length=1000, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["partner", "-created_at", "-id"], name="deal_partner"),
            models.Index(fields=["status", "-created_at", "-id"], name="deal_status"),
            models.Index(fields=["protected_until"], name="deal_protection_due",
                         condition=Q(status=DealStatus.APPROVED)),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative")]

    def __str__(self) -> str:
        return self.number


class PartnerNotice(models.Model):
    """A notice the tenant publishes on the portal home page, to every partner or to some tiers."""

    title_zh = models.CharField(_("标题"), max_length=200)
    title_en = models.CharField(_("英文标题"), max_length=200, blank=True)
    body_zh = models.TextField(_("内容"), blank=True)
    body_en = models.TextField(_("英文内容"), blank=True)
    tiers = models.JSONField(_("面向等级"), default=list, blank=True, help_text=_("留空则面向全部伙伴"))
    published_at = models.DateTimeField(_("发布时间"))
    expires_at = models.DateTimeField(_("下线时间"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [models.Index(fields=["-published_at"], name="partnernotice_published")]

    def __str__(self) -> str:
        return self.title_zh
