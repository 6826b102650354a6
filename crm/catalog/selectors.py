"""Read-side queries of the catalog. The catalog is company data: every active staff member
sees all of it (``*_visible_to`` return nothing for anyone else), so the API and the pages
start every read here and an unknown id is a 404 the same way as elsewhere."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, Exists, F, OuterRef, Q, QuerySet, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from . import search
from .enums import DEFAULT_PRODUCT_SORT, PRODUCT_SORTS, MovementKind, PriceListKind
from .models import (
    CatalogSettings,
    Category,
    PriceList,
    PriceListItem,
    Product,
    StockLevel,
    StockMovement,
    Warehouse,
)
from .permissions import can_view_catalog


def _visible(qs: QuerySet, actor) -> QuerySet:
    return qs if can_view_catalog(actor) else qs.none()


# -- categories --------------------------------------------------------------------------------
def category_list_visible_to(*, actor, include_inactive: bool = False) -> QuerySet[Category]:
    qs = Category.objects.all()
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return _visible(qs, actor).order_by("path")


def category_get(*, actor, category_id) -> Category:
    """Category.DoesNotExist when there is no such category (a 404)."""
    return _visible(Category.objects.all(), actor).get(pk=category_id)


def category_subtree_ids(*, category: Category) -> list[int]:
    return list(Category.objects.filter(path__startswith=category.path).values_list("pk", flat=True))


# -- products -----------------------------------------------------------------------------------
def product_list_visible_to(*, actor) -> QuerySet[Product]:
    return _visible(Product.objects.select_related("category"), actor)


def product_get(*, actor, product_id) -> Product:
    """Product.DoesNotExist when there is no such product (a 404)."""
    return product_list_visible_to(actor=actor).get(pk=product_id)


def product_list(*, actor, q: str = "", category_id=None, active: bool | None = True,
                 sort: str = DEFAULT_PRODUCT_SORT) -> QuerySet[Product]:
    """Products filtered by a search text (SKU prefix, name fragment, pinyin), a category
    (with its sub-categories) and the active flag (None: both), in one of PRODUCT_SORTS.
    A malformed filter raises ValidationError naming the parameter."""
    if sort not in PRODUCT_SORTS:
        raise ValidationError({"sort": _("排序方式“%(sort)s”不存在，可选：%(choices)s") % {
            "sort": sort, "choices": ", ".join(PRODUCT_SORTS)}})
    qs = product_list_visible_to(actor=actor)
    if active is not None:
        qs = qs.filter(is_active=active)
    if category_id not in (None, ""):
        try:
            category = Category.objects.get(pk=int(category_id))
        except (TypeError, ValueError, Category.DoesNotExist):
            raise ValidationError({"category": _("分类不存在。")}) from None
        qs = qs.filter(category__in=category_subtree_ids(category=category))
    if q and q.strip():
        if len(q) > 100:
            raise ValidationError({"q": _("搜索内容最长 100 个字符。")})
        parsed = search.parse_product_query(q)
        qs = search.product_match(qs, parsed) if parsed else qs.none()
    return qs.order_by(*PRODUCT_SORTS[sort])


def product_search_as_you_type(*, actor, q: str, limit: int = 10, include_inactive: bool = False) -> list[Product]:
    """The best matches for a box that searches while the user types (see crm.catalog.search)."""
    qs = product_list_visible_to(actor=actor)
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return search.product_search(qs, (q or "")[:100], limit=max(1, min(limit, 50)))


def product_prices(*, actor, product: Product) -> list[PriceListItem]:
    """Every price list entry of a product: standard lists first, then by kind and level."""
    standard_first = Case(When(price_list__kind=PriceListKind.STANDARD, then=Value(0)), default=Value(1))
    return list(PriceListItem.objects.filter(product=product, price_list__in=_visible(PriceList.objects.all(), actor))
                .select_related("price_list").order_by(standard_first, "price_list__kind", "price_list__code",
                                                       "price_list__name", "price_list_id", "min_quantity"))


# -- price lists ------------------------------------------------------------------------------------
def price_list_list(*, actor, include_inactive: bool = True) -> QuerySet[PriceList]:
    qs = PriceList.objects.annotate(item_count=Count("items"))
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return _visible(qs, actor).order_by("kind", "code", "name", "id")


def price_list_get(*, actor, price_list_id) -> PriceList:
    return price_list_list(actor=actor).get(pk=price_list_id)


def price_list_items(*, price_list: PriceList) -> QuerySet[PriceListItem]:
    return price_list.items.select_related("product").order_by("product__sku", "min_quantity", "id")


@dataclass(frozen=True)
class ResolvedPrice:
    """The unit price of a product for a quantity, and where it comes from. Unpacks as
    ``unit_price, source = price_for(...)``."""

    unit_price: Decimal
    source: str
    currency: str
    price_list_id: int | None = None
    item_id: int | None = None
    min_quantity: Decimal | None = None

    def __iter__(self) -> Iterator:
        return iter((self.unit_price, self.source))


def _valid_on(day: datetime.date) -> Q:
    return (Q(price_list__is_active=True)
            & (Q(price_list__valid_from__isnull=True) | Q(price_list__valid_from__lte=day))
            & (Q(price_list__valid_to__isnull=True) | Q(price_list__valid_to__gte=day)))


def price_for(*, product_id: int, quantity: Decimal | int | str, customer_level: str = "",
              partner_tier: str = "", on: datetime.date | None = None) -> ResolvedPrice:
    """The unit price of ``quantity`` of a product on day ``on`` (today by default).

    Precedence:
    1. a special list: a customer-level list for ``customer_level`` or a partner-tier list
       for ``partner_tier``, active and valid on the day (valid_from and valid_to inclusive);
    2. else a standard list, active and valid on the day;
    3. else the product's own list price.
    Within a step, the entry with the highest min_quantity not above ``quantity`` wins (the
    volume break); on a tie the lower unit price, then the newer list. Product.DoesNotExist
    for an unknown product."""
    quantity = Decimal(str(quantity))
    product = Product.objects.only("list_price", "currency").get(pk=product_id)
    return prices_for(products=[product], quantities=[quantity], customer_level=customer_level,
                      partner_tier=partner_tier, on=on)[0]


def prices_for(*, products: Sequence[Product], quantities: Sequence[Decimal], customer_level: str = "",
               partner_tier: str = "", on: datetime.date | None = None) -> list[ResolvedPrice]:
    """``price_for`` of many lines at once (an order's or a quote's): the price of
    ``quantities[i]`` of ``products[i]`` (Product rows with list_price and currency loaded),
    with one query for all the lines, whatever their number."""
    if len(products) != len(quantities):
        raise ValueError("products and quantities differ in length")
    if not products:
        return []
    day = on or timezone.localdate()
    quantities = [Decimal(str(q)) for q in quantities]
    kinds = Q(price_list__kind=PriceListKind.STANDARD)
    if customer_level:
        kinds |= Q(price_list__kind=PriceListKind.CUSTOMER_LEVEL, price_list__code=customer_level)
    if partner_tier:
        kinds |= Q(price_list__kind=PriceListKind.PARTNER_TIER, price_list__code=partner_tier)
    rows = (PriceListItem.objects.filter(_valid_on(day), kinds, product_id__in={p.pk for p in products},
                                         min_quantity__lte=max(quantities))
            .select_related("price_list")
            .order_by("-min_quantity", "unit_price", "-price_list__valid_from", "-price_list_id"))
    by_product: dict[int, list[PriceListItem]] = {}
    for item in rows:  # already in the order of preference within a step
        by_product.setdefault(item.product_id, []).append(item)
    out = []
    for product, quantity in zip(products, quantities, strict=True):
        candidates = [i for i in by_product.get(product.pk, ()) if i.min_quantity <= quantity]
        special = [i for i in candidates if i.price_list.kind != PriceListKind.STANDARD]
        standard = [i for i in candidates if i.price_list.kind == PriceListKind.STANDARD]
        item = (special or standard or [None])[0]
        if item is None:
            out.append(ResolvedPrice(product.list_price, _("产品目录价"), product.currency))
            continue
        price_list = item.price_list
        source = _("价格表“%(name)s”（%(kind)s%(code)s，起订量 %(min)s）") % {
            "name": price_list.name, "kind": price_list.get_kind_display(),
            "code": f" {price_list.code}" if price_list.code else "",
            "min": quantity_text(item.min_quantity)}
        out.append(ResolvedPrice(item.unit_price, source, price_list.currency, price_list.pk, item.pk,
                                 item.min_quantity))
    return out


def quantity_text(value: Decimal) -> str:
    """1.000 -> "1", 2.500 -> "2.5" (for messages)."""
    text = f"{Decimal(value).normalize():f}"
    return text


# -- warehouses and stock ----------------------------------------------------------------------------
def warehouse_list(*, actor, include_inactive: bool = True) -> QuerySet[Warehouse]:
    qs = Warehouse.objects.select_related("region")
    if not include_inactive:
        qs = qs.filter(is_active=True)
    return _visible(qs, actor).order_by("-is_active", "code")


def warehouse_get(*, actor, warehouse_id) -> Warehouse:
    return warehouse_list(actor=actor).get(pk=warehouse_id)


def catalog_settings_get() -> CatalogSettings:
    row, _created = CatalogSettings.objects.select_related("default_warehouse").get_or_create(id=1)
    return row


def stock_for_product(*, actor, product_id) -> list[StockLevel]:
    return list(_visible(StockLevel.objects.filter(product_id=product_id), actor)
                .select_related("warehouse").order_by("warehouse__code"))


def stock_list(*, actor, warehouse_id=None, product_id=None, low: bool = False) -> QuerySet[StockLevel]:
    """Stock levels, optionally of one warehouse or one product; ``low``: those whose
    available quantity (on hand - reserved) is at or below their reorder level."""
    qs = _visible(StockLevel.objects.select_related("warehouse", "product"), actor)
    for name, value in (("warehouse", warehouse_id), ("product", product_id)):
        if value not in (None, ""):
            if not str(value).isdigit():
                raise ValidationError({name: _("请输入有效的编号。")})
            qs = qs.filter(**{f"{name}_id": int(value)})
    if low:
        qs = qs.filter(on_hand__lte=F("reserved") + F("reorder_level"))
    return qs.order_by("product__sku", "warehouse__code", "id")


def movement_list(*, actor, product_id=None, warehouse_id=None, kind: str = "", reference_type: str = "",
                  reference_id: str = "") -> QuerySet[StockMovement]:
    qs = _visible(StockMovement.objects.select_related("product", "warehouse", "actor"), actor)
    for name, value in (("product", product_id), ("warehouse", warehouse_id)):
        if value not in (None, ""):
            if not str(value).isdigit():
                raise ValidationError({name: _("请输入有效的编号。")})
            qs = qs.filter(**{f"{name}_id": int(value)})
    if kind:
        if kind not in MovementKind.values:
            raise ValidationError({"kind": _("类型必须是：%(choices)s") % {"choices": ", ".join(MovementKind.values)}})
        qs = qs.filter(kind=kind)
    if reference_type:
        qs = qs.filter(reference_type=reference_type)
        if reference_id not in (None, ""):
            qs = qs.filter(reference_id=str(reference_id))
    return qs.order_by("-at", "-id")


def stock_held_by_reference(*, reference_type: str, reference_id) -> dict[tuple[int, int], Decimal]:
    """What a document (e.g. ("order", 42)) still holds reserved: {(warehouse_id, product_id): qty}."""
    rows = (StockMovement.objects.filter(reference_type=reference_type, reference_id=str(reference_id))
            .values("warehouse_id", "product_id").annotate(held=Sum("reserved_delta")).order_by())
    return {(r["warehouse_id"], r["product_id"]): r["held"] for r in rows if r["held"]}


def unscoped_warehouse_active(*, warehouse_id) -> Warehouse | None:
    """An active warehouse by id, for the system (an ERP message applied without a staff
    actor); staff go through warehouse_list."""
    return Warehouse.objects.filter(pk=warehouse_id, is_active=True).first()


def unscoped_stock_target(*, sku: str, warehouse_code: str) -> tuple[Product | None, Warehouse | None]:
    """The product with this SKU and the warehouse with this code (either None when unknown),
    for the system (stock levels an ERP posts); staff go through the scoped selectors."""
    product = Product.objects.filter(sku=sku).first() if sku else None
    warehouse = Warehouse.objects.filter(code=warehouse_code).first() if warehouse_code else None
    return product, warehouse


# -- the partner portal's catalog ---------------------------------------------------------------------
def tier_offer(*, tier_code: str, product_ids=None, on: datetime.date | None = None) -> dict[int, Decimal]:
    """The products a partner of tier ``tier_code`` may order (each active and on an active
    partner-tier price list of that code valid on ``on``), with their minimum order quantity
    (the smallest min_quantity of their entries on those lists)."""
    from django.db.models import Min

    day = on or timezone.localdate()
    qs = PriceListItem.objects.filter(_valid_on(day), price_list__kind=PriceListKind.PARTNER_TIER,
                                      price_list__code=tier_code, product__is_active=True)
    if product_ids is not None:
        qs = qs.filter(product_id__in=list(product_ids))
    return dict(qs.values_list("product_id").annotate(m=Min("min_quantity")).values_list("product_id", "m"))


def tier_offer_products(*, tier_code: str, on: datetime.date | None = None) -> QuerySet[Product]:
    """The Product rows of ``tier_offer`` (for the portal's catalog pages; filter and page further)."""
    day = on or timezone.localdate()
    items = PriceListItem.objects.filter(_valid_on(day), price_list__kind=PriceListKind.PARTNER_TIER,
                                         price_list__code=tier_code, product_id=OuterRef("pk"))
    return Product.objects.filter(Exists(items), is_active=True).select_related("category")
