"""Fixtures of the integrations tests. Webhooks go through httpx.MockTransport (the
``receiver``), never the network; tenant alpha (standard mode) unless a test says otherwise."""

from __future__ import annotations

import httpx
import pytest

from crm.integrations.outbound import transport_override

from .factories import Receiver, unique_url


@pytest.fixture
def alpha(tenant_a, in_tenant):
    """Run the test body in tenant alpha's schema."""
    with in_tenant(tenant_a):
        yield tenant_a


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "exec", "manager", "sales", "sales2", "secretary",
                                               "finance", "warehouse", "service")}


@pytest.fixture
def receiver():
    """Every webhook of the test lands here."""
    fake = Receiver()
    with transport_override(httpx.MockTransport(fake)):
        yield fake


@pytest.fixture
def make_endpoint(tenant_a, in_tenant, people):
    """An endpoint of alpha, made by its admin through the service."""
    from crm.integrations.services import webhook_endpoint_create

    def _make(events=("*",), url=None, tenant=None, actor=None, **kwargs):
        tenant = tenant or tenant_a
        with in_tenant(tenant):
            return webhook_endpoint_create(actor=actor or people["admin"], url=url or unique_url(),
                                           events=list(events), **kwargs)
    return _make


@pytest.fixture
def make_client(tenant_a, in_tenant, people):
    """An ERP client of alpha and its token."""
    from crm.integrations.services import erp_client_create

    def _make(name="用友 U8", scopes=("stock_levels", "shipments", "payments"), tenant=None, actor=None):
        with in_tenant(tenant or tenant_a):
            return erp_client_create(actor=actor or people["admin"], name=name, scopes=list(scopes))
    return _make


@pytest.fixture
def erp_api(tenant_a):
    """An API client on alpha's host sending an ERP token."""
    from rest_framework.test import APIClient

    from tests.conftest import host_of

    def _make(token, tenant=None):
        client = APIClient(HTTP_HOST=host_of(tenant or tenant_a))
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client
    return _make


@pytest.fixture
def clock(monkeypatch):
    """Controls django.utils.timezone.now (services, auto_now fields) so tests can let time
    pass: ``clock.advance(minutes=5)``."""
    import datetime

    from django.utils import timezone

    class Clock:
        def __init__(self):
            self.now = timezone.now()

        def __call__(self):
            return self.now

        def advance(self, **delta):
            self.now += datetime.timedelta(**delta)
            return self.now

    fake = Clock()
    monkeypatch.setattr(timezone, "now", fake)
    return fake
