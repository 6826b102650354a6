"""Shared helpers of the performance benchmarks (not a test module: pytest collects nothing here).

Every benchmark creates tenants whose slug starts with ``bench-`` plus its own short prefix
(schemas ``t_bench_...``) and removes exactly those again: rows, domains, events, cached host
lookups and schemas, then vacuums the catalogs the schemas bloated. A run that was killed
half-way is cleaned up by the next run of the same benchmark, which first removes leftovers
with its prefix. Two runs at once against the same database would remove each other's
tenants: give each its own database.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_PASSWORD = "Bench-pass-2026"

_ready = False


def django_setup() -> None:
    """Settings ``config.settings.dev`` (DATABASE_URL and REDIS_URL come from the environment)."""
    global _ready
    if _ready:
        return
    missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not os.environ.get(name)]
    if missing:
        sys.exit(f"benchmarks: set {' and '.join(missing)} first, e.g.\n"
                 "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench "
                 "REDIS_URL=redis://127.0.0.1:6379/7 .venv/bin/python tests/perf/run_all.py")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.dev"
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # provisioning logs would drown the figures
    import django

    django.setup()
    # A SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so the cleanup in `finally` runs.
    signal.signal(signal.SIGTERM, _raise_interrupt)
    _ready = True


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run_id() -> str:
    """Four hex characters that keep the slugs of one run apart from a concurrent one."""
    return os.urandom(2).hex()


# -- statistics ------------------------------------------------------------------------------
def percentile(values: Iterable[float], q: float) -> float:
    """Linear interpolation between closest ranks (as numpy's default)."""
    data = sorted(values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 76 - len(title)), flush=True)
    say(f"({machine()})")


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load}"


def say(line: str) -> None:
    print(line, flush=True)


class Timer:
    def __enter__(self):
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.started
        return False


class PhaseTimer:
    """Times the calls of chosen functions while in the ``with`` block, by wrapping them in
    this process only (module or class attributes; put back on exit). What the calls
    returned is kept too (``results``), for the functions that report how they did it."""

    def __init__(self):
        self.calls: dict[str, list[float]] = {}
        self.results: dict[str, list] = {}
        self._undo = []

    def wrap(self, owner, attr: str, label: str) -> None:
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.calls.setdefault(label, []).append(time.perf_counter() - started)
            self.results.setdefault(label, []).append(result)
            return result

        setattr(owner, attr, timed)
        self._undo.append((owner, attr, original))

    def total(self, label: str) -> float:
        return sum(self.calls.get(label, []))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for owner, attr, original in reversed(self._undo):
            setattr(owner, attr, original)
        self._undo.clear()
        return False

    def reset(self) -> None:
        self.calls.clear()
        self.results.clear()


# -- prerequisites and clean-up ----------------------------------------------------------------
def ensure_prerequisites() -> dict[str, float]:
    """What `manage.py qiao_setup` does before the tenants: the public schema migrated, the
    public tenant and host, the template schema (migrated if anything is pending)."""
    from django.core.management import call_command
    from django.db import connection

    from tenants.services import tenant_public_ensure, tenant_template_ensure

    timings = {}
    with Timer() as t:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    timings["migrate_schemas --shared"] = t.seconds
    with Timer() as t:
        tenant_public_ensure()
    timings["tenant_public_ensure"] = t.seconds
    with Timer() as t:
        tenant_template_ensure()
    timings["tenant_template_ensure"] = t.seconds
    connection.set_schema_to_public()
    return timings


def schema_for(slug: str) -> str:
    from tenants.services import _schema_for

    return _schema_for(slug)


def drop_schema(schema: str) -> None:
    from django.db import connection

    assert schema.startswith("t_bench_"), schema  # never anything the benchmarks did not make
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def drop_schemas(schemas: list[str], *, batch: int = 8) -> None:
    """A few schemas per statement and transaction: all at once would take a lock per table
    and index of every schema and exhaust the shared lock table."""
    from django.db import connection

    for i in range(0, len(schemas), batch):
        chunk = schemas[i:i + batch]
        assert all(s.startswith("t_bench_") for s in chunk), chunk
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA IF EXISTS " + ", ".join(f'"{s}"' for s in chunk) + " CASCADE")


# Catalogs of this database that creating and dropping schemas fills with dead rows (shared
# catalogs such as pg_shdepend are left alone: vacuuming them would lock every database).
CHURNED_CATALOGS = ("pg_attribute", "pg_attrdef", "pg_class", "pg_constraint", "pg_depend",
                    "pg_description", "pg_enum", "pg_index", "pg_namespace", "pg_proc",
                    "pg_sequence", "pg_statistic", "pg_trigger", "pg_type")
