"""Celery tasks of billing: thin, by id, idempotent; they run in the public schema."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils.dateparse import parse_datetime
from django_tenants.utils import get_public_schema_name, schema_context

from .enums import StripeEventStatus

log = logging.getLogger(__name__)


@shared_task(name="billing.process_event", bind=True, max_retries=8, default_retry_delay=60,
             soft_time_limit=60, time_limit=90, acks_late=True)
def stripe_event_process_task(self, event_pk: int) -> str:
    """Process one stored Stripe event; Stripe unreachable -> retried later (with backoff)."""
    from .services import stripe_event_process

    with schema_context(get_public_schema_name()):
        event = stripe_event_process(event_pk=event_pk)
    if event.status == StripeEventStatus.FAILED and not self.request.is_eager:
        raise self.retry(countdown=min(60 * 2 ** self.request.retries, 3600))
    return event.status


@shared_task(name="billing.dunning_run", soft_time_limit=600, time_limit=660)
def dunning_run_task(now: str | None = None) -> dict:
    """Hourly (beat): trials ending, grace periods, retention periods. ``now`` (ISO 8601) lets
    tests travel in time."""
    from .services import dunning_run

    with schema_context(get_public_schema_name()):
        return dunning_run(now=parse_datetime(now) if isinstance(now, str) else now)
