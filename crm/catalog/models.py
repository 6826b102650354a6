"""The catalog: categories, products, price lists, warehouses, stock levels and the stock
ledger. Company data: every active staff member reads it; the services decide who writes."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import DEFAULT_CURRENCY, DEFAULT_TAX_RATE, MovementKind, PriceListKind

QTY = {"max_digits": 14, "decimal_places": 3}
MONEY = {"max_digits": 14, "decimal_places": 2}


class Category(models.Model):
    """A node of the product category tree, stored with a materialised path ("000001.000004.")
    as crm.org stores departments and regions: a subtree is one ``path LIKE 'x%'`` range."""

    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children", verbose_name=_("上级分类"))
    path = models.CharField(max_length=255, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("分类")
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="category_unique_name_in_parent",
                                    nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["path"], name="category_path_like", opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count(".") - 1 if self.path else 0


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True,
                           help_text=_("产品编码，保存为大写；在本公司内唯一"))
    name = models.CharField(_("名称"), max_length=200)
    spec = models.CharField(_("规格型号"), max_length=200, blank=True)
    unit = models.CharField(_("单位"), max_length=16, default="台")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="products", verbose_name=_("分类"))
    tax_rate = models.DecimalField(_("税率"), max_digits=5, decimal_places=4, default=Decimal(DEFAULT_TAX_RATE))
    list_price = models.DecimalField(_("目录价"), **MONEY)
    currency = models.CharField(_("币种"), max_length=3, default=DEFAULT_CURRENCY)
    is_active = models.BooleanField(_("在售"), default=True)
    description = models.TextField(_("描述"), blank=True)

    # derived, kept by the services (crm.catalog.search)
    search_text = models.CharField(max_length=500, editable=False, default="",
                                   help_text="name and spec folded (lower case, no spaces): verifies matches")
    search_vector = SearchVectorField(null=True, editable=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["sku"]
        verbose_name = _("产品")
        constraints = [
            models.CheckConstraint(condition=Q(list_price__gte=0), name="product_list_price_not_negative"),
            models.CheckConstraint(condition=Q(tax_rate__gte=0) & Q(tax_rate__lt=1), name="product_tax_rate_range"),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="product_search"),
            models.Index(fields=["name", "id"], name="product_name"),
            models.Index(fields=["-updated_at", "-id"], name="product_updated"),
            models.Index(fields=["list_price", "id"], name="product_list_price"),
            models.Index(fields=["category", "sku"], name="product_category_sku"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class PriceList(models.Model):
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=PriceListKind.choices, default=PriceListKind.STANDARD)
    code = models.CharField(_("适用等级/级别"), max_length=32, blank=True,
                            help_text=_("客户等级（A/B/C/D）或渠道级别（如 gold、silver）；标准价留空"))
    currency = models.CharField(_("币种"), max_length=3, default=DEFAULT_CURRENCY)
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_to = models.DateField(_("失效日期"), null=True, blank=True, help_text=_("含当天"))
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["kind", "code", "name", "id"]
        verbose_name = _("价格表")
        constraints = [
            models.CheckConstraint(condition=Q(valid_from__isnull=True) | Q(valid_to__isnull=True)
                                   | Q(valid_from__lte=F("valid_to")), name="pricelist_valid_range"),
            models.CheckConstraint(condition=(Q(kind=PriceListKind.STANDARD) & Q(code=""))
                                   | (~Q(kind=PriceListKind.STANDARD) & ~Q(code="")),
                                   name="pricelist_code_matches_kind"),
        ]
        indexes = [models.Index(fields=["kind", "code"], name="pricelist_kind_code",
                                condition=Q(is_active=True))]

    def __str__(self) -> str:
        return self.name

    def is_valid_on(self, day) -> bool:
        return (self.is_active and (self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))


class PriceListItem(models.Model):
    price_list = models.ForeignKey(PriceList, on_delete=models.CASCADE, related_name="items",
                                   verbose_name=_("价格表"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="price_items",
                                verbose_name=_("产品"))
    unit_price = models.DecimalField(_("单价"), **MONEY)
    min_quantity = models.DecimalField(_("起订量"), default=Decimal("1"), **QTY)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["price_list_id", "product_id", "min_quantity"]
        verbose_name = _("价格表条目")
        constraints = [
            models.UniqueConstraint(fields=["price_list", "product", "min_quantity"], name="pricelistitem_unique"),
            models.CheckConstraint(condition=Q(unit_price__gt=0), name="pricelistitem_price_positive"),
            models.CheckConstraint(condition=Q(min_quantity__gt=0), name="pricelistitem_min_quantity_positive"),
        ]
        indexes = [models.Index(fields=["product", "price_list", "min_quantity"], name="pricelistitem_product")]

    def __str__(self) -> str:
        return f"{self.price_list_id}/{self.product_id} ≥{self.min_quantity}: {self.unit_price}"


class Warehouse(models.Model):
    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=300, blank=True)
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("区域"))
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["code"]
        verbose_name = _("仓库")

    def __str__(self) -> str:
        return self.name


class StockLevel(models.Model):
    """What one warehouse holds of one product. Changed only by the stock services, under a
    row lock, each change written to the ledger (StockMovement)."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock",
                                  verbose_name=_("仓库"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock",
                                verbose_name=_("产品"))
    on_hand = models.DecimalField(_("实物库存"), default=Decimal("0"), **QTY)
    reserved = models.DecimalField(_("已预留"), default=Decimal("0"), **QTY)
    reorder_level = models.DecimalField(_("补货点"), default=Decimal("0"), **QTY,
                                        help_text=_("可用库存不高于此数时算作库存不足"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["warehouse_id", "product_id"]
        verbose_name = _("库存")
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "product"], name="stocklevel_unique"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stocklevel_reserved_not_negative"),
            models.CheckConstraint(condition=Q(reorder_level__gte=0), name="stocklevel_reorder_not_negative"),
        ]
        indexes = [models.Index(fields=["product", "warehouse"], name="stocklevel_product")]

    def __str__(self) -> str:
        return f"{self.warehouse_id}/{self.product_id}: {self.on_hand} ({self.reserved} reserved)"

    @property
    def available(self) -> Decimal:
        return self.on_hand - self.reserved

    def is_low(self) -> bool:
        return self.available <= self.reorder_level


