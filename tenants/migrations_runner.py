"""Deploy-time migrations across many schemas: find what each schema lacks with one query
per batch of schemas, skip the up-to-date ones, migrate the rest in parallel processes."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache

from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader


@lru_cache(maxsize=1)
def migrations_on_disk() -> frozenset[tuple[str, str]]:
    """Every migration the code ships, as (app_label, name); squashed ones count as their
    replacement, as Django records them."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return frozenset(loader.graph.nodes.keys())


def applied_by_schema(schemas: Iterable[str], *, batch: int = 200) -> dict[str, set[tuple[str, str]]]:
    schemas = list(schemas)
    result: dict[str, set[tuple[str, str]]] = {s: set() for s in schemas}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'django_migrations' "
            "AND table_schema = ANY(%s)", [schemas])
        present = [row[0] for row in cursor.fetchall()]
        for i in range(0, len(present), batch):
            chunk = present[i:i + batch]
            sql = " UNION ALL ".join(
                f'SELECT %s, app, name FROM "{schema}".django_migrations' for schema in chunk)
            cursor.execute(sql, chunk)
            for schema, app, name in cursor.fetchall():
                result[schema].add((app, name))
    return result


def existing_schemas(names: Iterable[str]) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name = ANY(%s)",
                       [list(names)])
        return [row[0] for row in cursor.fetchall()]


def pending_migrations(schema: str) -> set[tuple[str, str]]:
    return set(migrations_on_disk()) - applied_by_schema([schema])[schema]


@dataclass
class SchemaResult:
    schema: str
    ok: bool
    seconds: float
    applied: int
    error: str = ""


def _migrate_one(schema: str, pending_count: int, in_child: bool = False) -> SchemaResult:
    from django.core.management import call_command

    started = time.perf_counter()
    try:
        call_command("migrate_schemas", schema_name=schema, tenant=True, interactive=False,
                     verbosity=0)
        return SchemaResult(schema, True, time.perf_counter() - started, pending_count)
    except Exception as exc:  # reported, never stops the other schemas
        return SchemaResult(schema, False, time.perf_counter() - started, 0,
                            f"{type(exc).__name__}: {exc}")
    finally:
        if in_child:
            connections.close_all()


def migrate_schemas_parallel(schemas: list[str], *, workers: int,
                             report: Callable[[str], None]) -> list[SchemaResult]:
    started = time.perf_counter()
    applied = applied_by_schema(schemas)
    on_disk = migrations_on_disk()
    todo = [(s, len(on_disk - applied[s])) for s in schemas if on_disk - applied[s]]
    skipped = len(schemas) - len(todo)
    report(f"{len(schemas)} schemas: {skipped} up to date (skipped), {len(todo)} to migrate "
           f"[checked in {time.perf_counter() - started:.2f}s]")
    results: list[SchemaResult] = []
    if not todo:
        return results
    if workers <= 1 or len(todo) == 1:
        for schema, count in todo:
            res = _migrate_one(schema, count)
            results.append(res)
            _report_one(report, res, len(results), len(todo))
        return results
    connections.close_all()  # forked workers must not share this process's connection
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
        futures = [pool.submit(_migrate_one, schema, count, True) for schema, count in todo]
        for future in as_completed(futures):
            res = future.result()
            results.append(res)
            _report_one(report, res, len(results), len(todo))
    return results


def _report_one(report, res: SchemaResult, done: int, total: int) -> None:
    if res.ok:
        report(f"[{done}/{total}] {res.schema}: migrated {res.applied} in {res.seconds:.2f}s")
    else:
        report(f"[{done}/{total}] {res.schema}: FAILED after {res.seconds:.2f}s: {res.error}")
