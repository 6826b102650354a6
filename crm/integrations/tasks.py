"""Celery tasks of the integrations: thin, by id, idempotent, run in the schema they were
queued from (tenant-schemas-celery)."""

from celery import shared_task


@shared_task(name="integrations.deliver", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=0, ignore_result=True)
def webhook_deliver_task(delivery_id: int) -> str | None:
    """Make the next attempt of one webhook delivery if it is due. Safe to run twice or
    late: a delivery that is done, not due or in flight elsewhere is left alone. Failed
    attempts are not retried by Celery: the delivery's own schedule (next_attempt_at) and
    the sweep decide when the next one happens."""
    from .services import webhook_delivery_attempt

    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery is not None else None


@shared_task(name="integrations.sweep", soft_time_limit=60, time_limit=90, acks_late=True, ignore_result=True)
def webhook_sweep_task() -> int:
    """Queue the deliveries of this tenant that are due (retries, never queued, or whose
    worker stopped mid-attempt). Beat fans it out to every active tenant each minute."""
    from .services import webhook_deliveries_sweep

    return webhook_deliveries_sweep()
