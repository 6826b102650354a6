"""The catalog as a partner (distributor) sees it in the portal: only the products on their
tier's price list (crm.catalog.selectors.tier_offer_products), at their tier's price, with the
minimum order quantity, and availability as "in stock", "low" or "out" (from the stock levels:
on hand minus reserved, against PartnerSettings.low_stock_threshold). Exact figures only when
the tenant allows it (PartnerSettings.stock_display == "exact"). No cost, no other lists' prices.

Every function takes the portal user (``actor``) and reads their partner's tier; a user who is
not an active partner user gets nothing."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from django.utils.translation import gettext as _

from . import search
from .models import Category, Product, StockLevel
from .selectors import category_subtree_ids, prices_for, tier_offer, tier_offer_products

IN_STOCK, LOW, OUT = "in_stock", "low", "out"
AVAILABILITY_LABELS = {IN_STOCK: "有货", LOW: "库存紧张", OUT: "缺货"}


def _tier_of(actor) -> str | None:
    from crm.partners.selectors import portal_member_active

    member = portal_member_active(actor)
    return member.partner.tier.code if member is not None else None


def availability_label(state: str) -> str:
    return _(AVAILABILITY_LABELS.get(state, state))


@dataclass
class PortalProduct:
    product: Product
    unit_price: Decimal
    min_quantity: Decimal
    availability: str  # in_stock, low, out
    available: Decimal | None  # only when the tenant shows exact figures

    @property
    def availability_label(self) -> str:
        return availability_label(self.availability)


def portal_catalog(*, actor, q: str = "", category_id=None) -> QuerySet[Product]:
    """The products the partner may order, filtered by a search text (SKU, name, pinyin) and a
    category (with its sub-categories), by SKU. ValidationError naming the bad parameter."""
    tier = _tier_of(actor)
    if tier is None:
        return Product.objects.none()
    qs = tier_offer_products(tier_code=tier)
    if category_id not in (None, ""):
        try:
            category = Category.objects.get(pk=int(category_id), is_active=True)
        except (TypeError, ValueError, Category.DoesNotExist):
            raise ValidationError({"category": _("分类不存在。")}) from None
        qs = qs.filter(category__in=category_subtree_ids(category=category))
    if q and q.strip():
        if len(q) > 100:
            raise ValidationError({"q": _("搜索内容最长 100 个字符。")})
        parsed = search.parse_product_query(q)
        qs = search.product_match(qs, parsed) if parsed else qs.none()
    return qs.order_by("sku", "id")


def portal_categories(*, actor) -> list[Category]:
    """The categories of the products the partner may order (and their ancestors, for the filter)."""
    tier = _tier_of(actor)
    if tier is None:
        return []
    ids = set(tier_offer_products(tier_code=tier).exclude(category=None).values_list("category_id", flat=True))
    if not ids:
        return []
    cats = list(Category.objects.filter(pk__in=ids, is_active=True))
    # the materialised path ("000001.000004.") names every ancestor
    parent_ids = {int(p) for c in cats for p in (c.path or "").split(".") if p.isdigit()} - ids
    if parent_ids:
        cats += list(Category.objects.filter(pk__in=parent_ids, is_active=True))
    return sorted(cats, key=lambda c: (c.path or "", c.pk))


def stock_available(*, product_ids) -> dict[int, Decimal]:
    """On hand minus reserved, over the active warehouses, per product."""
    rows = (StockLevel.objects.filter(product_id__in=list(product_ids), warehouse__is_active=True)
            .values("product_id").annotate(on_hand=Sum("on_hand"), reserved=Sum("reserved")))
    return {r["product_id"]: (r["on_hand"] or Decimal("0")) - (r["reserved"] or Decimal("0")) for r in rows}


def portal_products(*, actor, products) -> list[PortalProduct]:
    """The partner's price (at the minimum order quantity), the minimum and the availability of
    ``products`` (a page of ``portal_catalog``), in their order. Two queries whatever the page size
    (plus the settings row)."""
    from crm.partners.selectors import partner_settings_get

    tier = _tier_of(actor)
    products = list(products)
    if tier is None or not products:
        return []
    offer = tier_offer(tier_code=tier, product_ids=[p.pk for p in products])
    products = [p for p in products if p.pk in offer]
    minimums = [offer[p.pk] for p in products]
    prices = prices_for(products=products, quantities=minimums, partner_tier=tier)
    settings = partner_settings_get()
    exact = settings.stock_display == "exact"
    stock = stock_available(product_ids=[p.pk for p in products])
    rows = []
    for product, minimum, price in zip(products, minimums, prices, strict=True):
        free = stock.get(product.pk, Decimal("0"))
        state = OUT if free <= 0 else LOW if free <= settings.low_stock_threshold else IN_STOCK
        rows.append(PortalProduct(product=product, unit_price=price.unit_price, min_quantity=minimum,
                                  availability=state, available=max(free, Decimal("0")) if exact else None))
    return rows


def portal_product_get(*, actor, product_id) -> PortalProduct:
    """One product of the partner's list; Product.DoesNotExist (404) when it is not on it."""
    try:
        pk = int(product_id)
    except (TypeError, ValueError):
        raise Product.DoesNotExist from None
    product = portal_catalog(actor=actor).filter(pk=pk).first()
    rows = portal_products(actor=actor, products=[product]) if product is not None else []
    if not rows:
        raise Product.DoesNotExist
    return rows[0]


def portal_products_by_sku(*, actor, skus) -> dict[str, Product]:
    """Products by SKU (the key upper-cased), for the cart and the spreadsheet import. Any
    product with the SKU is returned: the order service then says why it cannot be ordered
    (not on the list, inactive, below the minimum)."""
    if _tier_of(actor) is None:
        return {}
    typed = {str(s).strip() for s in skus if str(s).strip()}
    if not typed:
        return {}
    rows = Product.objects.filter(sku__in=typed | {s.upper() for s in typed}).only(
        "id", "sku", "name", "unit", "is_active")
    return {p.sku.upper(): p for p in rows}


def portal_products_by_id(*, actor, product_ids) -> dict[int, Product]:
    """Products by id, for showing the lines of a cart (what the user put in it)."""
    if _tier_of(actor) is None:
        return {}
    return Product.objects.in_bulk([int(p) for p in product_ids])
