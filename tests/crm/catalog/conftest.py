import pytest
from django.conf import settings

# The configured (development) database, before pytest-django points Django at a test one.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


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


@pytest.fixture(scope="session")
def test_database(django_db_setup, django_db_blocker, django_db_keepdb, django_db_createdb):
    """The test database, also when the only selected tests are ones that commit (the
    concurrency tests request no ``db``, and pytest-django creates the test database only for
    tests that do; tests/e2e/conftest.py does the same for the browser tests)."""
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
