"""Console fixtures: operators signed in with their second factor, on the public host."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.console.helpers import signed_in_client


def _forget_login_failures():
    try:
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match="*console-login-fail:*", count=500))
        if keys:
            client.delete(*keys)
    except Exception:  # Redis down: the tests that need it will say so
        pass


@pytest.fixture(autouse=True)
def _fresh_login_counters():
    """Failure counters live in Redis, which the test transaction does not roll back."""
    _forget_login_failures()
    yield
    _forget_login_failures()


@pytest.fixture
def console(tenant_env, db):
    """(client, operator): an operator signed in with password and TOTP."""
    return signed_in_client()
