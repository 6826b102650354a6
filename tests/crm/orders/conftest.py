"""Fixtures of the order tests, in tenant alpha (standard-product mode: a business secretary
approves every order, finance re-checks at or above 100,000.00, finance again as the
credit-override step when the customer is over its credit limit)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.crm.catalog.factories import product_make, stocked_make

from .factories import customer_make

STAFF = ("admin", "exec", "manager", "sales", "sales2", "secretary", "finance", "warehouse", "service")


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in STAFF}


@pytest.fixture
def alpha(tenant_a, in_tenant):
    """Run the test body in tenant alpha's schema."""
    with in_tenant(tenant_a):
        yield tenant_a


@dataclass
class Shop:
    warehouse: object
    gps: object  # 100.00, VAT 13 %, 100 in stock
    cable: object  # 33.33, VAT 6 %, 10 in stock
    radio: object  # 50,000.00, VAT 13 %, 5 in stock
    retired: object  # inactive
    customer: object  # sales' customer (level B)
    customer2: object  # sales2's customer


@pytest.fixture
def shop(alpha, people):
    """A default warehouse with three stocked products and an inactive one; one customer of
    each salesperson."""
    from crm.catalog import services as catalog

    gps, warehouse = stocked_make(on_hand="100", product=product_make(name="测试 GPS 接收机", list_price="100.00"),
                                  default=True)
    cable, _w = stocked_make(on_hand="10", warehouse=warehouse,
                             product=product_make(name="测试数据线", list_price="33.33", tax_rate="0.06"))
    radio, _w = stocked_make(on_hand="5", warehouse=warehouse,
                             product=product_make(name="测试外挂电台", list_price="50000.00"))
    retired = product_make(name="停产产品", list_price="10.00")
    catalog.product_deactivate(actor=None, product_id=retired.pk)
    return Shop(warehouse=warehouse, gps=gps, cable=cable, radio=radio, retired=retired,
                customer=customer_make(owner=people["sales"]), customer2=customer_make(owner=people["sales2"]))

