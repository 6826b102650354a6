"""Write-side operations of the catalog: categories, products, price lists, warehouses and
stock. Keyword-only, transactional, audited. ``actor=None`` is the system (demo data,
tasks); a staff actor needs ``catalog.manage`` (products, categories, price lists) or
``catalog.manage_stock`` (warehouses, receipts, counts, stock settings).

The stock services that orders call (``stock_reserve``, ``stock_release``, ``stock_ship``)
need no permission of their own: the calling document decides who may trigger them. Each
change of a stock level is a StockMovement row (who, when, which document, how much, the
balances after), which is their audit trail; the manual operations (receipts, counts,
corrections) also write an audit row.

Locking: every stock operation takes a transaction-scoped advisory lock on its document
(``reference_type``/``reference_id``) first, then locks the StockLevel rows it changes with
SELECT ... FOR UPDATE in id order, so concurrent operations on the same stock wait for each
other instead of deadlocking, and the checks (available, idempotence) run on locked, current
values. A caller that runs several stock operations in one outer transaction should order
them by document, for the same reason.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.customers.enums import CustomerLevel
from crm.inputs import clean_currency, clean_text
from crm.org.selectors import region_get_active
from crm.org.services import StaleVersion

from . import search
from .enums import DEFAULT_CURRENCY, DEFAULT_TAX_RATE, MovementKind, PriceListKind
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
from .permissions import can_manage_catalog, can_manage_stock
from .selectors import catalog_settings_get, quantity_text, stock_held_by_reference

__all__ = ["StaleVersion"]  # re-exported: one exception for every stale edit (412 in the API)

CATEGORY_FIELDS = ("name", "parent", "is_active")
PRODUCT_FIELDS = ("sku", "name", "spec", "unit", "category", "tax_rate", "list_price", "currency",
                  "description", "is_active")
PRICE_LIST_FIELDS = ("name", "kind", "code", "currency", "valid_from", "valid_to", "is_active")
WAREHOUSE_FIELDS = ("code", "name", "address", "region", "is_active")

MAX_MONEY = Decimal("999999999999.99")  # Decimal(14, 2)
MAX_QTY = Decimal("99999999999.999")  # Decimal(14, 3)
_SKU = re.compile(r"^[A-Z0-9][A-Z0-9._/\-]{0,63}$")
_WAREHOUSE_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,31}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TIER = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,31}$")


class DuplicateSku(ValidationError):
    """Another product has this SKU (forms show it on the field; the API answers 409)."""

    def __init__(self, existing: Product):
        super().__init__({"sku": _("SKU“%(sku)s”已被产品“%(name)s”使用。") % {
            "sku": existing.sku, "name": existing.name}}, code="duplicate_sku")
        self.existing = existing


@dataclass
class StockResult:
    """What a stock operation did: ``changed`` is False when it was already done (a retry),
    ``movements`` the ledger rows it wrote, ``held`` what the document holds reserved after
    it: {(warehouse_id, product_id): quantity}."""

    changed: bool
    movements: list[StockMovement] = field(default_factory=list)
    held: dict[tuple[int, int], Decimal] = field(default_factory=dict)


# -- checks --------------------------------------------------------------------------------------
def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _catalog_manager(actor) -> None:
    if actor is not None:
        _require(can_manage_catalog(actor), _("你没有管理产品目录的权限。"))


def _stock_manager(actor) -> None:
    if actor is not None:
        _require(can_manage_stock(actor), _("你没有管理仓库与库存的权限。"))


def _active_actor(actor) -> None:
    if actor is not None:
        _require(bool(getattr(actor, "is_authenticated", False) and actor.is_active), _("只有在职员工可以操作库存。"))


def _decimal(value, *, field_name: str, places: int, maximum: Decimal, positive: bool = False,
             label: str = "") -> Decimal:
    """A Decimal with at most ``places`` decimals, > 0 (``positive``) or >= 0."""
    label = label or field_name
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError({field_name: _("%(label)s 必须是数字。") % {"label": label}}) from None
    if not number.is_finite():
        raise ValidationError({field_name: _("%(label)s 必须是数字。") % {"label": label}})
    if positive and number <= 0:
        raise ValidationError({field_name: _("%(label)s 必须大于 0。") % {"label": label}})
    if number < 0:
        raise ValidationError({field_name: _("%(label)s 不能为负数。") % {"label": label}})
    if number != number.quantize(Decimal(1).scaleb(-places)):
        raise ValidationError({field_name: _("%(label)s 最多保留 %(places)s 位小数。") % {
            "label": label, "places": places}})
    if number > maximum:
        raise ValidationError({field_name: _("%(label)s 超出允许的最大值。") % {"label": label}})
    return number.quantize(Decimal(1).scaleb(-places))


def _money(value, field_name: str, *, positive: bool) -> Decimal:
    return _decimal(value, field_name=field_name, places=2, maximum=MAX_MONEY, positive=positive,
                    label=_("价格") if field_name != "list_price" else _("目录价"))


def _quantity(value, field_name: str = "quantity") -> Decimal:
    return _decimal(value, field_name=field_name, places=3, maximum=MAX_QTY, positive=True, label=_("数量"))


def _text(value, *, field_name: str, max_length: int, required: bool = False, label: str = "") -> str:
    return clean_text(value, field=field_name, label=label or field_name, max_length=max_length, required=required)


def _currency(value) -> str:
    return clean_currency(value, default=DEFAULT_CURRENCY)


def _save_changes(instance, clean: dict, *, actor, audited: Sequence[str]):
    """Set the cleaned values that differ, bump the version, save only those columns and
    write the update's audit row; nothing at all when nothing differs."""
    before = audit_snapshot(instance, audited)
    changed = [k for k, v in clean.items() if getattr(instance, k) != v]
    if not changed:
        return instance
    for key in changed:
        setattr(instance, key, clean[key])
    instance.version = F("version") + 1
    instance.save(update_fields=[*changed, "version", "updated_at"])
    instance.refresh_from_db()
    audit_record(actor=actor, instance=instance, action="update",
                 changes=audit_diff(before, audit_snapshot(instance, audited)))
    return instance


