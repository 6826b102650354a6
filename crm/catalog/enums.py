from django.db import models
from django.utils.translation import gettext_lazy as _


class PriceListKind(models.TextChoices):
    """Whom a price list applies to. ``standard`` lists apply to everyone; the others to the
    customers of one level (crm.customers CustomerLevel: A, B, C, D) or the partners of one
    tier (e.g. gold, silver)."""

    STANDARD = "standard", _("标准价")
    CUSTOMER_LEVEL = "customer_level", _("客户等级价")
    PARTNER_TIER = "partner_tier", _("渠道级别价")


class MovementKind(models.TextChoices):
    """Every change of a stock level is one ledger row of one of these kinds."""

    RECEIPT = "receipt", _("入库")
    ADJUSTMENT = "adjustment", _("盘点调整")
    RESERVATION = "reservation", _("预留")
    RELEASE = "release", _("释放预留")
    SHIPMENT = "shipment", _("出库发货")
    CORRECTION = "correction", _("冲正")


# The sorts the product list offers: (key, ordering). The id breaks ties, so a cursor page
# boundary is never ambiguous.
PRODUCT_SORTS: dict[str, tuple[str, ...]] = {
    "sku": ("sku",),
    "-sku": ("-sku",),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "-updated_at": ("-updated_at", "-id"),
    "updated_at": ("updated_at", "id"),
    "list_price": ("list_price", "id"),
    "-list_price": ("-list_price", "-id"),
}
DEFAULT_PRODUCT_SORT = "sku"

DEFAULT_CURRENCY = "CNY"
DEFAULT_TAX_RATE = "0.13"  # the general VAT rate on goods in China
