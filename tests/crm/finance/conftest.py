"""Fixtures of the finance tests, in tenant alpha (standard-product mode): the orders tests'
staff, shop (a default warehouse with stocked products, one customer per salesperson) and
helpers that take an order to shipped through the real services."""

from __future__ import annotations

import pytest

from tests.crm.orders.conftest import STAFF, shop  # noqa: F401 (fixtures)


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in STAFF}


@pytest.fixture
def alpha(tenant_a, in_tenant):
    """Run the test body in tenant alpha's schema."""
    with in_tenant(tenant_a):
        yield tenant_a


@pytest.fixture
def shipped(shop, people):  # noqa: F811 (the imported fixture)
    """``shipped(quantity=1, customer=None, owner="sales", **order data)``: an order of the GPS
    receiver (100.00 + 13 % VAT a unit) approved and fully shipped."""
    from .factories import shipped_order_make

    def _make(quantity="1", customer=None, owner="sales", product=None, **data):
        return shipped_order_make(people=people, customer=customer or shop.customer, owner=people[owner],
                                  product=product or shop.gps, quantity=quantity, **data)
    return _make