def _pk(value, field_name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError({field_name: _("请输入有效的编号。")}) from None


# -- categories ------------------------------------------------------------------------------------
def _category_or_error(category_id, field_name: str = "parent_id", *, active: bool = True) -> Category | None:
    if category_id in (None, ""):
        return None
    category = Category.objects.filter(pk=_pk(category_id, field_name)).first()
    if category is None or (active and not category.is_active):
        raise ValidationError({field_name: _("分类不存在或已停用。")})
    return category


def _category_name_taken(name: str, parent_id, exclude_id=None) -> bool:
    qs = Category.objects.filter(parent_id=parent_id, name=name)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.exists()


@transaction.atomic
def category_create(*, actor, name: str, parent_id: int | None = None) -> Category:
    _catalog_manager(actor)
    name = _text(name, field_name="name", max_length=100, required=True, label=_("分类名称"))
    parent = _category_or_error(parent_id)
    if _category_name_taken(name, parent.pk if parent else None):
        raise ValidationError({"name": _("同一上级下已有名为“%(name)s”的分类。") % {"name": name}})
    category = Category(name=name, parent=parent, path="")
    category.save()
    category.path = f"{parent.path if parent else ''}{category.pk:06d}."
    category.save(update_fields=["path"])
    audit_record(actor=actor, instance=category, action="create",
                 changes=audit_diff({}, audit_snapshot(category, CATEGORY_FIELDS)))
    return category


@transaction.atomic
def category_update(*, actor, category_id: int, name: str) -> Category:
    """Rename a category (moving is category_move)."""
    _catalog_manager(actor)
    category = Category.objects.select_for_update().get(pk=category_id)
    name = _text(name, field_name="name", max_length=100, required=True, label=_("分类名称"))
    before = audit_snapshot(category, CATEGORY_FIELDS)
    if name != category.name:
        if _category_name_taken(name, category.parent_id, exclude_id=category.pk):
            raise ValidationError({"name": _("同一上级下已有名为“%(name)s”的分类。") % {"name": name}})
        category.name = name
        category.save(update_fields=["name", "updated_at"])
        audit_record(actor=actor, instance=category, action="update",
                     changes=audit_diff(before, audit_snapshot(category, CATEGORY_FIELDS)))
    return category


@transaction.atomic
def category_move(*, actor, category_id: int, parent_id: int | None) -> Category:
    """Move a category (with its sub-categories) under another one, or to the top."""
    _catalog_manager(actor)
    category = Category.objects.select_for_update().get(pk=category_id)
    parent = _category_or_error(parent_id)
    if parent is not None and parent.path.startswith(category.path):
        raise ValidationError({"parent_id": _("不能把分类移动到它自己或它的下级之下。")})
    if (parent.pk if parent else None) == category.parent_id:
        return category
    if _category_name_taken(category.name, parent.pk if parent else None, exclude_id=category.pk):
        raise ValidationError({"parent_id": _("目标上级下已有名为“%(name)s”的分类。") % {"name": category.name}})
    before = audit_snapshot(category, CATEGORY_FIELDS)
    old_path = category.path
    new_path = f"{parent.path if parent else ''}{category.pk:06d}."
    subtree = list(Category.objects.select_for_update().filter(path__startswith=old_path).order_by("pk"))
    for node in subtree:
        node.path = new_path + node.path[len(old_path):]
    Category.objects.bulk_update(subtree, ["path"])
    category.parent = parent
    category.path = new_path
    category.save(update_fields=["parent", "path", "updated_at"])
    audit_record(actor=actor, instance=category, action="update",
                 changes=audit_diff(before, audit_snapshot(category, CATEGORY_FIELDS)))
    return category


@transaction.atomic
def category_deactivate(*, actor, category_id: int) -> Category:
    """Deactivate a category and its sub-categories: they leave the pickers; products keep
    their category."""
    _catalog_manager(actor)
    category = Category.objects.select_for_update().get(pk=category_id)
    nodes = list(Category.objects.select_for_update().filter(path__startswith=category.path, is_active=True)
                 .order_by("pk"))
    for node in nodes:
        node.is_active = False
        node.save(update_fields=["is_active", "updated_at"])
        audit_record(actor=actor, instance=node, action="deactivate",
                     changes={"is_active": {"old": True, "new": False}})
    category.refresh_from_db()
    return category


@transaction.atomic
def category_reactivate(*, actor, category_id: int) -> Category:
    _catalog_manager(actor)
    category = Category.objects.select_for_update().get(pk=category_id)
    if category.parent_id and not category.parent.is_active:
        raise ValidationError({"parent_id": _("上级分类已停用，请先恢复上级分类。")})
    if not category.is_active:
        category.is_active = True
        category.save(update_fields=["is_active", "updated_at"])
        audit_record(actor=actor, instance=category, action="reactivate",
                     changes={"is_active": {"old": False, "new": True}})
    return category


# -- products --------------------------------------------------------------------------------------
def _clean_product(data: dict, *, partial: bool) -> dict:
    clean: dict = {}
    errors: dict[str, str] = {}

    def run(name, fn):
        try:
            clean[name] = fn()
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})

    if "sku" in data or not partial:
        def sku():
            value = search.sku_normalize(data.get("sku") or "")
            if not value:
                raise ValidationError({"sku": _("SKU 不能为空。")})
            if not _SKU.match(value):
                raise ValidationError({"sku": _("SKU 只能包含字母、数字和 - _ . /，最长 64 个字符，且以字母或数字开头。")})
            return value
        run("sku", sku)
    if "name" in data or not partial:
        run("name", lambda: _text(data.get("name"), field_name="name", max_length=200, required=True,
                                  label=_("产品名称")))
    if "spec" in data:
        run("spec", lambda: _text(data.get("spec"), field_name="spec", max_length=200, label=_("规格型号")))
    if "unit" in data or not partial:
        run("unit", lambda: _text(data.get("unit") or ("" if partial else "台"), field_name="unit",
                                  max_length=16, required=True, label=_("单位")))
    if "description" in data:
        run("description", lambda: _text(data.get("description"), field_name="description", max_length=5000,
                                         label=_("描述")))
    if "category_id" in data:
        run("category", lambda: _category_or_error(data.get("category_id"), "category_id"))
    if "tax_rate" in data or not partial:
        def tax():
            raw = data.get("tax_rate")
            return _decimal(DEFAULT_TAX_RATE if raw in (None, "") else raw, field_name="tax_rate", places=4,
                            maximum=Decimal("0.9999"), label=_("税率"))
        run("tax_rate", tax)
    if "list_price" in data or not partial:
        run("list_price", lambda: _money(data.get("list_price"), "list_price", positive=False)
            if data.get("list_price") not in (None, "") else _raise({"list_price": _("请填写目录价。")}))
    if "currency" in data or not partial:
        run("currency", lambda: _currency(data.get("currency")))
    if errors:
        raise ValidationError(errors)
    return clean


def _raise(errors: dict):
    raise ValidationError(errors)


def _sku_holder(sku: str, exclude_id=None) -> Product | None:
    qs = Product.objects.filter(sku=sku)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.first()


