"""Fixtures of the approval engine tests: a document type registered for the test (an
in-memory store of documents and of the callbacks the engine made), extra staff, and the
alpha tenant (standard-product mode: business secretary, then finance at or above
100,000.00, then the credit-override step when the customer's credit is over its limit)."""

from __future__ import annotations

import itertools

import pytest

from crm.approvals import registry

from .factories import DOC, DocStore

_serial = itertools.count(1)


@pytest.fixture
def docs():
    """The test document type, registered for this test only."""
    store = DocStore()
    registry.register(store.document_type())
    yield store
    registry.unregister(store.key)


@pytest.fixture
def alpha(tenant_a, in_tenant):
    """Run the test body in tenant alpha's schema."""
    with in_tenant(tenant_a):
        yield tenant_a


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in
            ("admin", "exec", "manager", "sales", "sales2", "secretary", "finance", "warehouse", "service")}


@pytest.fixture
def make_staff(tenant_a, in_tenant):
    """Another staff member of alpha with the given roles (through the org service)."""
    from crm.org.services import staff_create

    def _make(*roles, name=None, department=None, region=None):
        n = next(_serial)
        with in_tenant(tenant_a):
            return staff_create(actor=None, email=f"approver{n}@alpha.example.com", full_name=name or f"审批人{n}",
                                role_codes=list(roles), department_id=department, region_id=region)
    return _make


@pytest.fixture
def save_policy(tenant_a, in_tenant, people):
    """Replace the test type's policy as the tenant admin."""
    from crm.approvals.services import approval_policy_save

    def _save(*steps, active=True, doc_type=DOC):
        with in_tenant(tenant_a):
            return approval_policy_save(actor=people["admin"], doc_type=doc_type, steps=list(steps), active=active)
    return _save
