"""Celery tasks of orders: thin, by id, idempotent (each notification has a dedup key), run
in the schema they were queued from. Queued after commit by the services."""

from celery import shared_task


@shared_task(name="orders.notify", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=3, default_retry_delay=30)
def orders_notify_task(order_id: int, what: str, detail: str = "") -> int:
    """Tell an order's owner that it shipped, or that its stock is short."""
    from .services import order_notify

    return order_notify(order_id=order_id, what=what, detail=detail)


@shared_task(name="orders.idempotency_purge", soft_time_limit=300, time_limit=360, acks_late=True)
def orders_idempotency_purge_task(days: int = 7) -> int:
    """Forget Idempotency-Key records older than ``days`` (clients retry within minutes)."""
    from .idempotency import idempotency_purge

    return idempotency_purge(days=days)


@shared_task(name="orders.partner_notify", soft_time_limit=60, time_limit=90, acks_late=True,
             max_retries=3, default_retry_delay=30)
def partner_order_notify_task(order_id: int, status: str, kind: str, version: int, actor_id: int | None = None) -> int:
    """Tell a partner's people that their order's status changed (crm.orders.partner)."""
    from .partner import partner_order_notify

    return partner_order_notify(order_id=order_id, status=status, kind=kind, version=version, actor_id=actor_id)
