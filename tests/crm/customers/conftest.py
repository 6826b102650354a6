import itertools

import pytest

from crm.customers.normalize import credit_code_check_char

_serial = itertools.count(1)


def make_credit_code() -> str:
    body = f"91110000{next(_serial):09d}"
    return body + credit_code_check_char(body)


@pytest.fixture
def credit_code():
    return make_credit_code


@pytest.fixture
def new_customer(in_tenant):
    """Create a customer through the service, as ``actor`` in ``tenant``."""
    from crm.customers.services import customer_create

    def _make(tenant, actor, name, **data):
        override = data.pop("duplicate_override", True)
        with in_tenant(tenant):
            return customer_create(actor=actor, data={"name": name, **data}, duplicate_override=override)
    return _make