def product_create(*, actor, data: dict) -> Product:
    """Create a product. ``data``: sku, name, spec, unit, category_id, tax_rate, list_price,
    currency, description. DuplicateSku when the SKU is taken; ValidationError otherwise."""
    _catalog_manager(actor)
    clean = _clean_product(data, partial=False)
    with transaction.atomic():
        existing = _sku_holder(clean["sku"])
        if existing is not None:
            raise DuplicateSku(existing)
        product = Product(**clean, created_by=actor if getattr(actor, "pk", None) else None)
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError:  # a concurrent create took the SKU first
            raise DuplicateSku(Product.objects.get(sku=clean["sku"])) from None
        search.product_index([product.pk])
        audit_record(actor=actor, instance=product, action="create",
                     changes=audit_diff({}, audit_snapshot(product, PRODUCT_FIELDS)))
    return product


def product_update(*, actor, product_id: int, data: dict, version: int | None = None) -> Product:
    """Edit a product; ``version`` is the version the client edited (StaleVersion if it is
    not the current one). Activation moves through product_deactivate / product_reactivate."""
    _catalog_manager(actor)
    clean = _clean_product({k: v for k, v in data.items() if k != "is_active"}, partial=True)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product_id)
        if version is not None and version != product.version:
            raise StaleVersion(current=product.version)
        if "sku" in clean and clean["sku"] != product.sku:
            existing = _sku_holder(clean["sku"], exclude_id=product.pk)
            if existing is not None:
                raise DuplicateSku(existing)
        before = audit_snapshot(product, PRODUCT_FIELDS)
        changed = [k for k, v in clean.items() if getattr(product, k) != v]
        if not changed:
            return product
        for key in changed:
            setattr(product, key, clean[key])
        product.version = F("version") + 1
        try:
            with transaction.atomic():
                product.save(update_fields=[*changed, "version", "updated_at"])
        except IntegrityError:
            raise DuplicateSku(Product.objects.get(sku=clean["sku"])) from None
        product.refresh_from_db()
        if {"sku", "name", "spec"} & set(changed):
            search.product_index([product.pk])
        audit_record(actor=actor, instance=product, action="update",
                     changes=audit_diff(before, audit_snapshot(product, PRODUCT_FIELDS)))
    return product


def _product_set_active(*, actor, product_id: int, active: bool) -> Product:
    _catalog_manager(actor)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product_id)
        if product.is_active == active:
            return product
        if active and product.category_id and not product.category.is_active:
            raise ValidationError({"category_id": _("产品所在分类已停用，请先恢复分类或更换分类。")})
        product.is_active = active
        product.version = F("version") + 1
        product.save(update_fields=["is_active", "version", "updated_at"])
        product.refresh_from_db()
        audit_record(actor=actor, instance=product, action="reactivate" if active else "deactivate",
                     changes={"is_active": {"old": not active, "new": active}})
    return product


def product_deactivate(*, actor, product_id: int) -> Product:
    """Take a product off sale: it stays in history, price lists and stock, but cannot be
    reserved, received or added to a price list."""
    return _product_set_active(actor=actor, product_id=product_id, active=False)


def product_reactivate(*, actor, product_id: int) -> Product:
    return _product_set_active(actor=actor, product_id=product_id, active=True)


# -- price lists --------------------------------------------------------------------------------------
def _clean_price_list(data: dict, *, partial: bool, current: PriceList | None = None) -> dict:
    clean: dict = {}
    errors: dict[str, str] = {}
    if "name" in data or not partial:
        try:
            clean["name"] = _text(data.get("name"), field_name="name", max_length=100, required=True,
                                  label=_("价格表名称"))
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    kind = data.get("kind", current.kind if current else PriceListKind.STANDARD) or PriceListKind.STANDARD
    if kind not in PriceListKind.values:
        errors["kind"] = _("类型必须是：%(choices)s") % {"choices": ", ".join(PriceListKind.values)}
    else:
        clean["kind"] = kind
        code = str(data.get("code", current.code if current else "") or "").strip()
        if kind == PriceListKind.STANDARD:
            if code:
                errors["code"] = _("标准价格表适用于所有客户，不需要填写等级或级别。")
            code = ""
        elif kind == PriceListKind.CUSTOMER_LEVEL:
            code = code.upper()
            if code not in CustomerLevel.values:
                errors["code"] = _("客户等级价格表需要选择客户等级：%(choices)s") % {
                    "choices": ", ".join(CustomerLevel.values)}
        else:
            code = code.lower()
            if not _TIER.match(code):
                errors["code"] = _("渠道级别价格表需要填写级别代码（小写字母、数字、- 或 _，例如 gold）。")
        clean["code"] = code
    if "currency" in data or not partial:
        try:
            clean["currency"] = _currency(data.get("currency"))
        except ValidationError as exc:
            errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    for name in ("valid_from", "valid_to"):
        if name in data:
            clean[name] = data[name] or None
    valid_from = clean.get("valid_from", current.valid_from if current else None)
    valid_to = clean.get("valid_to", current.valid_to if current else None)
    if valid_from and valid_to and valid_from > valid_to:
        errors["valid_to"] = _("失效日期不能早于生效日期。")
    if "is_active" in data:
        clean["is_active"] = bool(data["is_active"])
    if errors:
        raise ValidationError(errors)
    return clean


@transaction.atomic
def price_list_create(*, actor, data: dict) -> PriceList:
    """``data``: name, kind (standard, customer_level, partner_tier), code (the customer level
    or partner tier), currency, valid_from, valid_to (inclusive), is_active."""
    _catalog_manager(actor)
    price_list = PriceList(**_clean_price_list(data, partial=False))
    price_list.save()
    audit_record(actor=actor, instance=price_list, action="create",
                 changes=audit_diff({}, audit_snapshot(price_list, PRICE_LIST_FIELDS)))
    return price_list


@transaction.atomic
def price_list_update(*, actor, price_list_id: int, data: dict, version: int | None = None) -> PriceList:
    _catalog_manager(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list_id)
    if version is not None and version != price_list.version:
        raise StaleVersion(current=price_list.version)
    clean = _clean_price_list(data, partial=True, current=price_list)
    return _save_changes(price_list, clean, actor=actor, audited=PRICE_LIST_FIELDS)


@transaction.atomic
def price_list_deactivate(*, actor, price_list_id: int) -> PriceList:
    """Price lists are never deleted (quotes and orders may name them): they stop applying."""
    _catalog_manager(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list_id)
    if price_list.is_active:
        price_list.is_active = False
        price_list.version = F("version") + 1
        price_list.save(update_fields=["is_active", "version", "updated_at"])
        price_list.refresh_from_db()
        audit_record(actor=actor, instance=price_list, action="deactivate",
                     changes={"is_active": {"old": True, "new": False}})
    return price_list


