"""Celery tasks of the tenant lifecycle: thin, by id, idempotent."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import connection
from django_tenants.utils import get_public_schema_name, schema_context

from .models import Tenant

log = logging.getLogger(__name__)


@shared_task(name="tenants.provision", bind=True, max_retries=3, default_retry_delay=10,
             soft_time_limit=120, time_limit=180, acks_late=True)
def tenant_provision_task(self, tenant_id: int) -> str:
    from .services import tenant_provision

    tenant = tenant_provision(tenant_id=tenant_id)
    return tenant.status


@shared_task(name="tenants.fan_out", soft_time_limit=60, time_limit=90)
def tenants_fan_out_task(task_name: str, *args) -> int:
    """Queue ``task_name`` once per active tenant, each running in that tenant's schema
    (tenant-schemas-celery carries the schema in the task headers)."""
    from config.celery import app

    with schema_context(get_public_schema_name()):
        schemas = list(Tenant.objects.active().values_list("schema_name", flat=True))
    app.loader.import_default_modules()  # every app's tasks module (cheap after the first call)
    task = app.tasks[task_name]  # only registered tasks: a typo fails here, loudly
    for schema in schemas:
        with schema_context(schema):
            task.apply_async(args=args)  # tenant-schemas-celery puts the schema in the headers
    connection.set_schema_to_public()
    log.info("fanned out %s to %d tenants", task_name, len(schemas))
    return len(schemas)
