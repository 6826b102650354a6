"""PostgreSQL through django-tenants' backend, from DATABASE_URL."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlparse

from .env import ImproperEnvironment, env


def parse_database_url(url: str) -> dict:
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql"}:
        raise ImproperEnvironment(
            f"DATABASE_URL must start with postgres:// or postgresql://, got {parsed.scheme!r}"
        )
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or (unquote(parsed.hostname) if parsed.hostname else "")
    config = {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": unquote(parsed.path.lstrip("/")) or "postgres",
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(parsed.port or ""),
        "CONN_MAX_AGE": env("DATABASE_CONN_MAX_AGE", int, 60),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {},
        "TEST": {"NAME": env("DATABASE_TEST_NAME", str, "") or None},
    }
    if "sslmode" in query:
        config["OPTIONS"]["sslmode"] = query["sslmode"]
    return config


DATABASES = {
    "default": parse_database_url(
        env(
            "DATABASE_URL",
            str,
            help="PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/qiao; "
            "`make run` and `make test` start an embedded server when it is unset",
        )
    )
}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
