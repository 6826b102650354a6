"""Fixtures of the portal tests, in tenant alpha (standard product: no deal registration) and
beta (project sales: deal registration). A gold-tier partner owned by the regional manager (the
channel manager: the first approval step), with a partner admin and two partner sales users;
another partner (silver) with its admin; products on the gold price list (one with a minimum
order quantity of 5), one not on it, and one inactive."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.crm.catalog.factories import price_list_make, product_make, stocked_make

from .factories import member_make, partner_make

STAFF = ("admin", "exec", "manager", "sales", "sales2", "secretary", "finance", "warehouse")


@dataclass
class Portal:
    partner: object
    other: object
    padmin: object
    psales: object
    psales2: object
    other_admin: object
    gps: object  # gold 80.00 (list 100.00), VAT 13 %, 100 in stock
    cable: object  # gold 30.00, min 5, VAT 6 %, 3 in stock (low)
    offlist: object  # not on the gold list
    retired: object  # on the gold list, inactive
    warehouse: object


def _people(tenant, user_in):
    people = {}
    for key in STAFF:
        try:
            people[key] = user_in(tenant, key)
        except Exception:  # a mode without this demo person
            pass
    return people


@pytest.fixture
def people(tenant_a, user_in):
    return _people(tenant_a, user_in)


@pytest.fixture
def alpha(tenant_a, in_tenant):
    with in_tenant(tenant_a):
        yield tenant_a


def make_portal(people, tier_code: str = "gold") -> Portal:
    from crm.catalog import services as catalog

    admin = people["admin"]
    gps, warehouse = stocked_make(on_hand="100", product=product_make(name="门户 GPS 接收机", list_price="100.00"),
                                  default=True)
    cable, _w = stocked_make(on_hand="3", warehouse=warehouse,
                             product=product_make(name="门户数据线", list_price="40.00", tax_rate="0.06"))
    offlist = product_make(name="门户不在价格表的产品", list_price="10.00")
    retired = product_make(name="门户停产产品", list_price="10.00")
    price_list_make(kind="partner_tier", code=tier_code,
                    items=[(gps, Decimal("80.00")), (cable, Decimal("30.00"), Decimal("5")),
                           (retired, Decimal("9.00"))])
    catalog.product_deactivate(actor=None, product_id=retired.pk)
    partner = partner_make(actor=admin, owner=people["manager"], tier=tier_code)
    other = partner_make(actor=admin, owner=people["manager"], tier="silver")
    return Portal(partner=partner, other=other,
                  padmin=member_make(actor=admin, partner=partner, role="admin").user,
                  psales=member_make(actor=admin, partner=partner).user,
                  psales2=member_make(actor=admin, partner=partner).user,
                  other_admin=member_make(actor=admin, partner=other, role="admin").user,
                  gps=gps, cable=cable, offlist=offlist, retired=retired, warehouse=warehouse)


@pytest.fixture
def portal(alpha, people) -> Portal:
    return make_portal(people)


@pytest.fixture
def web(web_as, tenant_a):
    """``web(user)``: a browser-like client of tenant alpha signed in as ``user``."""
    return lambda user=None: web_as(tenant_a, user)


@pytest.fixture
def api(api_for, tenant_a):
    """``api(user)``: an API client of tenant alpha with ``user``'s token."""
    return lambda user=None: api_for(tenant_a, user)
