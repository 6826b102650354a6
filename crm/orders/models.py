"""Orders: the order with its lines, shipments, attachments and timeline; the per-customer
credit limit; the number counter; and the idempotency records of the API.

An order belongs to a customer (crm.customers) and has an owner, a department and a region
(crm.org.scoping): ``Order.objects.visible_to(user)`` is what the user's role scope allows.
Products and warehouses are crm.catalog's; the order keeps a copy of what it sold (SKU,
name, unit, price, tax rate) so that later catalog edits do not rewrite it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import models
from django.db.models import F, Q
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import (
    DEFAULT_CURRENCY,
    DEFAULT_PAYMENT_TERMS_DAYS,
    EDITABLE_STATUSES,
    EventKind,
    OrderStatus,
    StockState,
    SubmittedVia,
)

QTY = {"max_digits": 14, "decimal_places": 3}
MONEY = {"max_digits": 14, "decimal_places": 2}


class OrderCounter(models.Model):
    """The last order number given out in a year (one row per year, per tenant schema).
    Incremented with one INSERT ... ON CONFLICT DO UPDATE in the creating transaction:
    concurrent creates wait for each other, and a rolled back create gives its number back."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class OrderQuerySet(ScopedQuerySet):
    def open(self):
        return self.exclude(status__in=[OrderStatus.CLOSED, OrderStatus.CANCELLED])


