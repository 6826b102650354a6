"""Orders through their services: creation with priced lines and totals, bad input refused
with nothing written, draft edits with versions, numbers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.audit.models import AuditEntry
from crm.orders import services
from crm.orders.calc import line_amounts, money
from crm.orders.models import Order, OrderEvent, OrderLine
from tests.crm.catalog.factories import price_list_make

from .factories import customer_make, line, order_make

pytestmark = pytest.mark.django_db


# -- arithmetic -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("quantity", "price", "discount", "rate", "net", "tax"), [
    ("1", "0.01", "0", "0.13", "0.01", "0.00"),
    ("3", "33.33", "0", "0.06", "99.99", "6.00"),
    ("1", "2.675", "0", "0", "2.68", "0.00"),  # half up, not banker's rounding
    ("2.5", "10.01", "0", "0.13", "25.03", "3.25"),  # 25.025 -> 25.03; 3.2539 -> 3.25
    ("1", "100.00", "12.5", "0.13", "87.50", "11.38"),  # 11.375 -> 11.38
    ("7", "14.29", "3.33", "0.13", "96.70", "12.57"),  # 96.6988... -> 96.70
])
def test_line_amounts_round_half_up_to_the_cent(quantity, price, discount, rate, net, tax):
    amounts = line_amounts(quantity=Decimal(quantity), unit_price=Decimal(price), discount_pct=Decimal(discount),
                           tax_rate=Decimal(rate))
    assert (amounts.net, amounts.tax) == (Decimal(net), Decimal(tax))
    assert amounts.gross == amounts.net + amounts.tax
    assert money("0.005") == Decimal("0.01") and money("-0.005") == Decimal("-0.01")


# -- create ----------------------------------------------------------------------------------------------
def test_create_prices_lines_and_stores_totals_that_add_up(shop, people):
    sales = people["sales"]
    order = order_make(actor=sales, customer=shop.customer, lines=[
        line(shop.gps, "3"),  # list price 100.00, 13 %
        line(shop.cable, "2.5", discount_pct="10"),  # 33.33 × 2.5 × 0.9 = 74.9925 -> 74.99; tax 6 % 4.4994 -> 4.50
        line(shop.gps, "1", unit_price="99.99", discount_pct="0"),
    ], delivery_address="北京市海淀区中关村大街 1 号", payment_terms_days=45, notes="加急")
    assert re.fullmatch(r"SO20\d\d-\d{6}", order.number)
    assert (order.status, order.owner, order.currency, order.version) == ("draft", sales, "CNY", 1)
    assert (order.department_id, order.region_id) == (sales.department_id, sales.region_id)
    lines = list(order.lines.order_by("position"))
    assert [(x.position, x.quantity, x.unit_price, x.net_amount, x.tax_amount) for x in lines] == [
        (1, Decimal("3"), Decimal("100.00"), Decimal("300.00"), Decimal("39.00")),
        (2, Decimal("2.5"), Decimal("33.33"), Decimal("74.99"), Decimal("4.50")),
        (3, Decimal("1"), Decimal("99.99"), Decimal("99.99"), Decimal("13.00")),
    ]
    assert lines[0].price_source and lines[2].price_source == "手工填写"
    assert lines[1].tax_rate == Decimal("0.0600") and lines[1].sku == shop.cable.sku
    assert (order.net_total, order.tax_total, order.total) == (Decimal("474.98"), Decimal("56.50"), Decimal("531.48"))
    assert order.max_discount_pct == Decimal("10") and order.line_count == 3
    assert order.payment_terms_days == 45 and order.delivery_address.startswith("北京")
    assert list(OrderEvent.objects.filter(order=order).values_list("kind", flat=True)) == ["created"]
    assert AuditEntry.objects.filter(content_type__model="order", object_id=str(order.pk), action="create").exists()


def test_numbers_follow_each_other_per_tenant(shop, people):
    first = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    second = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    a, b = (int(o.number.rsplit("-", 1)[1]) for o in (first, second))
    assert b == a + 1 and first.number[:7] == second.number[:7]


def test_default_price_follows_the_customer_level_price_list(shop, people):
    price_list_make(kind="customer_level", code="A", items=[(shop.gps, "88.00"), (shop.gps, "80.00", "10")])
    vip = customer_make(owner=people["sales"], level="A")
    order = order_make(actor=people["sales"], customer=vip, lines=[line(shop.gps, "2"), line(shop.gps, "10")])
    assert [x.unit_price for x in order.lines.order_by("position")] == [Decimal("88.00"), Decimal("80.00")]
    plain = order_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "2")])
    assert plain.lines.get().unit_price == Decimal("100.00")


def test_other_currencies_are_stored_with_their_code(shop, people):
    with pytest.raises(ValidationError) as no_price:  # the catalog has CNY prices only
        order_make(actor=people["sales"], customer=shop.customer, currency="usd", lines=[line(shop.gps)])
    assert "USD" in str(no_price.value) and "第 1 行" in str(no_price.value)
    order = order_make(actor=people["sales"], customer=shop.customer, currency="usd",
                       lines=[line(shop.gps, "2", unit_price="14.50")])
    assert (order.currency, order.total) == ("USD", Decimal("32.77"))  # 29.00 + 3.77


@pytest.mark.parametrize(("bad", "message"), [
    ({"quantity": "0"}, "数量必须大于 0"),
    ({"quantity": "-2"}, "数量必须大于 0"),
    ({"quantity": "1.0001"}, "数量最多保留 3 位小数"),
    ({"quantity": "abc"}, "数量必须是数字"),
    ({"quantity": ""}, "请填写数量"),
    ({"unit_price": "9.999"}, "单价最多保留 2 位小数"),
    ({"unit_price": "-1"}, "单价不能为负数"),
    ({"discount_pct": "101"}, "折扣率不能大于 100"),
    ({"product_id": None}, "请选择产品"),
])
def test_bad_lines_are_refused_naming_the_line_and_the_rule(shop, people, bad, message):
    before = Order.objects.count()
    lines = [line(shop.gps, "1"), {**line(shop.cable, "1"), **bad}]
    with pytest.raises(ValidationError) as refused:
        order_make(actor=people["sales"], customer=shop.customer, lines=lines)
    errors = refused.value.message_dict["lines"]
    assert len(errors) == 1 and errors[0].startswith("第 2 行：") and message in errors[0], errors
    assert Order.objects.count() == before and not OrderLine.objects.filter(product=shop.cable).exists()


def test_unknown_and_inactive_products_are_refused_by_line(shop, people):
    with pytest.raises(ValidationError) as refused:
        order_make(actor=people["sales"], customer=shop.customer,
                   lines=[line(shop.gps), {"product_id": 987654321, "quantity": "1"}, line(shop.retired)])
    errors = refused.value.message_dict["lines"]
    assert errors[0] == "第 2 行：产品 987654321 不存在。"
    assert errors[1].startswith("第 3 行：") and "已停用" in errors[1] and shop.retired.sku in errors[1]


def test_empty_or_malformed_lines(shop, people):
    for lines in ([], None, "abc", [["x"]]):
        with pytest.raises(ValidationError) as refused:
            order_make(actor=people["sales"], customer=shop.customer, lines=lines)
        assert "lines" in refused.value.message_dict


def test_customer_outside_scope_is_not_found(shop, people):
    with pytest.raises(services.NotInScope):
        order_make(actor=people["sales"], customer=shop.customer2, products=[shop.gps])
    with pytest.raises(services.NotInScope):
        services.order_create(actor=people["sales"], data={"customer_id": 10**9, "lines": [line(shop.gps)]})
    # a manager of the region sees (and orders for) the customers of the region's salespeople
    order = order_make(actor=people["manager"], customer=shop.customer, products=[shop.gps])
    assert order.owner == people["manager"]


def test_owner_may_be_a_colleague_in_scope_only(shop, people):
    order = order_make(actor=people["manager"], customer=shop.customer, products=[shop.gps],
                       owner_id=people["sales"].pk)
    assert order.owner == people["sales"] and order.region_id == people["sales"].region_id
    with pytest.raises(ValidationError) as refused:
        order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps], owner_id=people["sales2"].pk)
    assert "owner_id" in refused.value.message_dict


def test_header_fields_are_checked(shop, people):
    with pytest.raises(ValidationError) as refused:
        order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps], currency="RMB1",
                   payment_terms_days="400", delivery_date="2026-13-01", delivery_address="x" * 301)
    assert set(refused.value.message_dict) == {"currency", "payment_terms_days", "delivery_date", "delivery_address"}


# -- edit -------------------------------------------------------------------------------------------------
def test_draft_edit_with_version_and_stale_version(shop, people):
    sales = people["sales"]
    order = order_make(actor=sales, customer=shop.customer, products=[shop.gps])
    services.order_update(actor=sales, order_id=order.pk, version=1,
                          data={"lines": [line(shop.gps, "2"), line(shop.cable, "1")], "notes": "改了"})
    order.refresh_from_db()
    assert (order.version, order.line_count, order.notes, order.total) == (2, 2, "改了", Decimal("261.33"))
    assert list(order.lines.values_list("position", flat=True)) == [1, 2]
    with pytest.raises(services.StaleVersion) as stale:
        services.order_update(actor=sales, order_id=order.pk, version=1, data={"notes": "旧版本"})
    assert stale.value.current == 2
    order.refresh_from_db()
    assert order.notes == "改了"
    with pytest.raises(services.NotInScope):
        services.order_update(actor=people["sales2"], order_id=order.pk, data={"notes": "x"})
    with pytest.raises(PermissionDenied):  # sees it (all scope) but may not edit it
        services.order_update(actor=people["warehouse"], order_id=order.pk, data={"notes": "x"})
