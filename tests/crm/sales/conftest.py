"""Fixtures of the sales tests: tenant alpha (standard mode: qualify 10%, quote 40%,
negotiate 70%, won 100%, lost 0%) and its demo staff; beta is the project-sales tenant."""

import pytest
from django.conf import settings

# The configured (development) database, before pytest-django points Django at a test one.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "exec", "manager", "sales", "sales2", "secretary",
                                              "finance", "warehouse", "service")}


@pytest.fixture
def inside(tenant_a, in_tenant):
    """``with inside():`` enters tenant alpha's schema."""
    return lambda: in_tenant(tenant_a)


@pytest.fixture
def api(tenant_a, people, api_for):
    return lambda key: api_for(tenant_a, people[key])


@pytest.fixture
def browser(tenant_a, people, web_as):
    return lambda key: web_as(tenant_a, people[key])


@pytest.fixture(scope="session")
def test_database(django_db_setup, django_db_blocker, django_db_keepdb, django_db_createdb):
    """The test database, also when the only selected tests are ones that commit (the
    concurrency tests request no ``db``; the same fixture as tests/crm/catalog's)."""
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    if connections["default"].settings_dict["NAME"] != _CONFIGURED_DATABASE:
        yield  # already set up for the other tests of this session
        return
    keepdb = django_db_keepdb and not django_db_createdb
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, keepdb=keepdb, aliases={"default"})
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0, keepdb=keepdb)
