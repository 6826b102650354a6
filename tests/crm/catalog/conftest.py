import pytest


@pytest.fixture
def people(tenant_a, user_in):
    """Demo staff of tenant alpha (standard mode): the admin and secretary manage the catalog,
    the warehouse keeper the stock; the others only read."""
    return {k: user_in(tenant_a, k) for k in ("admin", "secretary", "warehouse", "sales", "sales2", "exec",
                                              "finance", "manager")}


@pytest.fixture
def inside(tenant_a, in_tenant):
    """``with inside():`` enters tenant alpha's schema."""
    return lambda: in_tenant(tenant_a)

