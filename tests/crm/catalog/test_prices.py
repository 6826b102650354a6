"""Price resolution: special lists (customer level, partner tier) before standard lists
before the list price; the highest volume break not above the quantity; validity dates."""

import datetime
from decimal import Decimal

import pytest

from crm.catalog import services
from crm.catalog.selectors import price_for

from .factories import price_list_make, product_make

pytestmark = pytest.mark.django_db

DAY = datetime.date(2026, 6, 15)


@pytest.fixture
def product(inside):
    with inside():
        return product_make(name="价格测试接收机", list_price="1000.00")


def resolve(inside, product, quantity=1, **kwargs):
    with inside():
        return price_for(product_id=product.pk, quantity=quantity, on=kwargs.pop("on", DAY), **kwargs)


def test_list_price_when_no_list_applies(inside, product):
    unit_price, source = resolve(inside, product)
    assert unit_price == Decimal("1000.00") and source == "产品目录价"
    resolved = resolve(inside, product)
    assert resolved.price_list_id is None and resolved.currency == "CNY"


def test_standard_list_with_volume_breaks(inside, product):
    with inside():
        standard = price_list_make(name="标准价", items=[(product, "950"), (product, "900", "10"), (product, "850", "50")])
    assert resolve(inside, product, 1).unit_price == Decimal("950.00")
    assert resolve(inside, product, 9.999).unit_price == Decimal("950.00")
    ten = resolve(inside, product, 10)
    assert ten.unit_price == Decimal("900.00") and ten.price_list_id == standard.pk and ten.min_quantity == 10
    assert "标准价" in ten.source and "起订量 10" in ten.source
    assert resolve(inside, product, 500).unit_price == Decimal("850.00")
    # below the smallest break of the list: the list price
    with inside():
        other = product_make(list_price="77.00")
        price_list_make(items=[(other, "70", "5")])
    assert resolve(inside, other, 2).unit_price == Decimal("77.00")


def test_customer_level_and_partner_tier_lists_come_first(inside, product):
    with inside():
        price_list_make(name="标准价", items=[(product, "950"), (product, "900", "10")])
        price_list_make(name="VIP 价", kind="customer_level", code="A", items=[(product, "880")])
        price_list_make(name="B 级价", kind="customer_level", code="B", items=[(product, "930")])
        price_list_make(name="金牌价", kind="partner_tier", code="gold", items=[(product, "820"), (product, "780", "20")])
    vip = resolve(inside, product, 10, customer_level="A")
    assert vip.unit_price == Decimal("880.00") and "VIP 价" in vip.source  # the special list wins, even at 10
    assert resolve(inside, product, 1, customer_level="B").unit_price == Decimal("930.00")
    assert resolve(inside, product, 10, customer_level="C").unit_price == Decimal("900.00")  # no C list: standard
    assert resolve(inside, product, 1, partner_tier="gold").unit_price == Decimal("820.00")
    assert resolve(inside, product, 25, partner_tier="gold").unit_price == Decimal("780.00")
    assert resolve(inside, product, 1, partner_tier="silver").unit_price == Decimal("950.00")
    # a customer level never picks up a partner tier's list of the same code, nor the reverse
    assert resolve(inside, product, 1, customer_level="gold").unit_price == Decimal("950.00")


def test_validity_dates_are_inclusive_and_inactive_lists_do_not_apply(inside, product):
    with inside():
        summer = price_list_make(name="夏季促销", valid_from=datetime.date(2026, 6, 1),
                                 valid_to=datetime.date(2026, 6, 30), items=[(product, "800")])
        price_list_make(name="全年标准", items=[(product, "950")])
    assert resolve(inside, product, on=datetime.date(2026, 6, 1)).unit_price == Decimal("800.00")
    assert resolve(inside, product, on=datetime.date(2026, 6, 30)).unit_price == Decimal("800.00")
    assert resolve(inside, product, on=datetime.date(2026, 5, 31)).unit_price == Decimal("950.00")
    assert resolve(inside, product, on=datetime.date(2026, 7, 1)).unit_price == Decimal("950.00")
    with inside():
        services.price_list_deactivate(actor=None, price_list_id=summer.pk)
    assert resolve(inside, product, on=datetime.date(2026, 6, 15)).unit_price == Decimal("950.00")


def test_ties_go_to_the_lower_price(inside, product):
    with inside():
        price_list_make(name="标准一", items=[(product, "960")])
        cheaper = price_list_make(name="标准二", items=[(product, "940")])
    resolved = resolve(inside, product)
    assert resolved.unit_price == Decimal("940.00") and resolved.price_list_id == cheaper.pk


def test_prices_for_many_lines_agrees_with_price_for_in_one_query(inside, django_assert_num_queries):
    """An order's lines are priced together: the same answers as one price_for per line, in one
    query whatever the number of lines (special list, standard list, volume break, list price)."""
    from crm.catalog.models import Product
    from crm.catalog.selectors import prices_for

    with inside():
        a = product_make(name="甲", list_price="100.00")
        b = product_make(name="乙", list_price="200.00")
        c = product_make(name="丙", list_price="300.00")
        price_list_make(name="标准价", items=[(a, "95"), (a, "90", "10"), (b, "190")])
        price_list_make(name="VIP 价", kind="customer_level", code="A", items=[(b, "180", "5")])
        lines = [(a, Decimal("1")), (a, Decimal("10")), (b, Decimal("1")), (b, Decimal("5")), (c, Decimal("3"))]
        products = list(Product.objects.filter(pk__in=[a.pk, b.pk, c.pk]).in_bulk().values())
        by_pk = {p.pk: p for p in products}
        with django_assert_num_queries(1):
            batch = prices_for(products=[by_pk[p.pk] for p, _q in lines], quantities=[q for _p, q in lines],
                               customer_level="A", on=DAY)
        one_by_one = [price_for(product_id=p.pk, quantity=q, customer_level="A", on=DAY) for p, q in lines]
    assert batch == one_by_one
    assert [r.unit_price for r in batch] == [Decimal("95.00"), Decimal("90.00"), Decimal("190.00"),
                                             Decimal("180.00"), Decimal("300.00")]
    with pytest.raises(ValueError):
        prices_for(products=[a], quantities=[])
