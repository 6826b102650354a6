"""Celery on Redis; tenant-aware through tenant-schemas-celery."""

from celery.schedules import crontab

from .cache import REDIS_URL
from .env import env

CELERY_BROKER_URL = env("CELERY_BROKER_URL", str, REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env("CELERY_TASK_ALWAYS_EAGER", bool, False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    # One beat entry per periodic job; it fans out one task per active tenant.
    "customers-pool-run": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("customers.pool_run",),
    },
    "activities-send-reminders": {
        "task": "tenants.fan_out",
        "schedule": 300.0,
        "args": ("activities.send_reminders",),
    },
    "sales-quotes-expire": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("sales.quotes_expire",),
    },
    "integrations-webhook-sweep": {
        "task": "tenants.fan_out",
        "schedule": 60.0,
        "args": ("integrations.sweep",),
    },
    "finance-overdue-reminders": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,  # each overdue invoice at most once per the tenant's interval (default 7 days)
        "args": ("finance.overdue_reminders",),
    },
    "orders-idempotency-purge": {
        "task": "tenants.fan_out",
        "schedule": 86400.0,
        "args": ("orders.idempotency_purge",),
    },
    # The dashboard's facts of the last 40 days recomputed from the orders and payments every
    # night (drift repair; the facts are recorded as things happen).
    "analytics-facts-repair": {
        "task": "tenants.fan_out",
        "schedule": crontab(hour=3, minute=17),
        "args": ("analytics.facts_rebuild", None, 40),
    },
    "partners-deals-expire": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("partners.deals_expire",),
    },
    # Billing (public schema, not fanned out): trials ending, grace and retention periods.
    "billing-dunning-run": {
        "task": "billing.dunning_run",
        "schedule": 3600.0,
        "args": (),
    },
    "tenants-usage-report": {
        "task": "tenants.fan_out",
        "schedule": 3600.0,
        "args": ("org.usage_report",),
    },
}