def _item_label(item: PriceListItem) -> str:
    return f"{item.product.sku} ≥{quantity_text(item.min_quantity)}"


def _active_product(product_id, field_name: str = "product_id") -> Product:
    product = Product.objects.filter(pk=_pk(product_id, field_name)).first()
    if product is None:
        raise ValidationError({field_name: _("产品不存在。")})
    if not product.is_active:
        raise ValidationError({field_name: _("产品“%(name)s”已停用。") % {"name": product.name}})
    return product


def _item_taken(price_list_id, product_id, min_quantity, exclude_id=None) -> bool:
    qs = PriceListItem.objects.filter(price_list_id=price_list_id, product_id=product_id, min_quantity=min_quantity)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.exists()


def _duplicate_item_error(product: Product, min_quantity: Decimal) -> ValidationError:
    return ValidationError({"min_quantity": _("价格表中已有产品“%(name)s”起订量 %(min)s 的价格。") % {
        "name": product.name, "min": quantity_text(min_quantity)}})


@transaction.atomic
def price_list_item_add(*, actor, price_list_id: int, product_id: int, unit_price,
                        min_quantity=Decimal("1")) -> PriceListItem:
    """A price of a product in a list, from ``min_quantity`` up (a volume break)."""
    _catalog_manager(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list_id)
    product = _active_product(product_id)
    price = _money(unit_price, "unit_price", positive=True)
    minimum = _quantity(min_quantity, "min_quantity")
    if _item_taken(price_list.pk, product.pk, minimum):
        raise _duplicate_item_error(product, minimum)
    item = PriceListItem(price_list=price_list, product=product, unit_price=price, min_quantity=minimum)
    item.save()
    audit_record(actor=actor, instance=price_list, action="update",
                 changes={_item_label(item): {"old": None, "new": str(price)}}, note=_("添加价格"))
    return item


@transaction.atomic
def price_list_item_update(*, actor, price_list_id: int, item_id: int, unit_price=None,
                           min_quantity=None) -> PriceListItem:
    _catalog_manager(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list_id)
    item = PriceListItem.objects.select_related("product").select_for_update(of=("self",)).get(
        pk=item_id, price_list=price_list)
    old_label, old_price = _item_label(item), str(item.unit_price)
    if unit_price is not None:
        item.unit_price = _money(unit_price, "unit_price", positive=True)
    if min_quantity is not None:
        item.min_quantity = _quantity(min_quantity, "min_quantity")
        if _item_taken(price_list.pk, item.product_id, item.min_quantity, exclude_id=item.pk):
            raise _duplicate_item_error(item.product, item.min_quantity)
    new_label, new_price = _item_label(item), str(item.unit_price)
    if (new_label, new_price) == (old_label, old_price):
        return item
    item.save(update_fields=["unit_price", "min_quantity", "updated_at"])
    changes = ({old_label: {"old": old_price, "new": new_price}} if new_label == old_label else
               {old_label: {"old": old_price, "new": None}, new_label: {"old": None, "new": new_price}})
    audit_record(actor=actor, instance=price_list, action="update", changes=changes, note=_("修改价格"))
    return item


@transaction.atomic
def price_list_item_remove(*, actor, price_list_id: int, item_id: int) -> None:
    _catalog_manager(actor)
    price_list = PriceList.objects.select_for_update().get(pk=price_list_id)
    item = PriceListItem.objects.select_related("product").get(pk=item_id, price_list=price_list)
    label, price = _item_label(item), str(item.unit_price)
    item.delete()
    audit_record(actor=actor, instance=price_list, action="update",
                 changes={label: {"old": price, "new": None}}, note=_("删除价格"))


# -- warehouses -------------------------------------------------------------------------------------------
def _clean_warehouse(data: dict, *, partial: bool) -> dict:
    clean: dict = {}
    errors: dict[str, str] = {}
    if "code" in data or not partial:
        code = str(data.get("code") or "").strip().upper()
        if not _WAREHOUSE_CODE.match(code):
            errors["code"] = _("仓库编码只能包含字母、数字、- 和 _，最长 32 个字符。")
        clean["code"] = code
    for name, length, required, label in (("name", 100, True, _("仓库名称")), ("address", 300, False, _("地址"))):
        if name in data or (required and not partial):
            try:
                clean[name] = _text(data.get(name), field_name=name, max_length=length, required=required, label=label)
            except ValidationError as exc:
                errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    if "region_id" in data:
        region_id = data.get("region_id")
        clean["region"] = region_get_active(region_id=region_id) if region_id not in (None, "") else None
        if region_id not in (None, "") and clean["region"] is None:
            errors["region_id"] = _("所选的区域不存在。")
    if errors:
        raise ValidationError(errors)
    return clean


def _warehouse_code_taken(code: str, exclude_id=None) -> bool:
    qs = Warehouse.objects.filter(code=code)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.exists()


@transaction.atomic
def warehouse_create(*, actor, data: dict) -> Warehouse:
    """``data``: code, name, address, region_id."""
    _stock_manager(actor)
    clean = _clean_warehouse(data, partial=False)
    if _warehouse_code_taken(clean["code"]):
        raise ValidationError({"code": _("仓库编码“%(code)s”已存在。") % {"code": clean["code"]}})
    warehouse = Warehouse(**clean)
    try:
        with transaction.atomic():
            warehouse.save()
    except IntegrityError:
        raise ValidationError({"code": _("仓库编码“%(code)s”已存在。") % {"code": clean["code"]}}) from None
    audit_record(actor=actor, instance=warehouse, action="create",
                 changes=audit_diff({}, audit_snapshot(warehouse, WAREHOUSE_FIELDS)))
    return warehouse


@transaction.atomic
def warehouse_update(*, actor, warehouse_id: int, data: dict, version: int | None = None) -> Warehouse:
    _stock_manager(actor)
    warehouse = Warehouse.objects.select_for_update().get(pk=warehouse_id)
    if version is not None and version != warehouse.version:
        raise StaleVersion(current=warehouse.version)
    clean = _clean_warehouse({k: v for k, v in data.items() if k != "is_active"}, partial=True)
    if "code" in clean and _warehouse_code_taken(clean["code"], exclude_id=warehouse.pk):
        raise ValidationError({"code": _("仓库编码“%(code)s”已存在。") % {"code": clean["code"]}})
    return _save_changes(warehouse, clean, actor=actor, audited=WAREHOUSE_FIELDS)