_autovacuum_reported = False


def catalog_vacuum() -> None:
    """VACUUM FULL the catalogs that schema churn bloats, in this database only.

    Every schema created and dropped leaves dead rows in pg_class, pg_attribute, pg_depend...;
    every catalog lookup (the clone's snapshot fingerprint, the schema listing and pending
    check of migrate_tenants, the planner's own lookups) wades through them. With autovacuum
    off nothing removes them, and a benchmark would measure the leftovers of the previous
    runs. Takes a brief
    exclusive lock on each catalog of this database; needs a superuser (or the owner of the
    database), otherwise PostgreSQL skips the tables with a warning."""
    global _autovacuum_reported
    from django.db import connection

    with connection.cursor() as cursor:
        size_sql = ("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c "
                    "WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relname = ANY(%s)")
        cursor.execute(size_sql, [list(CHURNED_CATALOGS)])
        size = cursor.fetchone()[0]
        started = time.perf_counter()
        cursor.execute("VACUUM (FULL, ANALYZE) " + ", ".join(f"pg_catalog.{t}" for t in CHURNED_CATALOGS))
        seconds = time.perf_counter() - started
        cursor.execute(size_sql, [list(CHURNED_CATALOGS)])
        after = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('autovacuum')")
        autovacuum = cursor.fetchone()[0]
    say(f"catalog vacuum (VACUUM FULL of {len(CHURNED_CATALOGS)} catalogs of this database): "
        f"{size} -> {after} in {fmt_s(seconds)}")
    if autovacuum != "on" and not _autovacuum_reported:
        _autovacuum_reported = True
        say("note: this PostgreSQL server runs with autovacuum = off; catalog bloat from tenant "
            "schemas created and dropped then stays until someone vacuums")


def cleanup(slug_prefix: str, *, quiet: bool = False, vacuum: bool = True) -> tuple[int, int]:
    """Remove every tenant whose slug starts with ``slug_prefix`` (which must start with
    ``bench-``) and every schema named after such a slug, with or without a row.
    Returns (rows deleted, schemas dropped)."""
    from django.db import connection, transaction

    from tenants.models import Tenant
    from tenants.selectors import tenant_cache_forget

    assert slug_prefix.startswith("bench-") and len(slug_prefix) > len("bench-"), slug_prefix
    connection.set_schema_to_public()
    schema_prefix = schema_for(slug_prefix)
    tenants = list(Tenant.objects.filter(slug__startswith=slug_prefix))
    for tenant in tenants:
        try:
            tenant_cache_forget(tenant)
        except Exception:  # Redis down: the keys expire on their own
            pass
    like = schema_prefix.replace("_", r"\_") + "%"
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [like])
        schemas = sorted({row[0] for row in cursor.fetchall()})
    drop_schemas(schemas)
    with transaction.atomic():
        deleted = Tenant.objects.filter(slug__startswith=slug_prefix).delete()[1].get("tenants.Tenant", 0)
    if not quiet and (deleted or schemas):
        say(f"cleanup {slug_prefix}*: {deleted} tenant rows deleted, {len(schemas)} schemas dropped")
    if vacuum and schemas:
        catalog_vacuum()
    return deleted, len(schemas)


def timed(fn, samples, repeat: int, warmup: int = 3) -> list[float]:
    """Wall-clock seconds of ``repeat`` calls of ``fn(sample)``, cycling through ``samples``
    after ``warmup`` untimed calls."""
    for s in samples[:warmup]:
        fn(s)
    out = []
    for i in range(repeat):
        s = samples[(i + warmup) % len(samples)]
        started = time.perf_counter()
        fn(s)
        out.append(time.perf_counter() - started)
    return out


SEQ_SCAN_MIN_ROWS = 100_000  # below this a sequential scan is the planner's honest choice
_large_cache: dict[tuple, set[str]] = {}


def large_tables(tables) -> set[str]:
    """Those of ``tables`` (in the current schema) holding more than SEQ_SCAN_MIN_ROWS rows:
    a Seq Scan of one of them is a failure of the query; of a small table it is not."""
    from django.db import connection

    key = (getattr(connection, "schema_name", ""), tuple(sorted(tables)))
    if key not in _large_cache:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relname, reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE n.nspname = current_schema() AND relname = ANY(%s)", [list(tables)])
            _large_cache[key] = {name for name, rows in cursor.fetchall() if rows > SEQ_SCAN_MIN_ROWS}
    return _large_cache[key]


# -- the benchmark tenants -------------------------------------------------------------------------
def bench_tenant_get(slug: str):
    """The bench tenant of this slug, or None."""
    from tenants.models import Tenant

    return Tenant.objects.filter(slug=slug).first()


