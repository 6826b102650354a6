"""Celery tasks of the approval engine: thin, by id, idempotent (each notification has a
dedup key), run in the schema they were queued from. Queued after commit by the services."""

from celery import shared_task


@shared_task(name="approvals.notify_pending", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=3, default_retry_delay=30)
def approvals_notify_pending_task(step_id: int) -> int:
    """Tell the approvers of a step that has just become active (and their delegates)."""
    from .services import approval_notify_pending

    return approval_notify_pending(step_id=step_id)


@shared_task(name="approvals.notify_result", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=3, default_retry_delay=30)
def approvals_notify_result_task(request_id: int) -> int:
    """Tell the submitter how their request ended."""
    from .services import approval_notify_result

    return approval_notify_result(request_id=request_id)


@shared_task(name="approvals.notify_delegated", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=3, default_retry_delay=30)
def approvals_notify_delegated_task(delegation_id: int) -> int:
    """Tell a delegate that someone's approvals are now theirs to decide."""
    from .services import approval_notify_delegated

    return approval_notify_delegated(delegation_id=delegation_id)
