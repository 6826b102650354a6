"""Celery tasks of the customers app: thin, by id, idempotent."""

from celery import shared_task


@shared_task(name="customers.pool_run", soft_time_limit=300, time_limit=360, acks_late=True)
def customers_pool_run_task() -> dict:
    """Warn owners of customers about to go to the pool, release the overdue ones (runs in
    one tenant's schema; beat fans it out to every active tenant)."""
    from .services import pool_run

    result = pool_run()
    return {"released": result.released, "warned": len(result.warned)}


@shared_task(bind=True, name="customers.import_run", soft_time_limit=1800, time_limit=1900,
             acks_late=True, max_retries=3, default_retry_delay=30)
def customers_import_run_task(self, job_id: int) -> dict:
    """Run one customer import job (in the schema it was queued from). Safe to retry: the
    job resumes after its last committed batch, and a job already done is left alone."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db import InterfaceError, OperationalError
    from django.utils.translation import gettext as _

    from .imports import import_job_execute, import_job_fail

    try:
        job = import_job_execute(job_id=job_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < self.max_retries and not self.request.is_eager:
            raise self.retry(exc=exc) from exc
        import_job_fail(job_id=job_id, error=_("数据库连接出错，导入已中止：%(e)s") % {"e": exc})
        raise
    except SoftTimeLimitExceeded:
        import_job_fail(job_id=job_id, error=_("导入超过时间上限，已中止；再次运行会从中断处继续。"))
        raise
    except Exception as exc:
        import_job_fail(job_id=job_id, error=_("导入失败：%(e)s") % {"e": exc})
        raise
    return {"status": job.status, "created": job.created_rows, "updated": job.updated_rows,
            "rejected": job.rejected_rows}


@shared_task(bind=True, name="customers.import_check", soft_time_limit=600, time_limit=660,
             acks_late=True, max_retries=3, default_retry_delay=30)
def customers_import_check_task(self, job_id: int, check_id: str) -> dict:
    """Dry-run a big uploaded file (in the schema it was queued from). Safe to retry: only the
    newest check of a job not yet started writes its result."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db import InterfaceError, OperationalError
    from django.utils.translation import gettext as _

    from .imports import import_job_check_execute, import_job_check_fail

    try:
        job = import_job_check_execute(job_id=job_id, check_id=check_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < self.max_retries and not self.request.is_eager:
            raise self.retry(exc=exc) from exc
        import_job_check_fail(job_id=job_id, check_id=check_id, error=_("数据库连接出错，预检已中止：%(e)s") % {"e": exc})
        raise
    except SoftTimeLimitExceeded:
        import_job_check_fail(job_id=job_id, check_id=check_id, error=_("预检超过时间上限，已中止。"))
        raise
    except Exception as exc:
        import_job_check_fail(job_id=job_id, check_id=check_id, error=_("预检失败：%(e)s") % {"e": exc})
        raise
    return {"status": job.status, "summary": job.dry_run.get("summary", {})}


@shared_task(bind=True, name="customers.import_chunk", soft_time_limit=1800, time_limit=1900,
             acks_late=True, max_retries=3, default_retry_delay=30)
def customers_import_chunk_task(self, job_id: int, chunk: int) -> dict:
    """Import one chunk of a big job (queued by customers.import_run, in the same schema).
    Safe to retry: the chunk resumes after its last committed batch."""
    from celery.exceptions import SoftTimeLimitExceeded
    from django.db import InterfaceError, OperationalError
    from django.utils.translation import gettext as _

    from .imports import import_chunk_execute, import_job_fail

    part = {"n": chunk + 1}
    try:
        job = import_chunk_execute(job_id=job_id, chunk=chunk)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < self.max_retries and not self.request.is_eager:
            raise self.retry(exc=exc) from exc
        import_job_fail(job_id=job_id, error=_("数据库连接出错，导入（第 %(n)s 部分）已中止：%(e)s") % {**part, "e": exc})
        raise
    except SoftTimeLimitExceeded:
        import_job_fail(job_id=job_id, error=_("导入（第 %(n)s 部分）超过时间上限，已中止；再次运行会从中断处继续。") % part)
        raise
    except Exception as exc:
        import_job_fail(job_id=job_id, error=_("导入（第 %(n)s 部分）失败：%(e)s") % {**part, "e": exc})
        raise
    return {"status": job.status, "chunk": chunk}


@shared_task(name="customers.scope_reindex", acks_late=True, soft_time_limit=3600, time_limit=3700)
def customers_scope_reindex_task(kind: str, node_ids: list[int]) -> int:
    """Re-index the scope tokens of the customers of a moved department or region subtree
    (queued by crm.org.services.on_tree_moved). Idempotent: it recomputes from the paths."""
    from .search import scope_reindex_nodes

    return scope_reindex_nodes(kind=kind, node_ids=node_ids)