@transaction.atomic
def warehouse_deactivate(*, actor, warehouse_id: int) -> Warehouse:
    """A warehouse that holds reservations, or is the default one, stays active."""
    _stock_manager(actor)
    warehouse = Warehouse.objects.select_for_update().get(pk=warehouse_id)
    if not warehouse.is_active:
        return warehouse
    if catalog_settings_get().default_warehouse_id == warehouse.pk:
        raise ValidationError({"warehouse": _("“%(name)s”是默认仓库，请先更换默认仓库再停用。") % {
            "name": warehouse.name}})
    if StockLevel.objects.filter(warehouse=warehouse, reserved__gt=0).exists():
        raise ValidationError({"warehouse": _("仓库“%(name)s”还有预留中的库存，不能停用。") % {"name": warehouse.name}})
    warehouse.is_active = False
    warehouse.version = F("version") + 1
    warehouse.save(update_fields=["is_active", "version", "updated_at"])
    warehouse.refresh_from_db()
    audit_record(actor=actor, instance=warehouse, action="deactivate", changes={"is_active": {"old": True, "new": False}})
    return warehouse


@transaction.atomic
def warehouse_reactivate(*, actor, warehouse_id: int) -> Warehouse:
    _stock_manager(actor)
    warehouse = Warehouse.objects.select_for_update().get(pk=warehouse_id)
    if not warehouse.is_active:
        warehouse.is_active = True
        warehouse.version = F("version") + 1
        warehouse.save(update_fields=["is_active", "version", "updated_at"])
        warehouse.refresh_from_db()
        audit_record(actor=actor, instance=warehouse, action="reactivate",
                     changes={"is_active": {"old": False, "new": True}})
    return warehouse


_SETTINGS_UNSET = object()


@transaction.atomic
def catalog_settings_update(*, actor, allow_backorders: bool | None = None,
                            default_warehouse_id=_SETTINGS_UNSET) -> CatalogSettings:
    _stock_manager(actor)
    catalog_settings_get()
    row = CatalogSettings.objects.select_for_update().get(id=1)
    before = audit_snapshot(row, ["allow_backorders", "default_warehouse"])
    if allow_backorders is not None:
        row.allow_backorders = bool(allow_backorders)
    if default_warehouse_id is not _SETTINGS_UNSET:
        if default_warehouse_id in (None, ""):
            row.default_warehouse = None
        else:
            warehouse = Warehouse.objects.filter(pk=_pk(default_warehouse_id, "default_warehouse_id"),
                                                 is_active=True).first()
            if warehouse is None:
                raise ValidationError({"default_warehouse_id": _("仓库不存在或已停用。")})
            row.default_warehouse = warehouse
    row.save()
    changes = audit_diff(before, audit_snapshot(row, ["allow_backorders", "default_warehouse"]))
    if changes:
        audit_record(actor=actor, instance=row, action="update", changes=changes)
    return row


# -- stock ----------------------------------------------------------------------------------------------
def _lock_levels(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """The stock levels of these (warehouse, product) pairs, created when missing, locked
    FOR UPDATE in id order (every stock operation locks in the same order: no deadlocks)."""
    levels = _lock_existing_levels(keys)
    levels.update(_create_levels([k for k in sorted(set(keys)) if k not in levels]))
    return levels


def _lock_existing_levels(keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """The first half of ``_lock_levels``: the levels that exist, locked in id order. In SQL
    with the pairs as two arrays: the ORM's OR of one condition per pair took longer to
    build than the statement takes to run."""
    keys = sorted(set(keys))
    if not keys:
        return {}
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in StockLevel._meta.concrete_fields)
    sql = (f"SELECT {columns} FROM {quote(StockLevel._meta.db_table)} "  # noqa: S608 (names are ours)
           "WHERE (warehouse_id, product_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[])) "
           "ORDER BY id FOR UPDATE")
    rows = StockLevel.objects.raw(sql, [[w for w, _p in keys], [p for _w, p in keys]])
    return {(level.warehouse_id, level.product_id): level for level in rows}


def _create_levels(missing: list[tuple[int, int]]) -> dict[tuple[int, int], StockLevel]:
    """The second half: the first movement of a pair creates its level, in key order (a
    concurrent creator waits), then locks it."""
    if not missing:
        return {}
    StockLevel.objects.bulk_create([StockLevel(warehouse_id=w, product_id=p) for w, p in missing],
                                   ignore_conflicts=True)
    return _lock_existing_levels(missing)


def _within_transaction():
    """The caller's transaction, without a savepoint, when there is one; a new one otherwise.
    For operations that write nothing until all their checks have passed: a refusal (raised
    before the first write) leaves nothing to roll back, and the caller may go on."""
    return nullcontext() if connection.in_atomic_block else transaction.atomic()


def _lock_reference(reference_type: str, reference_id: str) -> None:
    """Serialise the stock operations of one document (a transaction-scoped advisory lock;
    the key names the schema, since advisory locks are database-wide)."""
    key = f"{connection.schema_name}:catalog.stock:{reference_type}:{reference_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def _reference(reference_type, reference_id) -> tuple[str, str]:
    ref_type = str(reference_type or "").strip()
    ref_id = str(reference_id if reference_id is not None else "").strip()
    if not ref_type or len(ref_type) > 32:
        raise ValidationError({"reference_type": _("请指定关联单据类型（最长 32 个字符），例如 order。")})
    if not ref_id or len(ref_id) > 64:
        raise ValidationError({"reference_id": _("请指定关联单据编号（最长 64 个字符）。")})
    return ref_type, ref_id


def _movement(level: StockLevel, *, kind: str, quantity: Decimal, on_hand_delta: Decimal = Decimal(0),
              reserved_delta: Decimal = Decimal(0), actor=None, reference: tuple[str, str] = ("", ""),
              external_id: str | None = None, note: str = "", corrects: StockMovement | None = None) -> StockMovement:
    """Apply a change to a locked level (in memory) and return its unsaved ledger row."""
    level.on_hand += on_hand_delta
    level.reserved += reserved_delta
    return StockMovement(
        kind=kind, warehouse_id=level.warehouse_id, product_id=level.product_id, quantity=quantity,
        on_hand_delta=on_hand_delta, reserved_delta=reserved_delta, on_hand_after=level.on_hand,
        reserved_after=level.reserved, reference_type=reference[0], reference_id=reference[1],
        external_id=external_id, actor=actor if getattr(actor, "pk", None) else None, note=note[:500],
        corrects=corrects)


def _save(levels: Iterable[StockLevel], movements: list[StockMovement]) -> list[StockMovement]:
    """The (locked) levels' new figures in one UPDATE, then the ledger rows in one INSERT."""
    levels = list(levels)
    if len(levels) == 1:
        levels[0].save(update_fields=["on_hand", "reserved", "updated_at"])
    elif levels:
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {StockLevel._meta.db_table} AS s SET on_hand = v.on_hand, reserved = v.reserved, "
                "updated_at = %s FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS v(id, on_hand, reserved) "
                "WHERE s.id = v.id", [now, [lv.pk for lv in levels], [lv.on_hand for lv in levels],
                                      [lv.reserved for lv in levels]])
        for level in levels:
            level.updated_at = now
    return StockMovement.objects.bulk_create(movements)


