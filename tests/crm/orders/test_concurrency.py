"""Orders under real concurrency: N threads, each with its own database connection, on
committed data. Identical create requests with one Idempotency-Key make one order; shipments
racing for the same stock never oversell it; two partial shipments of one line never ship
more than ordered; a submit pressed several times at once opens one approval.

The ordinary tests run inside one rolled-back transaction that other connections cannot see
into, and ``transactional_db`` would flush the session's tenants; so, like tests/crm/catalog/
test_concurrency.py, these commit and afterwards remove exactly what they made (every row
newer than the marks taken before, and the settings they changed)."""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.db.models import Sum
from django_tenants.utils import schema_context

from crm.orders import services
from tests.crm.catalog.factories import product_make, stocked_make, warehouse_make

from .factories import approve_pending, customer_make, line, order_make

THREADS = 8


def _models():
    from rest_framework.authtoken.models import Token

    from crm.activities.models import Notification
    from crm.approvals.models import ApprovalRequest
    from crm.audit.models import AuditEntry
    from crm.catalog.models import Product, StockLevel, StockMovement, Warehouse
    from crm.customers.models import Customer
    from crm.orders.models import IdempotencyRecord, Order

    return {"audit": AuditEntry, "notification": Notification, "approval": ApprovalRequest, "order": Order,
            "idempotency": IdempotencyRecord, "movement": StockMovement, "level": StockLevel, "product": Product,
            "warehouse": Warehouse, "customer": Customer, "token": Token}


@pytest.fixture
def committed(test_database, django_db_blocker, request):
    """Tenant alpha with writes that commit; everything made in the test is removed after."""
    from crm.approvals.models import ApprovalPolicy
    from crm.catalog.models import CatalogSettings
    from crm.orders.models import Shipment

    tenant = request.getfixturevalue("tenant_env")["alpha"]
    models = _models()
    with django_db_blocker.unblock():
        with schema_context(tenant.schema_name):
            marks = {name: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                     for name, model in models.items() if name != "token"}
            tokens = set(models["token"].objects.values_list("key", flat=True))
            catalog_settings = CatalogSettings.objects.filter(id=1).values("allow_backorders",
                                                                           "default_warehouse_id").first()
            policy_existed = ApprovalPolicy.objects.filter(doc_type="order").exists()
        try:
            yield tenant
        finally:
            with schema_context(tenant.schema_name):
                def newer(name):
                    return models[name].objects.filter(pk__gt=marks[name])

                newer("approval").filter(doc_type="order").delete()
                Shipment.objects.filter(order__in=newer("order")).delete()
                newer("order").delete()
                newer("idempotency").delete()
                newer("movement").delete()
                newer("level").delete()
                if catalog_settings is None:
                    CatalogSettings.objects.filter(id=1).delete()
                else:
                    CatalogSettings.objects.filter(id=1).update(**catalog_settings)
                newer("product").delete()
                newer("warehouse").delete()
                newer("customer").delete()
                if not policy_existed:
                    ApprovalPolicy.objects.filter(doc_type="order").delete()
                newer("notification").delete()
                newer("audit").delete()
                models["token"].objects.exclude(key__in=tokens).delete()
            connections.close_all()


