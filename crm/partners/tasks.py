"""Celery tasks of partners: thin, idempotent, run in the schema they were queued from (the beat
fans the expiry out to every active tenant)."""

from celery import shared_task


@shared_task(name="partners.deals_expire", soft_time_limit=240, time_limit=300, acks_late=True,
             max_retries=3, default_retry_delay=60)
def deals_expire_task() -> int:
    """Approved deal registrations past their protection become expired."""
    from .deals import deals_expire

    return deals_expire()