def _stock_target(*, warehouse_id, product_id, for_receipt: bool) -> tuple[Warehouse, Product]:
    warehouse = Warehouse.objects.filter(pk=_pk(warehouse_id, "warehouse_id")).first()
    if warehouse is None:
        raise ValidationError({"warehouse_id": _("仓库不存在。")})
    if for_receipt and not warehouse.is_active:
        raise ValidationError({"warehouse_id": _("仓库“%(name)s”已停用。") % {"name": warehouse.name}})
    if for_receipt:
        product = _active_product(product_id)
    else:
        product = Product.objects.filter(pk=_pk(product_id, "product_id")).first()
        if product is None:
            raise ValidationError({"product_id": _("产品不存在。")})
    return warehouse, product


def _stock_audit(*, actor, level: StockLevel, before: dict, note: str) -> None:
    audit_record(actor=actor, instance=level, action="update", note=note,
                 changes=audit_diff(before, audit_snapshot(level, ["on_hand", "reserved"])))


def stock_receive(*, actor, warehouse_id: int, product_id: int, quantity, note: str = "",
                  reference_type: str = "", reference_id: str = "") -> StockMovement:
    """Goods in: on_hand grows by ``quantity`` (an active product into an active warehouse)."""
    _stock_manager(actor)
    qty = _quantity(quantity)
    warehouse, product = _stock_target(warehouse_id=warehouse_id, product_id=product_id, for_receipt=True)
    note = _text(note, field_name="note", max_length=500, label=_("备注"))
    with transaction.atomic():
        level = _lock_levels([(warehouse.pk, product.pk)])[(warehouse.pk, product.pk)]
        before = audit_snapshot(level, ["on_hand", "reserved"])
        movement = _movement(level, kind=MovementKind.RECEIPT, quantity=qty, on_hand_delta=qty, actor=actor,
                             reference=(str(reference_type or "")[:32], str(reference_id or "")[:64]), note=note)
        movement = _save([level], [movement])[0]
        _stock_audit(actor=actor, level=level, before=before, note=_("入库 %(qty)s：%(note)s") % {
            "qty": quantity_text(qty), "note": note or "-"})
    return movement


def stock_adjust(*, actor, warehouse_id: int, product_id: int, counted, reason: str) -> StockMovement:
    """A stock count: on_hand becomes ``counted`` (the physical count); the difference is
    booked as an adjustment with the reason."""
    _stock_manager(actor)
    counted = _decimal(counted, field_name="counted", places=3, maximum=MAX_QTY, label=_("盘点数量"))
    reason = _text(reason, field_name="reason", max_length=500, required=True, label=_("调整原因"))
    warehouse, product = _stock_target(warehouse_id=warehouse_id, product_id=product_id, for_receipt=False)
    with transaction.atomic():
        level = _lock_levels([(warehouse.pk, product.pk)])[(warehouse.pk, product.pk)]
        delta = counted - level.on_hand
        if delta == 0:
            raise ValidationError({"counted": _("盘点数量与当前实物库存相同，无需调整。")})
        before = audit_snapshot(level, ["on_hand", "reserved"])
        movement = _movement(level, kind=MovementKind.ADJUSTMENT, quantity=abs(delta), on_hand_delta=delta,
                             actor=actor, note=reason)
        movement = _save([level], [movement])[0]
        _stock_audit(actor=actor, level=level, before=before, note=_("盘点调整：%(reason)s") % {"reason": reason})
    return movement


def stock_correct(*, actor, movement_id: int, reason: str) -> StockMovement:
    """Reverse a mistaken receipt or adjustment (once): a correction row with the opposite
    change. Refused when the stock it would take away is reserved or gone (unless back
    orders are allowed)."""
    _stock_manager(actor)
    reason = _text(reason, field_name="reason", max_length=500, required=True, label=_("冲正原因"))
    with transaction.atomic():
        original = StockMovement.objects.select_related("product").get(pk=movement_id)
        if original.kind not in (MovementKind.RECEIPT, MovementKind.ADJUSTMENT):
            raise ValidationError({"movement_id": _("只有入库和盘点调整可以冲正。")})
        level = _lock_levels([(original.warehouse_id, original.product_id)])[
            (original.warehouse_id, original.product_id)]
        if StockMovement.objects.filter(corrects=original).exists():
            raise ValidationError({"movement_id": _("这条记录已经冲正过。")})
        delta = -original.on_hand_delta
        if delta < 0 and level.on_hand + delta < level.reserved and not catalog_settings_get().allow_backorders:
            raise ValidationError({"movement_id": _("冲正后产品“%(name)s”的实物库存将少于已预留数量。") % {
                "name": original.product.name}})
        before = audit_snapshot(level, ["on_hand", "reserved"])
        movement = _movement(level, kind=MovementKind.CORRECTION, quantity=abs(delta), on_hand_delta=delta,
                             actor=actor, note=reason, corrects=original)
        movement = _save([level], [movement])[0]
        _stock_audit(actor=actor, level=level, before=before, note=_("冲正：%(reason)s") % {"reason": reason})
    return movement


@transaction.atomic
def stock_reorder_level_set(*, actor, warehouse_id: int, product_id: int, reorder_level) -> StockLevel:
    _stock_manager(actor)
    value = _decimal(reorder_level, field_name="reorder_level", places=3, maximum=MAX_QTY, label=_("补货点"))
    warehouse, product = _stock_target(warehouse_id=warehouse_id, product_id=product_id, for_receipt=False)
    level = _lock_levels([(warehouse.pk, product.pk)])[(warehouse.pk, product.pk)]
    before = audit_snapshot(level, ["reorder_level"])
    level.reorder_level = value
    level.save(update_fields=["reorder_level", "updated_at"])
    changes = audit_diff(before, audit_snapshot(level, ["reorder_level"]))
    if changes:
        audit_record(actor=actor, instance=level, action="update", changes=changes)
    return level


# -- the stock operations of orders --------------------------------------------------------------------
Line = tuple[int, int | None, Decimal | int | str]


@dataclass(frozen=True)
class _CleanLine:
    product: Product
    warehouse_id: int | None
    quantity: Decimal


