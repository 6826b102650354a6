"""Read-side queries over tenants (public schema)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from .models import Domain, Tenant

_CACHED_FIELDS = ("id", "schema_name", "name", "slug", "modes", "status", "status_reason",
                  "language", "time_zone", "currency", "plan_code", "is_template")


def _host_key(hostname: str) -> str:
    # make_key (django-tenants) prefixes the schema name: this key lives under "public".
    return f"tenant-by-host:{hostname}"


def tenant_for_host(hostname: str) -> Tenant | None:
    """The tenant served on ``hostname``, from the cache when possible."""
    with schema_context(get_public_schema_name()):
        key = _host_key(hostname)
        data = cache.get(key)
        if data is None:
            domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
            data = {f: getattr(domain.tenant, f) for f in _CACHED_FIELDS} if domain else {}
            cache.set(key, data, settings.TENANT_LOOKUP_CACHE_SECONDS)
    if not data:
        return None
    tenant = Tenant(**data)
    tenant._state.adding = False
    tenant._state.db = "default"
    return tenant


def tenant_cache_forget(tenant: Tenant) -> None:
    """Drop cached host lookups of ``tenant`` (after any change to it or its domains)."""
    with schema_context(get_public_schema_name()):
        hosts = list(Domain.objects.filter(tenant_id=tenant.pk).values_list("domain", flat=True))
        cache.delete_many([_host_key(h) for h in hosts])


def tenant_primary_domain(tenant: Tenant) -> str | None:
    with schema_context(get_public_schema_name()):
        domain = Domain.objects.filter(tenant_id=tenant.pk, is_primary=True).first()
        return domain.domain if domain else None


def tenant_base_url(tenant: Tenant) -> str:
    host = tenant_primary_domain(tenant) or f"{tenant.slug}.{settings.BASE_DOMAIN}"
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{host}{port}/"


def current_tenant() -> Tenant | None:
    tenant = getattr(connection, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return tenant
