"""Stock operations racing each other for real: N threads, each with its own database
connection, on committed stock. Stock never goes negative, totals are exact, a retried
reservation or shipment counts once, and opposite lock orders do not deadlock.

These tests cannot run inside the usual per-test transaction (the threads' connections would
not see its rows), and ``transactional_db`` would flush the session's tenants (see
tests/e2e/conftest.py). So, like the browser tests, they commit what they need and remove
it afterwards."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import Sum
from django_tenants.utils import schema_context

from crm.audit.models import AuditEntry
from crm.catalog import services
from crm.catalog.models import CatalogSettings, Product, StockLevel, StockMovement, Warehouse

from .factories import product_make, stocked_make

THREADS = 8


@pytest.fixture
def committed(test_database, django_db_blocker, request):
    """Make committed catalog rows in tenant alpha with ``make(fn)``; they are deleted after."""
    tenant = request.getfixturevalue("tenant_env")["alpha"]  # after the test database exists
    made: dict[str, set[int]] = {"products": set(), "warehouses": set()}

    def make(fn):
        with schema_context(tenant.schema_name):
            product, warehouse = fn()
        made["products"].add(product.pk)
        made["warehouses"].add(warehouse.pk)
        return product, warehouse

    with django_db_blocker.unblock():
        with schema_context(tenant.schema_name):
            settings_existed = CatalogSettings.objects.filter(id=1).exists()
        try:
            yield tenant, make
        finally:
            with schema_context(tenant.schema_name):
                levels = list(StockLevel.objects.filter(product__in=made["products"]).values_list("pk", flat=True))
                StockMovement.objects.filter(product__in=made["products"]).delete()
                StockLevel.objects.filter(pk__in=levels).delete()
                for model, ids in (("product", made["products"]), ("warehouse", made["warehouses"]),
                                   ("stocklevel", levels)):
                    AuditEntry.objects.filter(content_type__app_label="catalog", content_type__model=model,
                                              object_id__in=[str(i) for i in ids]).delete()
                Product.objects.filter(pk__in=made["products"]).delete()
                Warehouse.objects.filter(pk__in=made["warehouses"]).delete()
                if not settings_existed:  # the stock services create the settings row on first use
                    CatalogSettings.objects.filter(id=1).delete()
            connections.close_all()


def race(tenant, work, n: int = THREADS) -> list:
    """Run ``work(i)`` in n threads at once, each on its own connection in the tenant's
    schema; returns each result or the ValidationError it raised. Anything else (a deadlock,
    an integrity error) fails the test."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            with schema_context(tenant.schema_name):
                barrier.wait(timeout=30)
                results[i] = work(i)
        except ValidationError as exc:
            results[i] = exc
        except BaseException as exc:  # reported below
            results[i] = RuntimeError(f"thread {i}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,), name=f"stock-race-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (lock wait?)"
    crashes = [r for r in results if isinstance(r, RuntimeError)]
    assert not crashes, crashes
    return results


def state(tenant, product, warehouse) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """(on_hand, reserved) of the level and the same two summed over the ledger."""
    with schema_context(tenant.schema_name):
        row = StockLevel.objects.get(product=product, warehouse=warehouse)
        sums = StockMovement.objects.filter(product=product, warehouse=warehouse).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
    return row.on_hand, row.reserved, sums["on_hand"], sums["reserved"]


def test_concurrent_shipments_never_oversell(committed):
    tenant, make = committed
    product, warehouse = make(lambda: stocked_make(on_hand="5"))
    results = race(tenant, lambda i: services.stock_ship(
        actor=None, reference_type="order", reference_id=f"race-ship-{i}", lines=[(product.pk, warehouse.pk, 1)]))
    shipped = [r for r in results if isinstance(r, services.StockResult)]
    refused = [r for r in results if isinstance(r, ValidationError)]
    assert len(shipped) == 5 and len(refused) == THREADS - 5
    assert all("可用库存不足" in str(r) for r in refused)
    assert state(tenant, product, warehouse) == (0, 0, 0, 0)


def test_concurrent_reservations_of_different_orders_stop_at_the_stock(committed):
    tenant, make = committed
    product, warehouse = make(lambda: stocked_make(on_hand="5"))
    results = race(tenant, lambda i: services.stock_reserve(
        actor=None, reference_type="order", reference_id=f"race-res-{i}", lines=[(product.pk, warehouse.pk, 1)]))
    assert sum(isinstance(r, services.StockResult) for r in results) == 5
    assert state(tenant, product, warehouse) == (5, 5, 5, 5)


def test_concurrent_retries_of_one_reservation_reserve_once(committed):
    tenant, make = committed
    product, warehouse = make(lambda: stocked_make(on_hand="10"))
    results = race(tenant, lambda i: services.stock_reserve(
        actor=None, reference_type="order", reference_id="race-retry", lines=[(product.pk, warehouse.pk, 2)]))
    assert [r.changed for r in results].count(True) == 1
    assert state(tenant, product, warehouse) == (10, 2, 10, 2)


def test_concurrent_retries_of_one_shipment_ship_once(committed):
    tenant, make = committed
    product, warehouse = make(lambda: stocked_make(on_hand="10"))
    with schema_context(tenant.schema_name):
        services.stock_reserve(actor=None, reference_type="order", reference_id="race-dn",
                               lines=[(product.pk, warehouse.pk, 3)])
    results = race(tenant, lambda i: services.stock_ship(
        actor=None, reference_type="order", reference_id="race-dn", lines=[(product.pk, warehouse.pk, 3)],
        external_id="DN-RACE-1"))
    assert [r.changed for r in results].count(True) == 1
    assert state(tenant, product, warehouse) == (7, 0, 7, 0)


def test_opposite_line_orders_do_not_deadlock_and_totals_are_exact(committed):
    tenant, make = committed
    first, warehouse = make(lambda: stocked_make(on_hand="100"))
    second, _ = make(lambda: stocked_make(on_hand="100", product=product_make(), warehouse=warehouse))

    def work(i):
        lines = [(first.pk, warehouse.pk, 3), (second.pk, warehouse.pk, 2)]
        if i % 2:
            lines.reverse()
        services.stock_reserve(actor=None, reference_type="order", reference_id=f"race-mix-{i}", lines=lines)
        if i % 3 == 0:
            return services.stock_release(actor=None, reference_type="order", reference_id=f"race-mix-{i}")
        return services.stock_ship(actor=None, reference_type="order", reference_id=f"race-mix-{i}",
                                   lines=list(reversed(lines)), external_id=f"DN-MIX-{i}")

    results = race(tenant, work)
    assert all(isinstance(r, services.StockResult) for r in results)
    shipped = sum(1 for i in range(THREADS) if i % 3)
    assert state(tenant, first, warehouse) == (100 - 3 * shipped, 0, 100 - 3 * shipped, 0)
    assert state(tenant, second, warehouse) == (100 - 2 * shipped, 0, 100 - 2 * shipped, 0)
