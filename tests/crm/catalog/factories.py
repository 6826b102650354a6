"""Catalog test data, made through the services (as users make it), never by ORM chains.
Call inside the tenant's schema (``in_tenant``); ``actor=None`` is the system."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from crm.catalog import services

_serial = itertools.count(1)
_run = uuid.uuid4().hex[:4].upper()  # committed tests (threads) never meet an earlier run's SKUs


def category_make(*, actor=None, name: str | None = None, parent=None):
    return services.category_create(actor=actor, name=name or f"测试分类{next(_serial)}",
                                    parent_id=parent.pk if parent else None)


def product_make(*, actor=None, **data):
    n = next(_serial)
    values = {"sku": f"T{_run}-{n:05d}", "name": f"测试产品{n}号", "unit": "台", "list_price": "100.00", **data}
    if "category" in values:
        category = values.pop("category")
        values["category_id"] = category.pk if category else None
    return services.product_create(actor=actor, data=values)


def warehouse_make(*, actor=None, **data):
    n = next(_serial)
    return services.warehouse_create(actor=actor, data={"code": f"W{_run}{n:04d}", "name": f"测试仓库{n}", **data})


def price_list_make(*, actor=None, items=(), **data):
    """``items``: (product, unit_price) or (product, unit_price, min_quantity)."""
    price_list = services.price_list_create(actor=actor, data={"name": f"测试价格表{next(_serial)}", **data})
    for product, price, *minimum in items:
        services.price_list_item_add(actor=actor, price_list_id=price_list.pk, product_id=product.pk,
                                     unit_price=price, min_quantity=minimum[0] if minimum else Decimal(1))
    return price_list


def stocked_make(*, on_hand="10", product=None, warehouse=None, default: bool = False):
    """A product with ``on_hand`` units in a warehouse (the default warehouse if asked)."""
    product = product or product_make()
    warehouse = warehouse or warehouse_make()
    if Decimal(on_hand):
        services.stock_receive(actor=None, warehouse_id=warehouse.pk, product_id=product.pk, quantity=on_hand)
    if default:
        services.catalog_settings_update(actor=None, default_warehouse_id=warehouse.pk)
    return product, warehouse
