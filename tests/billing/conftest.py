"""Billing fixtures: the fake Stripe under the real SDK (see fake_stripe.py), and the test
database for the tests that commit (the webhook race)."""

import pytest
from django.conf import settings

from tests.billing.fake_stripe import fake_stripe  # noqa: F401  (the fixture, for every billing test)

# The configured (development) database, before pytest-django points Django at a test one.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


@pytest.fixture(scope="session")
def test_database(django_db_setup, django_db_blocker, django_db_keepdb, django_db_createdb):
    """The test database, also when the only selected tests are ones that commit (they request
    no ``db``; see tests/crm/catalog/conftest.py)."""
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