class StockMovement(models.Model):
    """The stock ledger: one row per change of one stock level. Summing ``on_hand_delta``
    (``reserved_delta``) over a level's rows gives its on_hand (reserved)."""

    kind = models.CharField(_("类型"), max_length=16, choices=MovementKind.choices)
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+", verbose_name=_("仓库"))
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="movements",
                                verbose_name=_("产品"))
    quantity = models.DecimalField(_("数量"), **QTY, help_text=_("本次变动的数量（正数）"))
    on_hand_delta = models.DecimalField(**QTY, default=Decimal("0"))
    reserved_delta = models.DecimalField(**QTY, default=Decimal("0"))
    on_hand_after = models.DecimalField(**QTY)
    reserved_after = models.DecimalField(**QTY)
    reference_type = models.CharField(_("关联单据类型"), max_length=32, blank=True)
    reference_id = models.CharField(_("关联单据编号"), max_length=64, blank=True)
    external_id = models.CharField(_("外部编号"), max_length=100, null=True, blank=True,
                                   help_text=_("如发货单号；同一外部编号的发货只记一次"))
    corrects = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="corrected_by", verbose_name=_("冲正的记录"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("操作人"))
    note = models.CharField(_("备注"), max_length=500, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("库存流水")
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="stockmovement_quantity_positive"),
            models.UniqueConstraint(fields=["external_id", "warehouse", "product"],
                                    condition=Q(kind=MovementKind.SHIPMENT, external_id__isnull=False),
                                    name="stockmovement_shipment_once"),
        ]
        indexes = [
            models.Index(fields=["product", "-at", "-id"], name="movement_product"),
            models.Index(fields=["warehouse", "-at", "-id"], name="movement_warehouse"),
            models.Index(fields=["reference_type", "reference_id"], name="movement_reference",
                         condition=~Q(reference_type="")),
            models.Index(fields=["-at", "-id"], name="movement_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} of {self.product_id} at {self.warehouse_id}"


class CatalogSettings(models.Model):
    """Per-tenant stock rules (one row)."""

    allow_backorders = models.BooleanField(
        _("允许缺货预留"), default=False,
        help_text=_("允许预留或发货超过可用库存（实物库存可为负）"))
    default_warehouse = models.ForeignKey(Warehouse, null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="+", verbose_name=_("默认仓库"))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("库存设置")
        constraints = [models.CheckConstraint(condition=Q(id=1), name="catalogsettings_singleton")]

    def __str__(self) -> str:
        return f"backorders {'on' if self.allow_backorders else 'off'}"
