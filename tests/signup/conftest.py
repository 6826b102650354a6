"""Sign-up fixtures: a client on the public host, the form as a browser would send it, and
the fake Stripe (tests/billing/fake_stripe.py) for the paid path."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.test import Client

from tests.billing.fake_stripe import fake_stripe  # noqa: F401  (the fixture)

PASSWORD = "Qiao-Signup-2026!"


def _forget_rate_counters():
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match="*signup-rate:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_rate_counters():
    """The counters live in Redis, which the test transaction does not roll back."""
    _forget_rate_counters()
    yield
    _forget_rate_counters()


@pytest.fixture
def public(tenant_env):
    return Client(HTTP_HOST="localhost")


def form_token_of(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "the sign-up form carries no one-time token"
    return match.group(1)


@pytest.fixture
def signup_data(public):
    """``signup_data(slug, **overrides)``: a filled-in form with a fresh one-time token."""
    def _make(slug: str, /, **overrides) -> dict:
        token = form_token_of(public.get("/signup/").content.decode())
        data = {"name": "桥梁测试科技有限公司", "slug": slug, "mode": "standard", "admin_name": "王经理",
                "admin_email": f"boss@{slug}.cn", "password": PASSWORD, "plan": "trial",
                "interval": "month", "form_token": token}
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}
    return _make
