"""Suite-wide fixtures. Tenant schemas are created once per session (cloned from the
template, as in production); each test runs in a transaction that is rolled back."""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.test import APIClient

from tenants.models import Tenant
from tenants.selectors import tenant_primary_domain

PASSWORD = "Test-pass-2026"


@pytest.fixture(scope="session")
def tenant_env(django_db_setup, django_db_blocker):
    """Two live tenants with demo staff: ``alpha`` (standard product) and ``beta``
    (complex project sales), committed once for the whole session."""
    from billing.services import subscription_on_provisioned
    from tenants.services import tenant_create, tenant_public_ensure, tenant_template_ensure

    with django_db_blocker.unblock():
        tenant_public_ensure()
        tenant_template_ensure()
        made = {}
        for slug, mode in (("alpha", "standard"), ("beta", "project")):
            tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(
                name=f"{slug.title()} 测试有限公司", slug=slug, mode=mode,
                admin_email=f"admin@{slug}.test", admin_name=f"{slug} admin",
                admin_password=PASSWORD, demo=True, demo_password=PASSWORD)
            assert tenant.status == "active", tenant.provisioning_error
            # Demo tenants are on the top plan, free (billing); a database kept from before
            # subscriptions existed gets one too, so plan limits never surprise other tests.
            subscription_on_provisioned(tenant_id=tenant.pk, demo=True)
            made[slug] = tenant
        connection.set_schema_to_public()
    return made


@pytest.fixture
def tenant_a(tenant_env, db):
    return tenant_env["alpha"]


@pytest.fixture
def tenant_b(tenant_env, db):
    return tenant_env["beta"]


# The configured (development) database, before pytest-django points Django at a test one.
_CONFIGURED_DATABASE = settings.DATABASES["default"]["NAME"]


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
    assert connections["default"].settings_dict["NAME"] != _CONFIGURED_DATABASE
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            connections.close_all()
            teardown_databases(created, verbosity=0, keepdb=keepdb)


@pytest.fixture(autouse=True)
def _public_schema_after_each_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _forget_cached_tenants():
    """Host lookups and tenants' plans (billing.entitlements) are cached in Redis, which the
    test transaction does not roll back."""
    yield
    try:
        client = cache._cache.get_client(write=True)
        keys = [key for pattern in ("*tenant-by-host:*", "*billing-entitlements*")
                for key in client.scan_iter(match=pattern, count=500)]
        if keys:
            client.delete(*keys)
    except Exception:  # Redis down: the tests that need it will say so
        pass


@pytest.fixture
def in_tenant():
    @contextmanager
    def _enter(tenant):
        with schema_context(tenant.schema_name):
            yield tenant
    return _enter


def host_of(tenant) -> str:
    return tenant_primary_domain(tenant)


@pytest.fixture
def web(tenant_a):
    """A browser-like client on tenant A's host."""
    return Client(HTTP_HOST=host_of(tenant_a))


@pytest.fixture
def user_in(in_tenant):
    """Look up a demo user of a tenant by the key part of their email (e.g. 'sales')."""
    def _get(tenant, key):
        from crm.org.models import User

        with in_tenant(tenant):
            domain = f"{tenant.slug}.example.com" if key != "admin" else f"{tenant.slug}.test"
            return User.objects.get(email=f"{key}@{domain}")
    return _get


@pytest.fixture
def api_for(in_tenant):
    """An API client on ``tenant``'s host authenticated with ``user``'s token."""
    def _make(tenant, user=None):
        client = APIClient(HTTP_HOST=host_of(tenant))
        if user is not None:
            from crm.org.services import token_issue

            with in_tenant(tenant):
                client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
        return client
    return _make


@pytest.fixture
def unique_slug():
    return lambda prefix="t": f"{prefix}{uuid.uuid4().hex[:10]}"


@pytest.fixture
def web_as(in_tenant):
    """A browser-like client on ``tenant``'s host, signed in as ``user`` (the session is
    stored in that tenant's schema, as a real sign-in would)."""
    def _make(tenant, user=None):
        client = Client(HTTP_HOST=host_of(tenant))
        if user is not None:
            with in_tenant(tenant):
                client.force_login(user)
        return client
    return _make
