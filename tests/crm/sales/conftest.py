"""Fixtures of the sales tests: tenant alpha (standard mode: qualify 10%, quote 40%,
negotiate 70%, won 100%, lost 0%) and its demo staff; beta is the project-sales tenant."""

import pytest


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "exec", "manager", "sales", "sales2", "secretary",
                                              "finance", "warehouse", "service")}


@pytest.fixture
def inside(tenant_a, in_tenant):
    """``with inside():`` enters tenant alpha's schema."""
    return lambda: in_tenant(tenant_a)


@pytest.fixture
def catalog(inside):
    """A few products with a customer-level price list (level A)."""
    from .factories import price_list_make, product_make

    with inside():
        g970 = product_make(name="G970 接收机", spec="北斗三号", list_price="39800.00")
        battery = product_make(name="锂电池", list_price="380.00", unit="块")
        service = product_make(name="校准服务", list_price="800.00", tax_rate="0.06")
        retired = product_make(name="停售产品", list_price="10.00")
        from crm.catalog.services import product_deactivate
        product_deactivate(actor=None, product_id=retired.pk)
        price_list_make(kind="customer_level", code="A", items=[(g970, "36616.00"), (battery, "349.00"),
                                                                (battery, "330.00", 10)])
    return {"g970": g970, "battery": battery, "service": service, "retired": retired}


@pytest.fixture
def api(tenant_a, people, api_for):
    return lambda key: api_for(tenant_a, people[key])


@pytest.fixture
def browser(tenant_a, people, web_as):
    return lambda key: web_as(tenant_a, people[key])

