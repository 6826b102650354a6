"""Fixtures of the partner tests: tenant alpha (standard product: no deal registration) and
tenant beta (project sales: deal registration). In each, a partner owned by the regional manager
(华北), created by the tenant admin, with a partner admin and two partner sales users."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from .factories import member_make, partner_make

STAFF = ("admin", "exec", "manager", "sales", "sales2", "secretary", "finance", "warehouse")


@dataclass
class Channel:
    partner: object
    other: object  # a second partner (another one's data)
    padmin: object  # users
    psales: object
    psales2: object
    other_admin: object


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


@pytest.fixture
def beta(tenant_b, in_tenant):
    with in_tenant(tenant_b):
        yield tenant_b


@pytest.fixture
def people_b(tenant_b, user_in):
    return _people(tenant_b, user_in)


def _channel(people) -> Channel:
    admin = people["admin"]
    partner = partner_make(actor=admin, owner=people["manager"])
    other = partner_make(actor=admin, owner=people["manager"], tier="silver")
    return Channel(partner=partner, other=other,
                   padmin=member_make(actor=admin, partner=partner, role="admin").user,
                   psales=member_make(actor=admin, partner=partner).user,
                   psales2=member_make(actor=admin, partner=partner).user,
                   other_admin=member_make(actor=admin, partner=other, role="admin").user)


@pytest.fixture
def channel(alpha, people) -> Channel:
    return _channel(people)


@pytest.fixture
def channel_b(beta, people_b) -> Channel:
    return _channel(people_b)
