"""Celery tasks of the dashboard: thin, idempotent, run in the schema they were queued from
(the nightly repair is one beat entry fanned out to every active tenant)."""

from __future__ import annotations

import datetime

from celery import shared_task


@shared_task(name="analytics.facts_rebuild", soft_time_limit=1800, time_limit=1900, acks_late=True)
def analytics_facts_rebuild_task(since: str | None = None, days: int | None = None) -> dict:
    """Recompute this tenant's sales facts: from ``since`` (YYYY-MM-DD), or the last ``days``
    days, or all of them. Safe to retry or to run twice (the result is the same)."""
    from django.utils import timezone

    from .services import sales_facts_rebuild

    day = datetime.date.fromisoformat(since) if since else None
    if day is None and days:
        day = timezone.localdate() - datetime.timedelta(days=int(days))
    return sales_facts_rebuild(since=day).after