def _clean_lines(lines: Sequence[Line], *, require_active: bool, products: Mapping[int, Product] | None = None,
                 warehouses: Mapping[int, Warehouse] | None = None) -> list[_CleanLine]:
    """Check every line; all problems are reported at once under ``lines``. ``products`` /
    ``warehouses``: rows the caller read in this transaction, by id (not read again)."""
    if not lines:
        raise ValidationError({"lines": _("请至少指定一行产品和数量。")})
    errors: list[str] = []
    parsed = []
    for number, line in enumerate(lines, start=1):
        try:
            product_id, warehouse_id, quantity = line
        except (TypeError, ValueError):
            errors.append(_("第 %(n)s 行：格式应为（产品, 仓库或空, 数量）。") % {"n": number})
            continue
        try:
            qty = _quantity(quantity)
        except ValidationError as exc:
            errors.append(_("第 %(n)s 行：%(error)s") % {"n": number, "error": " ".join(exc.messages)})
            continue
        parsed.append((number, product_id, warehouse_id, qty))
    product_ids = {p for _n, p, _w, _q in parsed if str(p).isdigit()}
    warehouse_ids = {w for _n, _p, w, _q in parsed if w is not None and str(w).isdigit()}
    products = _rows(Product, {int(p) for p in product_ids}, products)
    warehouses = _rows(Warehouse, {int(w) for w in warehouse_ids}, warehouses)
    clean = []
    for number, product_id, warehouse_id, qty in parsed:
        product = products.get(int(product_id)) if str(product_id).isdigit() else None
        if product is None:
            errors.append(_("第 %(n)s 行：产品 %(id)s 不存在。") % {"n": number, "id": product_id})
            continue
        if require_active and not product.is_active:
            errors.append(_("第 %(n)s 行：产品“%(name)s”已停用。") % {"n": number, "name": product.name})
            continue
        if warehouse_id is not None:
            warehouse = warehouses.get(int(warehouse_id)) if str(warehouse_id).isdigit() else None
            if warehouse is None or (require_active and not warehouse.is_active):
                errors.append(_("第 %(n)s 行：仓库 %(id)s 不存在或已停用。") % {"n": number, "id": warehouse_id})
                continue
            warehouse_id = warehouse.pk
        clean.append(_CleanLine(product, warehouse_id, qty))
    if errors:
        raise ValidationError({"lines": errors})
    return clean


def _rows(model, ids: set[int], known: Mapping[int, Any] | None) -> dict[int, Any]:
    """The rows of ``model`` with these ids: those in ``known``, the others read (one query)."""
    rows = {pk: known[pk] for pk in ids if known and pk in known and known[pk] is not None}
    missing = [pk for pk in ids if pk not in rows]
    if missing:
        rows.update(model.objects.in_bulk(missing))
    return rows


def _default_warehouse_id(settings_row: CatalogSettings, product: Product) -> int:
    if settings_row.default_warehouse_id and settings_row.default_warehouse.is_active:
        return settings_row.default_warehouse_id
    raise ValidationError({"lines": _("产品“%(name)s”没有指定仓库，且未设置默认仓库。") % {"name": product.name}})


def _merge(lines: list[tuple[tuple[int, int], Product, Decimal]]) -> dict[tuple[int, int], tuple[Product, Decimal]]:
    merged: dict[tuple[int, int], tuple[Product, Decimal]] = {}
    for key, product, qty in lines:
        merged[key] = (product, merged[key][1] + qty if key in merged else qty)
    return merged


def _shortage(product: Product, warehouse_id: int, available: Decimal, needed: Decimal) -> str:
    warehouse = Warehouse.objects.filter(pk=warehouse_id).values_list("name", flat=True).first() or warehouse_id
    return _("产品“%(name)s”（%(sku)s）在“%(warehouse)s”的可用库存不足：可用 %(available)s，需要 %(needed)s。") % {
        "name": product.name, "sku": product.sku, "warehouse": warehouse,
        "available": quantity_text(max(available, Decimal(0))), "needed": quantity_text(needed)}


def stock_reserve(*, actor, reference_type: str, reference_id, lines: Sequence[Line], note: str = "",
                  products: Mapping[int, Product] | None = None,
                  warehouses: Mapping[int, Warehouse] | None = None) -> StockResult:
    """Reserve stock for a document (e.g. ("order", 42)): each line is (product_id,
    warehouse_id or None for the default warehouse, quantity). All lines or none: when a
    line's available stock is short the whole call is refused with a ValidationError naming
    the product, unless back orders are allowed.

    Idempotent per document: while the document holds a reservation (reserved and not
    released), reserving again changes nothing (``changed`` False). After stock_release it
    may reserve again.

    ``products`` / ``warehouses``: the lines' rows as the caller read them in this transaction,
    by id (e.g. with its order lines), so they are not read again."""
    _active_actor(actor)
    reference = _reference(reference_type, reference_id)
    clean = _clean_lines(lines, require_active=True, products=products, warehouses=warehouses)
    with _within_transaction():  # no savepoint inside the caller's: nothing is written before the checks pass
        _lock_reference(*reference)
        last = (StockMovement.objects.filter(reference_type=reference[0], reference_id=reference[1],
                                             kind__in=[MovementKind.RESERVATION, MovementKind.RELEASE])
                .order_by("-id").values_list("kind", flat=True).first())
        if last == MovementKind.RESERVATION:
            return StockResult(False, [], stock_held_by_reference(reference_type=reference[0],
                                                                  reference_id=reference[1]))
        # the tenant's catalog settings are read only when needed: a line without a warehouse, or short
        settings_row = catalog_settings_get() if any(line.warehouse_id is None for line in clean) else None
        wanted = _merge([((line.warehouse_id or _default_warehouse_id(settings_row, line.product), line.product.pk),
                          line.product, line.quantity) for line in clean])
        levels = _lock_existing_levels(wanted)
        available = {key: levels[key].available if key in levels else Decimal(0) for key in wanted}  # missing: none
        shortages = [
            _shortage(product, key[0], available[key], qty)
            for key, (product, qty) in wanted.items() if qty > available[key]
        ]
        if shortages and not (settings_row or catalog_settings_get()).allow_backorders:
            raise ValidationError({"lines": shortages})
        levels.update(_create_levels([k for k in sorted(wanted) if k not in levels]))
        movements = [_movement(levels[key], kind=MovementKind.RESERVATION, quantity=qty, reserved_delta=qty,
                               actor=actor, reference=reference, note=note)
                     for key, (_product, qty) in sorted(wanted.items())]
        saved = _save([levels[k] for k in sorted(wanted)], movements)
        if last is None:  # the document's first reservation: it holds exactly what was just reserved
            held = {(m.warehouse_id, m.product_id): m.reserved_delta for m in saved if m.reserved_delta}
        else:
            held = stock_held_by_reference(reference_type=reference[0], reference_id=reference[1])
        return StockResult(True, saved, held)