class Order(models.Model):
    number = models.CharField(_("订单号"), max_length=20, unique=True, editable=False)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+",
                                 db_index=False, verbose_name=_("客户"))  # (customer, -created_at) serves it
    # The distributor (crm.partners) whose order this is: placed in the partner portal, or for
    # the partner by staff; its customer is then the partner's own customer record.
    partner = models.ForeignKey("partners.Partner", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", db_index=False, verbose_name=_("渠道伙伴"))  # order_partner serves it
    submitted_via = models.CharField(_("来源"), max_length=8, choices=SubmittedVia.choices,
                                     default=SubmittedVia.STAFF)
    status = models.CharField(_("状态"), max_length=20, choices=OrderStatus.choices, default=OrderStatus.DRAFT)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              db_index=False, verbose_name=_("负责人"))  # (owner, -created_at) serves it
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", db_index=False, verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", db_index=False, verbose_name=_("区域"))
    currency = models.CharField(_("币种"), max_length=3, default=DEFAULT_CURRENCY)
    price_level = models.CharField(_("价格等级"), max_length=1, blank=True,
                                   help_text=_("客户等级，默认单价按此等级的价格表"))
    warehouse = models.ForeignKey("catalog.Warehouse", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("发货仓库"),
                                  help_text=_("各行未指定仓库时从这里发货；留空则用默认仓库"))
    delivery_address = models.CharField(_("收货地址"), max_length=300, blank=True)
    delivery_contact = models.CharField(_("收货人"), max_length=100, blank=True)
    delivery_phone = models.CharField(_("收货电话"), max_length=40, blank=True)
    delivery_date = models.DateField(_("交货日期"), null=True, blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(_("账期（天）"), default=DEFAULT_PAYMENT_TERMS_DAYS)
    notes = models.TextField(_("备注"), blank=True)

    net_total = models.DecimalField(_("不含税合计"), default=Decimal("0"), **MONEY)
    tax_total = models.DecimalField(_("税额合计"), default=Decimal("0"), **MONEY)
    total = models.DecimalField(_("价税合计"), default=Decimal("0"), **MONEY)
    max_discount_pct = models.DecimalField(_("最大折扣率（%）"), max_digits=5, decimal_places=2,
                                           default=Decimal("0"))
    line_count = models.PositiveSmallIntegerField(default=0)

    stock_state = models.CharField(_("库存预留"), max_length=10, choices=StockState.choices,
                                   default=StockState.NONE)
    stock_note = models.CharField(_("库存说明"), max_length=1000, blank=True)
    rejection_note = models.CharField(_("驳回意见"), max_length=1000, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=500, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    approved_at = models.DateTimeField(_("审批通过时间"), null=True, blank=True)
    rejected_at = models.DateTimeField(_("驳回时间"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("发货完成时间"), null=True, blank=True)
    invoiced_at = models.DateTimeField(_("开票时间"), null=True, blank=True)
    paid_at = models.DateTimeField(_("回款时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    objects = OrderQuerySet.as_manager()
    scope_fields = ScopeFields(owner="owner", department="department", region="region")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("订单")
        constraints = [
            models.CheckConstraint(condition=Q(total=F("net_total") + F("tax_total")), name="order_total_adds_up"),
            models.CheckConstraint(condition=Q(net_total__gte=0) & Q(tax_total__gte=0), name="order_totals_not_negative"),
        ]
        indexes = [
            # The list: every scope and filter reads one of these in its sort order (a number
            # prefix uses the varchar_pattern_ops index Django adds to the unique number). Every
            # status change writes to each of them, so there are no more than the list needs.
            models.Index(fields=["owner", "-created_at", "-id"], name="order_owner_created"),
            models.Index(fields=["region", "-created_at", "-id"], name="order_region_created"),
            models.Index(fields=["department", "-created_at", "-id"], name="order_dept_created"),
            models.Index(fields=["-created_at", "-id"], name="order_created"),
            models.Index(fields=["status", "-created_at", "-id"], name="order_status_created"),
            models.Index(fields=["owner", "status", "-created_at", "-id"], name="order_owner_status_created"),
            models.Index(fields=["customer", "-created_at", "-id"], name="order_customer_created"),
            models.Index(fields=["-total", "-id"], name="order_total"),
            models.Index(fields=["owner", "-total", "-id"], name="order_owner_total"),
            models.Index(fields=["partner", "-created_at"], name="order_partner",
                         condition=Q(partner_id__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.number

    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("订单"))
    position = models.PositiveSmallIntegerField(_("行号"))
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+",
                                verbose_name=_("产品"))
    sku = models.CharField(_("SKU"), max_length=64)
    product_name = models.CharField(_("产品名称"), max_length=200)
    spec = models.CharField(_("规格型号"), max_length=200, blank=True)
    unit = models.CharField(_("单位"), max_length=16, blank=True)
    warehouse = models.ForeignKey("catalog.Warehouse", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="+", verbose_name=_("仓库"))
    quantity = models.DecimalField(_("数量"), **QTY)
    unit_price = models.DecimalField(_("单价"), **MONEY)
    price_source = models.CharField(_("价格来源"), max_length=200, blank=True)
    price_manual = models.BooleanField(_("手工定价"), default=False, help_text=_("单价由录入人填写，而不是取自价格表"))
    discount_pct = models.DecimalField(_("折扣率（%）"), max_digits=5, decimal_places=2, default=Decimal("0"))
    tax_rate = models.DecimalField(_("税率"), max_digits=5, decimal_places=4)
    net_amount = models.DecimalField(_("不含税金额"), **MONEY)
    tax_amount = models.DecimalField(_("税额"), **MONEY)
    gross_amount = models.DecimalField(_("价税合计"), **MONEY)
    shipped_quantity = models.DecimalField(_("已发货数量"), default=Decimal("0"), **QTY)

    class Meta:
        ordering = ["order_id", "position"]
        verbose_name = _("订单行")
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="orderline_position"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="orderline_price_not_negative"),
            models.CheckConstraint(condition=Q(discount_pct__gte=0) & Q(discount_pct__lte=100),
                                   name="orderline_discount_range"),
            models.CheckConstraint(condition=Q(shipped_quantity__gte=0) & Q(shipped_quantity__lte=F("quantity")),
                                   name="orderline_never_ship_more_than_ordered"),
            models.CheckConstraint(condition=Q(gross_amount=F("net_amount") + F("tax_amount")),
                                   name="orderline_gross_adds_up"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.position} {self.sku} × {self.quantity}"

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.shipped_quantity


class _AttachmentFileSystemStorage(FileSystemStorage):
    """MEDIA_ROOT, or .data/media in the repository while the deployment sets none."""

    @cached_property
    def base_location(self):
        return settings.MEDIA_ROOT or str(Path(settings.BASE_DIR) / ".data" / "media")


_file_system_storage = _AttachmentFileSystemStorage()


def attachment_storage():
    """Where attachment files go: the default storage, unless that is the file system
    without a MEDIA_ROOT (files would land in the working directory)."""
    backend = settings.STORAGES.get("default", {}).get("BACKEND", "")
    return _file_system_storage if backend.endswith("FileSystemStorage") else default_storage


def _attachment_path(instance: OrderAttachment, filename: str) -> str:
    from django.db import connection

    return f"orders/{connection.schema_name}/{instance.order_id}/{filename}"


class OrderAttachment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("订单"))
    file = models.FileField(_("文件"), upload_to=_attachment_path, storage=attachment_storage, max_length=300)
    name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("上传人"))
    uploaded_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        verbose_name = _("订单附件")

    def __str__(self) -> str:
        return self.name


class Shipment(models.Model):
    """Goods out for an order from one warehouse (partial shipments allowed). ``external_id``
    is the delivery note number: the stock ledger ships each number once."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments", verbose_name=_("订单"))
    number = models.CharField(_("发货单号"), max_length=30)
    external_id = models.CharField(_("外部编号"), max_length=100, unique=True,
                                   help_text=_("如 ERP 的出库单号；同一编号只发货一次"))
    warehouse = models.ForeignKey("catalog.Warehouse", on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("仓库"))
    carrier = models.CharField(_("承运商"), max_length=100, blank=True)
    tracking_number = models.CharField(_("运单号"), max_length=100, blank=True)
    shipped_at = models.DateTimeField(_("发货时间"))
    note = models.CharField(_("备注"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("经办人"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "id"]
        verbose_name = _("发货单")
        constraints = [models.UniqueConstraint(fields=["order", "number"], name="shipment_number_per_order")]

    def __str__(self) -> str:
        return self.number


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="shipment_lines")
    quantity = models.DecimalField(_("数量"), **QTY)

    class Meta:
        ordering = ["shipment_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="shipmentline_quantity_positive"),
            models.UniqueConstraint(fields=["shipment", "order_line"], name="shipmentline_once_per_line"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id}: {self.order_line_id} × {self.quantity}"


class OrderEvent(models.Model):
    """One entry of an order's timeline: status changes, stock, shipments, later invoices and
    payments. The approval steps themselves are read from crm.approvals."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    note = models.CharField(max_length=1000, blank=True)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order_id", "at", "id"]
        indexes = [models.Index(fields=["order", "at", "id"], name="orderevent_order")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind}"


class CustomerCredit(models.Model):
    """The credit limit of one customer (until finance owns customer credit). Orders whose
    open receivables plus their own total exceed it go through the credit-override step."""

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="+",
                                    verbose_name=_("客户"))
    limit = models.DecimalField(_("信用额度"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3, default=DEFAULT_CURRENCY)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("客户信用额度")
        constraints = [models.CheckConstraint(condition=Q(limit__gte=0), name="customercredit_limit_not_negative")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.limit} {self.currency}"


class IdempotencyRecord(models.Model):
    """The first response to a request sent with an ``Idempotency-Key`` (crm.orders.idempotency):
    the same key and body again get it back; the same key with another body, a 422."""

    key = models.CharField(max_length=255)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    method_path = models.CharField(max_length=300)
    body_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["actor", "key"], name="idempotency_once_per_actor_key")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.actor_id}:{self.key}"
