"""The tenant-aware Celery app: every task runs in the schema it was queued from."""

import os

from tenant_schemas_celery.app import CeleryApp as TenantAwareCeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = TenantAwareCeleryApp("qiao")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
