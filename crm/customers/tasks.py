"""Celery tasks of the customers app: thin, by id, idempotent."""

from celery import shared_task


@shared_task(name="customers.pool_run", soft_time_limit=300, time_limit=360, acks_late=True)
def customers_pool_run_task() -> dict:
    """Warn owners of customers about to go to the pool, release the overdue ones (runs in
    one tenant's schema; beat fans it out to every active tenant)."""
    from .services import pool_run

    result = pool_run()
    return {"released": result.released, "warned": len(result.warned)}
