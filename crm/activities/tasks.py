"""Celery tasks of the activities app: thin, idempotent, run inside one tenant's schema."""

from celery import shared_task


@shared_task(name="activities.send_reminders", soft_time_limit=240, time_limit=300, acks_late=True,
             max_retries=3, default_retry_delay=60)
def activities_send_reminders_task() -> dict:
    """Due task reminders and pool warnings, in-app and by email, each sent once (beat fans
    it out to every active tenant)."""
    from .services import reminders_send

    return reminders_send()
