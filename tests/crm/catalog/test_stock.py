"""Stock: receipts, counts and corrections by the warehouse; the reserve / release / ship
operations that orders call, with their idempotence and refusals; the ledger always adds up."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum

from crm.audit.models import AuditEntry
from crm.catalog import services
from crm.catalog.models import StockLevel, StockMovement
from crm.catalog.selectors import stock_held_by_reference, stock_list

from .factories import product_make, stocked_make, warehouse_make

pytestmark = pytest.mark.django_db


def level(product, warehouse) -> StockLevel:
    return StockLevel.objects.get(product=product, warehouse=warehouse)


def assert_ledger_adds_up(product) -> None:
    """Summing the ledger gives every level of the product: nothing changed stock unrecorded."""
    for row in StockLevel.objects.filter(product=product):
        sums = StockMovement.objects.filter(product=product, warehouse=row.warehouse).aggregate(
            on_hand=Sum("on_hand_delta"), reserved=Sum("reserved_delta"))
        assert (sums["on_hand"] or 0, sums["reserved"] or 0) == (row.on_hand, row.reserved)


# -- receipts, counts, corrections -----------------------------------------------------------------------
def test_receive_adjust_and_correct(inside, people):
    keeper = people["warehouse"]
    with inside():
        product, warehouse = stocked_make(on_hand="0")
        receipt = services.stock_receive(actor=keeper, warehouse_id=warehouse.pk, product_id=product.pk,
                                         quantity="12.5", note="采购到货", reference_type="purchase", reference_id="P-1")
        assert (receipt.kind, receipt.quantity, receipt.on_hand_after, receipt.actor) == ("receipt", Decimal("12.5"),
                                                                                          Decimal("12.5"), keeper)
        assert (receipt.reference_type, receipt.reference_id) == ("purchase", "P-1")
        count = services.stock_adjust(actor=keeper, warehouse_id=warehouse.pk, product_id=product.pk, counted="10",
                                      reason="月度盘点，2.5 台破损")
        assert count.on_hand_delta == Decimal("-2.5") and count.quantity == Decimal("2.5")
        assert level(product, warehouse).on_hand == Decimal("10")
        with pytest.raises(ValidationError) as same:
            services.stock_adjust(actor=keeper, warehouse_id=warehouse.pk, product_id=product.pk, counted="10",
                                  reason="again")
        assert "counted" in same.value.message_dict
        with pytest.raises(ValidationError) as no_reason:
            services.stock_adjust(actor=keeper, warehouse_id=warehouse.pk, product_id=product.pk, counted="9", reason="")
        assert "reason" in no_reason.value.message_dict

        fix = services.stock_correct(actor=keeper, movement_id=count.pk, reason="破损的找到了")
        assert fix.kind == "correction" and fix.on_hand_delta == Decimal("2.5") and fix.corrects_id == count.pk
        with pytest.raises(ValidationError):  # once
            services.stock_correct(actor=keeper, movement_id=count.pk, reason="again")
        assert level(product, warehouse).on_hand == Decimal("12.5")
        audit = AuditEntry.objects.filter(content_type__model="stocklevel", object_id=str(level(product, warehouse).pk))
        assert audit.count() == 3 and all(e.actor == keeper for e in audit)
        assert_ledger_adds_up(product)


@pytest.mark.parametrize("quantity", ["0", "-1", "1.0001", "abc"])
def test_receive_refuses_bad_quantities(inside, quantity):
    with inside():
        product, warehouse = stocked_make(on_hand="0")
        with pytest.raises(ValidationError) as error:
            services.stock_receive(actor=None, warehouse_id=warehouse.pk, product_id=product.pk, quantity=quantity)
        assert "quantity" in error.value.message_dict
        assert not StockMovement.objects.filter(product=product).exists()


def test_receive_needs_the_stock_permission_and_live_records(inside, people):
    with inside():
        product, warehouse = stocked_make(on_hand="0")
        for key in ("sales", "secretary", "finance"):
            with pytest.raises(PermissionDenied):
                services.stock_receive(actor=people[key], warehouse_id=warehouse.pk, product_id=product.pk, quantity=1)
        services.product_deactivate(actor=None, product_id=product.pk)
        with pytest.raises(ValidationError) as inactive:
            services.stock_receive(actor=None, warehouse_id=warehouse.pk, product_id=product.pk, quantity=1)
        assert "product_id" in inactive.value.message_dict
        with pytest.raises(ValidationError) as unknown:
            services.stock_receive(actor=None, warehouse_id=99999999, product_id=product.pk, quantity=1)
        assert "warehouse_id" in unknown.value.message_dict


# -- reserve and release ---------------------------------------------------------------------------------------
def test_reserve_is_idempotent_per_reference_and_release_frees_it(inside, people):
    seller = people["sales"]
    with inside():
        product, warehouse = stocked_make(on_hand="10", default=True)
        first = services.stock_reserve(actor=seller, reference_type="order", reference_id=42,
                                       lines=[(product.pk, None, 4)])
        assert first.changed and first.held == {(warehouse.pk, product.pk): Decimal("4")}
        again = services.stock_reserve(actor=seller, reference_type="order", reference_id="42",
                                       lines=[(product.pk, None, 4)])
        assert not again.changed and again.movements == []
        row = level(product, warehouse)
        assert (row.on_hand, row.reserved, row.available) == (Decimal("10"), Decimal("4"), Decimal("6"))
        assert StockMovement.objects.filter(kind="reservation", reference_id="42").count() == 1

        released = services.stock_release(actor=seller, reference_type="order", reference_id=42)
        assert released.changed and released.held == {}
        assert not services.stock_release(actor=seller, reference_type="order", reference_id=42).changed
        assert level(product, warehouse).reserved == 0
        # after a release the document may reserve again (e.g. an order reopened)
        assert services.stock_reserve(actor=seller, reference_type="order", reference_id=42,
                                      lines=[(product.pk, warehouse.pk, 2)]).changed
        assert level(product, warehouse).reserved == 2
        assert_ledger_adds_up(product)


def test_reserve_refuses_when_short_naming_the_product_and_writes_nothing(inside):
    with inside():
        plenty, warehouse = stocked_make(on_hand="100")
        scarce, _ = stocked_make(on_hand="3", product=product_make(name="紧俏的全站仪", sku="SCARCE-1"),
                                 warehouse=warehouse)
        services.stock_reserve(actor=None, reference_type="order", reference_id=1,
                               lines=[(scarce.pk, warehouse.pk, 2)])
        with pytest.raises(ValidationError) as short:
            services.stock_reserve(actor=None, reference_type="order", reference_id=2,
                                   lines=[(plenty.pk, warehouse.pk, 5), (scarce.pk, warehouse.pk, 2)])
        message = " ".join(short.value.message_dict["lines"])
        assert "紧俏的全站仪" in message and "SCARCE-1" in message and "可用 1" in message and "需要 2" in message
        # all or nothing: the line that fitted was not reserved either
        assert level(plenty, warehouse).reserved == 0 and level(scarce, warehouse).reserved == 2
        assert not StockMovement.objects.filter(reference_id="2").exists()


def test_a_refusal_inside_the_callers_transaction_leaves_nothing_and_the_caller_goes_on(inside):
    # an order's approval reserves inside the engine's transaction and, when refused, goes on
    # writing (the order flagged short): the refusal must not spoil that transaction, and a
    # pair that never had stock gets no level from a refused reservation
    from django.db import transaction

    with inside():
        stocked, warehouse = stocked_make(on_hand="1")
        never = product_make()
        with transaction.atomic():
            with pytest.raises(ValidationError):
                services.stock_reserve(actor=None, reference_type="order", reference_id=11,
                                       lines=[(stocked.pk, warehouse.pk, 1), (never.pk, warehouse.pk, 1)])
            assert not StockLevel.objects.filter(product=never).exists()
            assert level(stocked, warehouse).reserved == 0
            services.stock_receive(actor=None, warehouse_id=warehouse.pk, product_id=never.pk, quantity="1")
            assert services.stock_reserve(actor=None, reference_type="order", reference_id=11,
                                          lines=[(stocked.pk, warehouse.pk, 1), (never.pk, warehouse.pk, 1)]).changed
        assert level(never, warehouse).reserved == 1 and level(stocked, warehouse).reserved == 1
        assert_ledger_adds_up(never)


def test_reserve_checks_every_line(inside):
    with inside():
        product, warehouse = stocked_make(on_hand="5")
        retired = product_make()
        services.product_deactivate(actor=None, product_id=retired.pk)
        with pytest.raises(ValidationError) as bad:
            services.stock_reserve(actor=None, reference_type="order", reference_id=3, lines=[
                (product.pk, warehouse.pk, 0), (99999999, warehouse.pk, 1), (retired.pk, warehouse.pk, 1),
                (product.pk, 99999999, 1), (product.pk, None, 1)])
        errors = bad.value.message_dict["lines"]
        assert len(errors) == 4 and errors[0].startswith("第 1 行")
        with pytest.raises(ValidationError) as no_default:  # no warehouse and no default one
            services.stock_reserve(actor=None, reference_type="order", reference_id=3, lines=[(product.pk, None, 1)])
        assert "默认仓库" in str(no_default.value)
        with pytest.raises(ValidationError) as no_ref:
            services.stock_reserve(actor=None, reference_type="", reference_id=3, lines=[(product.pk, None, 1)])
        assert "reference_type" in no_ref.value.message_dict


def test_back_orders_allow_reserving_and_shipping_beyond_stock(inside, people):
    with inside():
        product, warehouse = stocked_make(on_hand="2", default=True)
        services.catalog_settings_update(actor=people["warehouse"], allow_backorders=True)
        services.stock_reserve(actor=None, reference_type="order", reference_id=7, lines=[(product.pk, None, 5)])
        row = level(product, warehouse)
        assert (row.reserved, row.available) == (Decimal("5"), Decimal("-3"))
        services.stock_ship(actor=None, reference_type="order", reference_id=7, lines=[(product.pk, None, 5)])
        row = level(product, warehouse)
        assert (row.on_hand, row.reserved) == (Decimal("-3"), Decimal("0"))
        assert_ledger_adds_up(product)


# -- ship -----------------------------------------------------------------------------------------------------
def test_ship_consumes_the_reservation_and_is_idempotent_by_external_id(inside):
    with inside():
        product, warehouse = stocked_make(on_hand="10", default=True)
        services.stock_reserve(actor=None, reference_type="order", reference_id=9, lines=[(product.pk, None, 6)])
        first = services.stock_ship(actor=None, reference_type="order", reference_id=9,
                                    lines=[(product.pk, None, 4)], external_id="DN-0001")
        assert first.changed and first.held == {(warehouse.pk, product.pk): Decimal("2")}
        movement = first.movements[0]
        assert (movement.on_hand_delta, movement.reserved_delta) == (Decimal("-4"), Decimal("-4"))
        retry = services.stock_ship(actor=None, reference_type="order", reference_id=9,
                                    lines=[(product.pk, None, 4)], external_id="DN-0001")
        assert not retry.changed and [m.pk for m in retry.movements] == [movement.pk]
        row = level(product, warehouse)
        assert (row.on_hand, row.reserved) == (Decimal("6"), Decimal("2"))
        with pytest.raises(ValidationError) as reused:
            services.stock_ship(actor=None, reference_type="order", reference_id=10,
                                lines=[(product.pk, None, 1)], external_id="DN-0001")
        assert "external_id" in reused.value.message_dict
        # the rest of the reservation is released when the order closes
        assert services.stock_release(actor=None, reference_type="order", reference_id=9).held == {}
        assert level(product, warehouse).reserved == 0
        assert_ledger_adds_up(product)


def test_ship_never_takes_stock_reserved_for_others(inside):
    with inside():
        product, warehouse = stocked_make(on_hand="10", product=product_make(name="抢手的电台"))
        services.stock_reserve(actor=None, reference_type="order", reference_id=11,
                               lines=[(product.pk, warehouse.pk, 8)])
        with pytest.raises(ValidationError) as short:
            services.stock_ship(actor=None, reference_type="order", reference_id=12,
                                lines=[(product.pk, warehouse.pk, 3)])
        assert "抢手的电台" in str(short.value) and "可用 2" in str(short.value)
        services.stock_ship(actor=None, reference_type="order", reference_id=12, lines=[(product.pk, warehouse.pk, 2)])
        # its own reservation plus what is free
        services.stock_ship(actor=None, reference_type="order", reference_id=11, lines=[(product.pk, warehouse.pk, 8)])
        row = level(product, warehouse)
        assert (row.on_hand, row.reserved) == (Decimal("0"), Decimal("0"))
        with pytest.raises(ValidationError):
            services.stock_ship(actor=None, reference_type="order", reference_id=13,
                                lines=[(product.pk, warehouse.pk, 1)])
        assert level(product, warehouse).on_hand == 0
        assert_ledger_adds_up(product)


def test_ship_finds_the_warehouse_holding_the_reservation(inside):
    with inside():
        product, beijing = stocked_make(on_hand="5", default=True)
        _, shanghai = stocked_make(on_hand="5", product=product)
        services.stock_reserve(actor=None, reference_type="order", reference_id=21,
                               lines=[(product.pk, shanghai.pk, 3)])
        services.stock_ship(actor=None, reference_type="order", reference_id=21, lines=[(product.pk, None, 3)])
        assert level(product, shanghai).on_hand == 2 and level(product, beijing).on_hand == 5
        # lines of the same product and warehouse are merged into one movement
        result = services.stock_ship(actor=None, reference_type="order", reference_id=22,
                                     lines=[(product.pk, None, 1), (product.pk, beijing.pk, 1)])
        assert len(result.movements) == 1 and result.movements[0].quantity == 2


def test_stock_list_filters_low_stock(inside, people):
    with inside():
        low, warehouse = stocked_make(on_hand="2")
        fine, _ = stocked_make(on_hand="50", warehouse=warehouse)
        services.stock_reorder_level_set(actor=people["warehouse"], warehouse_id=warehouse.pk, product_id=low.pk,
                                         reorder_level="5")
        services.stock_reorder_level_set(actor=None, warehouse_id=warehouse.pk, product_id=fine.pk, reorder_level="5")
        ids = set(stock_list(actor=people["sales"], warehouse_id=warehouse.pk, low=True).values_list("product_id",
                                                                                                     flat=True))
        assert ids == {low.pk}
        assert stock_held_by_reference(reference_type="order", reference_id="none") == {}
        other = warehouse_make()
        assert not stock_list(actor=people["sales"], warehouse_id=other.pk).exists()
