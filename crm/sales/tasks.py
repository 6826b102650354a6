"""Celery tasks of the sales app: thin, idempotent."""

from celery import shared_task


@shared_task(name="sales.quotes_expire", soft_time_limit=300, time_limit=360, acks_late=True)
def sales_quotes_expire_task() -> dict:
    """Mark sent quotes past their validity as expired (runs in one tenant's schema; beat
    fans it out to every active tenant). Safe to retry or to run twice."""
    from .services import quotes_expire_run

    return {"expired": quotes_expire_run()}
