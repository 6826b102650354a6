"""Fixtures of the dashboard tests: tenant alpha (standard mode: the business secretary
approves every order, finance re-checks at or above 100,000.00) with the orders tests' shop
(a default warehouse, stocked products, a customer of each salesperson), and helpers that make
approved orders and shipments through the real services.

Every test starts from empty fact tables in alpha and beta (inside its own rolled-back
transaction): the committed concurrency tests of other apps approve and ship orders, and the
facts they leave behind are none of these tests' business."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from tests.crm.orders.conftest import alpha, people, shop  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _no_facts_yet(request):
    if "db" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        yield
        return
    env = request.getfixturevalue("tenant_env")
    request.getfixturevalue("db")
    from crm.analytics.models import DailySalesFact, MonthlySalesFact

    for tenant in env.values():
        with schema_context(tenant.schema_name):
            DailySalesFact.objects.all().delete()
            MonthlySalesFact.objects.all().delete()
    yield
