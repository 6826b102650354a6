import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "OPTIONS": {"socket_connect_timeout": 0.5},
    }
}


def test_healthz_reports_503_when_redis_is_down(tenant_env):
    with override_settings(CACHES=DEAD_REDIS):
        response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False and body["checks"]["database"]["ok"] is True


def test_healthz_reports_503_when_the_database_is_down(tenant_env, monkeypatch):
    from django.db.backends.utils import CursorWrapper

    def broken(self, sql, params=None):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(CursorWrapper, "execute", broken)
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
