"""Celery tasks of finance: thin, by id, idempotent, run in the schema they were queued from
(the beat fans the reminders out to every active tenant)."""

from celery import shared_task


@shared_task(name="finance.overdue_reminders", soft_time_limit=240, time_limit=300, acks_late=True,
             max_retries=3, default_retry_delay=60)
def finance_overdue_reminders_task() -> dict:
    """Tell owners and finance about overdue invoices, each invoice at most once per the
    tenant's reminder interval."""
    from .services import overdue_reminders_send

    return overdue_reminders_send()


@shared_task(name="finance.notify", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=3, default_retry_delay=30)
def finance_notify_task(what: str, object_id: int) -> int:
    """Tell the owner that an invoice was issued or a payment received (once each)."""
    from .services import finance_notify

    return finance_notify(what=what, object_id=object_id)