def stock_release(*, actor, reference_type: str, reference_id, note: str = "") -> StockResult:
    """Release whatever a document still holds reserved (after shipments, what is left).
    Idempotent: a document that holds nothing changes nothing."""
    _active_actor(actor)
    reference = _reference(reference_type, reference_id)
    with transaction.atomic():
        _lock_reference(*reference)
        held = {k: v for k, v in stock_held_by_reference(reference_type=reference[0],
                                                         reference_id=reference[1]).items() if v > 0}
        if not held:
            return StockResult(False, [], {})
        levels = _lock_levels(held)
        movements = []
        for key in sorted(held):
            quantity = min(held[key], levels[key].reserved)
            if quantity > 0:
                movements.append(_movement(levels[key], kind=MovementKind.RELEASE, quantity=quantity,
                                           reserved_delta=-quantity, actor=actor, reference=reference, note=note))
        saved = _save([levels[k] for k in sorted(held)], movements)
        return StockResult(bool(saved), saved, stock_held_by_reference(reference_type=reference[0],
                                                                       reference_id=reference[1]))


def stock_ship(*, actor, reference_type: str, reference_id, lines: Sequence[Line],
               external_id: str | None = None, note: str = "") -> StockResult:
    """Goods out for a document: each line consumes what the document holds reserved of
    that product in that warehouse (warehouse None: the one holding its reservation, else
    the default warehouse) and takes the rest from available stock; on_hand drops by the
    whole quantity. Refused (all lines) when that would dip into stock reserved for other
    documents or below zero, unless back orders are allowed.

    With an ``external_id`` (e.g. the delivery note number) it is idempotent: the same id
    again changes nothing (and is refused if it was used for another document)."""
    _active_actor(actor)
    reference = _reference(reference_type, reference_id)
    external_id = (str(external_id).strip()[:100] or None) if external_id is not None else None
    clean = _clean_lines(lines, require_active=False)
    with transaction.atomic():
        _lock_reference(*reference)
        if external_id:
            done = list(StockMovement.objects.filter(kind=MovementKind.SHIPMENT, external_id=external_id))
            if done:
                if any((m.reference_type, m.reference_id) != reference for m in done):
                    raise ValidationError({"external_id": _("外部编号“%(id)s”已用于其他单据的发货。") % {
                        "id": external_id}})
                return StockResult(False, done, stock_held_by_reference(reference_type=reference[0],
                                                                        reference_id=reference[1]))
        held = stock_held_by_reference(reference_type=reference[0], reference_id=reference[1])
        settings_row = catalog_settings_get()
        resolved = []
        for line in clean:
            warehouse_id = line.warehouse_id
            if warehouse_id is None:
                holding = sorted(w for (w, p), qty in held.items() if p == line.product.pk and qty > 0)
                if len(holding) > 1:
                    raise ValidationError({"lines": _("产品“%(name)s”在多个仓库有预留，请指定发货仓库。") % {
                        "name": line.product.name}})
                warehouse_id = holding[0] if holding else _default_warehouse_id(settings_row, line.product)
            resolved.append(((warehouse_id, line.product.pk), line.product, line.quantity))
        wanted = _merge(resolved)
        levels = _lock_levels(wanted)
        shortages, movements = [], []
        for key, (product, qty) in sorted(wanted.items()):
            level = levels[key]
            consumed = min(qty, max(held.get(key, Decimal(0)), Decimal(0)), level.reserved)
            free_needed = qty - consumed
            if free_needed > level.available and not settings_row.allow_backorders:
                shortages.append(_shortage(product, key[0], level.available, free_needed))
                continue
            movements.append(_movement(level, kind=MovementKind.SHIPMENT, quantity=qty, on_hand_delta=-qty,
                                       reserved_delta=-consumed, actor=actor, reference=reference,
                                       external_id=external_id, note=note))
        if shortages:
            raise ValidationError({"lines": shortages})
        saved = _save([levels[k] for k in sorted(wanted)], movements)
        return StockResult(True, saved, stock_held_by_reference(reference_type=reference[0],
                                                                reference_id=reference[1]))


# -- demo data -------------------------------------------------------------------------------------------
def catalog_load_demo(*, actor=None) -> int:
    """The standard mode's demo catalog: categories, about twenty GPS and survey products,
    a standard, a VIP customer-level and two partner-tier price lists, two warehouses with
    stock. Idempotent: a tenant that has products already gets nothing. Returns the number
    of products created."""
    from crm.org.selectors import region_tree

    from . import demo_data

    if Product.objects.exists():
        return 0
    with transaction.atomic():
        categories: dict[str, Category] = {}
        for name, parent in demo_data.CATEGORIES:
            categories[name] = category_create(actor=actor, name=name,
                                               parent_id=categories[parent].pk if parent else None)
        products = []
        for sku, name, spec, unit, category, price, tax in demo_data.PRODUCTS:
            products.append(product_create(actor=actor, data={
                "sku": sku, "name": name, "spec": spec, "unit": unit, "category_id": categories[category].pk,
                "list_price": price, "tax_rate": tax}))
        start = datetime.date(timezone.localdate().year, 1, 1)
        for list_name, kind, code, discount in demo_data.LISTS:
            price_list = price_list_create(actor=actor, data={"name": list_name, "kind": kind, "code": code,
                                                              "valid_from": start})
            off = Decimal(discount)
            for product in products:
                base = (product.list_price * (1 - off)).quantize(Decimal("1"))
                price_list_item_add(actor=actor, price_list_id=price_list.pk, product_id=product.pk, unit_price=base)
                if product.sku.startswith("ACC-"):
                    for minimum, extra in demo_data.VOLUME_BREAKS:
                        price_list_item_add(actor=actor, price_list_id=price_list.pk, product_id=product.pk,
                                            unit_price=(base * (1 - Decimal(extra))).quantize(Decimal("1")),
                                            min_quantity=minimum)
        regions = {r.name: r.pk for r in region_tree()}
        warehouses = [warehouse_create(actor=actor, data={"code": code, "name": name, "address": address,
                                                          "region_id": regions.get(region)})
                      for code, name, address, region in demo_data.WAREHOUSES]
        catalog_settings_update(actor=actor, default_warehouse_id=warehouses[0].pk)
        for product in products:
            amounts = (demo_data.STOCK_ACCESSORIES if product.sku.startswith("ACC-")
                       else demo_data.STOCK_INSTRUMENTS)
            if product.sku.startswith("SV-"):
                continue  # a service is not stocked
            for warehouse, amount in zip(warehouses, amounts, strict=True):
                stock_receive(actor=actor, warehouse_id=warehouse.pk, product_id=product.pk, quantity=amount,
                              note="期初库存")
    return len(products)