def race(tenant, work, n: int = THREADS) -> list:
    """``work(i)`` in n threads at once, each on its own connection in the tenant's schema;
    each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            with schema_context(tenant.schema_name):
                barrier.wait(timeout=30)
                results[i] = work(i)
        except BaseException as exc:  # inspected by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,), name=f"order-race-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (lock wait?)"
    return results


def _staff(tenant):
    from crm.org.models import User

    with schema_context(tenant.schema_name):
        return {key: User.objects.get(email=f"{key}@alpha.example.com") for key in
                ("sales", "secretary", "warehouse", "finance")}


def test_identical_create_requests_at_once_make_one_order(committed, api_for):
    tenant = committed
    staff = _staff(tenant)
    with schema_context(tenant.schema_name):
        product, _warehouse = stocked_make(on_hand="10", default=True)
        customer = customer_make(owner=staff["sales"])
    key = f"race-{uuid.uuid4().hex}"
    payload = {"customer_id": customer.pk, "lines": [line(product, "2")]}
    clients = [api_for(tenant, staff["sales"]) for _ in range(THREADS)]

    def post(i):
        return clients[i].post("/api/v1/orders/", payload, format="json", HTTP_IDEMPOTENCY_KEY=key)

    responses = race(tenant, post)
    assert all(getattr(r, "status_code", None) == 201 for r in responses), responses
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.json()["number"] for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") == "true") == THREADS - 1
    with schema_context(tenant.schema_name):
        from crm.orders.models import IdempotencyRecord, Order

        assert Order.objects.filter(customer=customer).count() == 1
        assert IdempotencyRecord.objects.filter(key=key).count() == 1


def test_concurrent_shipments_of_different_orders_never_oversell(committed):
    from crm.catalog import services as catalog
    from crm.catalog.models import StockLevel, StockMovement

    tenant = committed
    staff = _staff(tenant)
    with schema_context(tenant.schema_name):
        product, warehouse = stocked_make(on_hand="0", default=True)
        customer = customer_make(owner=staff["sales"])
        orders = []
        for _ in range(THREADS):
            order = order_make(actor=staff["sales"], customer=customer, lines=[line(product, "1")])
            order = services.order_submit(actor=staff["sales"], order_id=order.pk)
            orders.append(approve_pending(order, staff["secretary"]))
        assert {o.stock_state for o in orders} == {"short"}  # nothing in stock at approval
        catalog.stock_receive(actor=None, warehouse_id=warehouse.pk, product_id=product.pk, quantity="5")

    def ship(i):
        return services.shipment_create(actor=staff["warehouse"], order_id=orders[i].pk,
                                        data={"carrier": "顺丰", "tracking_number": f"SF-RACE-{i}"})

    results = race(tenant, ship)
    made = [r for r in results if not isinstance(r, BaseException)]
    short = [r for r in results if isinstance(r, services.StockShort)]
    assert len(made) == 5 and len(short) == THREADS - 5, results
    with schema_context(tenant.schema_name):
        level = StockLevel.objects.get(product=product, warehouse=warehouse)
        sums = StockMovement.objects.filter(product=product, warehouse=warehouse).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
        assert (level.on_hand, level.reserved) == (0, 0) == (sums["on_hand"], sums["reserved"])
        from crm.orders.models import Order

        statuses = sorted(Order.objects.filter(pk__in=[o.pk for o in orders]).values_list("status", flat=True))
        assert statuses == ["approved"] * 3 + ["shipped"] * 5


def test_two_partial_shipments_of_one_line_at_once_never_ship_more_than_ordered(committed):
    from crm.catalog.models import StockLevel
    from crm.orders.models import OrderLine

    tenant = committed
    staff = _staff(tenant)
    with schema_context(tenant.schema_name):
        warehouse = warehouse_make()
        product, _w = stocked_make(on_hand="100", warehouse=warehouse, product=product_make(), default=True)
        customer = customer_make(owner=staff["sales"])
        order = order_make(actor=staff["sales"], customer=customer, lines=[line(product, "5")])
        order = approve_pending(services.order_submit(actor=staff["sales"], order_id=order.pk), staff["secretary"])
        line_id = order.lines.get().pk

    def ship(i):
        return services.shipment_create(actor=staff["warehouse"], order_id=order.pk,
                                        data={"lines": [{"order_line_id": line_id, "quantity": "3"}]})

    results = race(tenant, ship, n=4)
    made = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 1 and all("最多还能发 2" in str(r) for r in refused), results
    with schema_context(tenant.schema_name):
        assert OrderLine.objects.get(pk=line_id).shipped_quantity == Decimal("3")
        level = StockLevel.objects.get(product=product, warehouse=warehouse)
        assert (level.on_hand, level.reserved) == (Decimal("97"), Decimal("2"))


def test_submit_pressed_at_once_opens_one_approval(committed):
    from crm.approvals.models import ApprovalRequest

    tenant = committed
    staff = _staff(tenant)
    with schema_context(tenant.schema_name):
        product, _warehouse = stocked_make(on_hand="10", default=True)
        customer = customer_make(owner=staff["sales"])
        order = order_make(actor=staff["sales"], customer=customer, lines=[line(product, "1")])

    results = race(tenant, lambda i: services.order_submit(actor=staff["sales"], order_id=order.pk), n=5)
    assert all(getattr(r, "status", None) in ("in_approval", "submitted") for r in results), results
    with schema_context(tenant.schema_name):
        assert ApprovalRequest.objects.filter(doc_type="order", object_id=order.pk).count() == 1
        order.refresh_from_db()
        assert order.status == "in_approval"
        from crm.orders.models import OrderEvent

        assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True).order_by("id")) == [
            "created", "submitted", "approval_started"]


def test_orders_created_at_once_get_distinct_consecutive_numbers(committed):
    tenant = committed
    staff = _staff(tenant)
    with schema_context(tenant.schema_name):
        product, _warehouse = stocked_make(on_hand="10", default=True)
        customer = customer_make(owner=staff["sales"])

    results = race(tenant, lambda i: order_make(actor=staff["sales"], customer=customer, lines=[line(product, "1")]),
                   n=6)
    assert all(not isinstance(r, BaseException) for r in results), results
    numbers = sorted(int(r.number.rsplit("-", 1)[1]) for r in results)
    assert numbers == list(range(numbers[0], numbers[0] + 6))