def bench_tenant_create(slug: str, name: str):
    """A standard-mode bench tenant (prerequisites first), with the connection set to it."""
    from django.db import connection

    from tenants.services import tenant_create

    ensure_prerequisites()
    tenant = tenant_create(name=name, slug=slug, mode="standard", admin_email=f"admin@{slug}.test",
                           admin_name="基准管理员", admin_password=BENCH_PASSWORD)
    assert tenant.status == "active", tenant.provisioning_error
    connection.set_tenant(tenant)
    return tenant


def fmt_p(times: list[float], target: float | None) -> str:
    """``p50 … p95 …`` of ``times``, with MET / NOT MET against ``target`` (seconds) when given."""
    p50, p95 = percentile(times, 50), percentile(times, 95)
    verdict_text = f"  {verdict(p95 < target)}" if target else ""
    return f"p50 {fmt_ms(p50):>9}  p95 {fmt_ms(p95):>9}{verdict_text}"


def select_plans(fn, tables, *, starts: tuple[str, ...] = ("SELECT",)) -> tuple[list[str], bool]:
    """Run ``fn`` once and EXPLAIN every statement it issued that starts with ``starts`` and names
    one of ``tables`` (a row lookup FOR UPDATE is explained without the lock); True when a plan
    has a Seq Scan on one of those tables holding over 100,000 rows (a failure)."""
    import bench_customers
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as ctx:
        fn()
    lines, bad = [], False
    for q in ctx.captured_queries:
        sql = q["sql"]
        if not sql.lstrip("( ").upper().startswith(starts) or not any(t in sql for t in tables):
            continue
        if " FOR UPDATE" in sql.upper():
            sql = sql[:sql.upper().rindex(" FOR UPDATE")]
        nodes = bench_customers.explain(sql, {})
        if any(n.startswith("Seq Scan(") and n[9:-1] in large_tables(tables) for n in nodes):
            bad = True
        lines.append(" > ".join(nodes))
    return lines, bad


# -- bulk loads (the data generators) -------------------------------------------------------------
def secondary_indexes(cursor, schema: str, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the indexes of ``schema.table`` that back no constraint (those can
    be dropped during a load and built again afterwards)."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relname = %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)", [schema, table])
    return cursor.fetchall()


def indexes_drop_for_load(cursor, schema: str, tables) -> list[str]:
    """Drop the secondary indexes of these tables of ``schema`` and return the statements that
    build them again, taken from the template schema's definitions (so a load killed half-way,
    after the drop, is repaired by the next run)."""
    from django.conf import settings

    template = settings.TENANT_TEMPLATE_SCHEMA
    rebuild = []
    for table in tables:
        for name, _definition in secondary_indexes(cursor, schema, table):
            cursor.execute(f'DROP INDEX "{schema}"."{name}"')
        for _name, definition in secondary_indexes(cursor, template, table):
            for on in (f" ON {template}.{table} ", f' ON "{template}".{table} '):
                if on in definition:
                    rebuild.append(definition.replace(on, f' ON "{schema}".{table} '))
                    break
            else:
                raise AssertionError(definition)
    return rebuild


def replica_connections(n: int, schema: str) -> list:
    """``n`` extra psycopg connections to the same database, in ``schema``, with foreign-key
    triggers off (session_replication_role = replica: a loader writes only ids it made)."""
    import psycopg
    from django.db import connection

    dsn = connection.get_connection_params()
    conns = [psycopg.connect(**{k: v for k, v in dsn.items() if k not in ("cursor_factory", "context")})
             for _ in range(n)]
    for c in conns:
        c.execute("SET session_replication_role = replica")
        c.execute(f'SET search_path = "{schema}"')
    return conns


class Copier:
    """Streams COPY text lines of one table in 4 MB chunks."""

    def __init__(self, raw, table: str, columns):
        self.cur = raw.cursor()
        cols = ", ".join(f'"{c}"' for c in columns)
        self.ctx = self.cur.copy(f"COPY {table} ({cols}) FROM STDIN")
        self.copy = self.ctx.__enter__()
        self.buf: list[str] = []
        self.size = 0

    def row(self, values) -> None:
        line = "\t".join(values) + "\n"
        self.buf.append(line)
        self.size += len(line)
        if self.size >= 4 << 20:
            self.copy.write("".join(self.buf))
            self.buf, self.size = [], 0

    def close(self) -> None:
        if self.buf:
            self.copy.write("".join(self.buf))
        self.ctx.__exit__(None, None, None)
        self.cur.close()
