"""Fixtures of the activities tests: customers made through the customers service (copied
here on purpose: a non-root conftest may not pull another one in)."""

import itertools

import pytest

_serial = itertools.count(1)


@pytest.fixture
def make_customer(in_tenant):
    from crm.customers.services import customer_create

    def _make(tenant, actor, name=None, **data):
        name = name or f"活动测试客户{next(_serial)}号有限公司"
        with in_tenant(tenant):
            return customer_create(actor=actor, data={"name": name, **data}, duplicate_override=True)
    return _make


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("sales", "sales2", "manager", "exec", "admin")}


@pytest.fixture
def books(tenant_a, people, make_customer):
    """One customer per salesperson."""
    return {"sales": make_customer(tenant_a, people["sales"], "北京燕山仪表有限公司"),
            "sales2": make_customer(tenant_a, people["sales2"], "上海浦江电子有限公司")}
