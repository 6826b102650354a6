"""`migrate_tenants` across many tenants when nothing is pending (the common deploy).

    DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/bench_migrate.py [--tenants 200] [--pending 2]

1. With --scale-provisions K (default 3): K tenants provisioned the normal way
   (tenant_request + tenant_provision, timed, each on a new connection) while few tenant
   schemas exist, as the baseline of step 4.
2. Creates --tenants real tenants: each schema is a copy of the template (structure and rows,
   django_migrations included) made by tenants.schema_clone.schema_clone, the replay of the
   template's cached DDL snapshot that tenant_provision uses, one transaction per tenant;
   every copy is checked against the template (tables, indexes, migrations recorded). Then
   the Tenant rows (status active) and their domains are bulk-created. The org set-up of
   tenant_provision is skipped: it adds rows, not migrations. The copy times show whether
   cloning slows down as schemas accumulate (first copies vs last).
3. Times `call_command('migrate_tenants')` in this process with the migration graph cache
   cleared (as in a fresh deploy process), and shows its phases; then the same as a separate
   process, `manage.py migrate_tenants`, start-up of Python and Django included.
4. K more tenants provisioned the normal way with all those schemas present, compared with
   the baseline of step 1 (should be flat).
5. With --pending K (default 2): K more tenants whose schemas are empty, so everything is
   pending for them, and `migrate_tenants` again: the parallel path migrates only those K.
Target (from the issue): nothing pending, 200 tenants, under 20 s.
Everything created is removed at the end (tenants `bench-mig-*`, schemas `t_bench_mig_*`).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG_PREFIX = "bench-mig-"
TOTAL_TARGET = 20.0


def _copy_by_schema_clone(schemas: list[str]) -> list[float]:
    """schema_clone of the template into each schema, one transaction each (as
    tenant_provision does); returns the time of each. The snapshot is built first, apart."""
    from django.conf import settings
    from django.db import connection, transaction

    from tenants.schema_clone import schema_clone, snapshot_for

    template = settings.TENANT_TEMPLATE_SCHEMA
    connection.set_schema_to_public()
    with bl.Timer() as t:
        snap = snapshot_for(template)
    if snap.unsupported:
        raise RuntimeError(f"the template holds objects the snapshot does not cover "
                           f"({', '.join(snap.unsupported)}): schema_clone would migrate each "
                           f"schema instead, which is not what this benchmark is for")
    bl.say(f"  snapshot of {template}: {len(snap.tables)} tables, {len(snap.indexes)} indexes, "
           f"{len(snap.foreign_keys)} foreign keys, rows of "
           f"{len(snap.data_tables)} tables ({bl.fmt_ms(t.seconds)}, cached if built before)")
    times = []
    started = time.perf_counter()
    for name in schemas:
        step = time.perf_counter()
        with transaction.atomic():
            method = schema_clone(template, name)
        times.append(time.perf_counter() - step)
        if method != "snapshot":
            raise RuntimeError(f"schema_clone copied {name} by {method!r}, not from the snapshot")
        if len(times) % 50 == 0:
            bl.say(f"  cloned {len(times)}/{len(schemas)} ({time.perf_counter() - started:.1f} s)")
    connection.set_schema_to_public()
    return times


def _copies_match_template(schemas: list[str]) -> str:
    """Tables, indexes and django_migrations rows of every copy, compared with the template."""
    from django.conf import settings
    from django.db import connection

    template = settings.TENANT_TEMPLATE_SCHEMA
    names = [template, *schemas]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT n.nspname,
                      (SELECT count(*) FROM pg_tables t WHERE t.schemaname = n.nspname),
                      (SELECT count(*) FROM pg_indexes i WHERE i.schemaname = n.nspname)
                 FROM unnest(%s::text[]) AS n(nspname)""", [names])
        shapes = {name: [tables, indexes] for name, tables, indexes in cursor.fetchall()}
        for i in range(0, len(names), 100):  # one statement per hundred schemas
            chunk = names[i:i + 100]
            cursor.execute(" UNION ALL ".join(
                f"SELECT %s, count(*) FROM \"{name}\".django_migrations" for name in chunk), chunk)
            for name, count in cursor.fetchall():
                shapes[name].append(count)
    original = tuple(shapes[template])
    wrong = {name: tuple(shapes[name]) for name in schemas if tuple(shapes[name]) != original}
    if wrong:
        sample = ", ".join(f"{name} {shape}" for name, shape in list(wrong.items())[:5])
        raise RuntimeError(f"{len(wrong)} of {len(schemas)} copies differ from the template "
                           f"{original} (tables, indexes, migrations): {sample}")
    return (f"all {len(schemas)} have {original[0]} tables, {original[1]} indexes, "
            f"{original[2]} migrations recorded, as the template")


def _create_rows(slugs: list[str], mode: str) -> None:
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from tenants.models import Domain, Tenant

    now = timezone.now()
    with transaction.atomic():
        tenants = Tenant.objects.bulk_create([
            Tenant(name=f"Bench {slug}", slug=slug, schema_name=bl.schema_for(slug), modes=[mode],
                   status="active", provisioned_at=now, admin_email=f"admin@{slug}.example.com")
            for slug in slugs])
        Domain.objects.bulk_create([
            Domain(domain=f"{t.slug}.{settings.BASE_DOMAIN}", tenant=t, is_primary=True)
            for t in tenants])


def _count_schemas(prefix: str) -> int:
    from django.db import connection

    like = bl.schema_for(prefix).replace("_", r"\_") + "%"
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE %s", [like])
        return cursor.fetchone()[0]


def _provision(slugs: list[str], mode: str) -> list[float]:
    """tenant_request + tenant_provision, each on a new connection; tenant_provision timed."""
    from django.db import connection

    from tenants.services import tenant_provision, tenant_request

    times = []
    for slug in slugs:
        tenant = tenant_request(name=f"Bench {slug}", slug=slug, mode=mode,
                                admin_email=f"admin@{slug}.example.com",
                                admin_name="Bench Admin", admin_password=bl.BENCH_PASSWORD)
        connection.close()  # a new session: see bench_provisioning.py
        with bl.Timer() as t:
            tenant = tenant_provision(tenant_id=tenant.pk)
        if tenant.status != "active":
            raise RuntimeError(f"provisioning {slug} failed: {tenant.provisioning_error}")
        times.append(t.seconds)
    return times


def _count_tenant_schemas() -> int:
    from tenants.models import Tenant

    return Tenant.objects.exclude(schema_name="public").exclude(status="failed").count()


PUBLIC_CHECK = "public schema check (incl. migration graph load)"
LISTING = "tenant list: which schemas exist"
PARALLEL = "migrate_schemas_parallel (pending check of every schema, then migrating)"
GRAPH = "  migration graph load (MigrationLoader)"
APPLIED = "  applied_by_schema (django_migrations of the schemas)"


def _migrate_tenants_in_process() -> tuple[float, str, bl.PhaseTimer]:
    """The command, with the phases it goes through timed."""
    from django.core.management import call_command
    from django.db import connection

    import tenants.management.commands.migrate_tenants as command
    from tenants import migrations_runner as runner

    runner.migrations_on_disk.cache_clear()  # a deploy runs it in a fresh process
    out = io.StringIO()
    with bl.PhaseTimer() as phases:
        phases.wrap(command, "pending_migrations", PUBLIC_CHECK)
        phases.wrap(command, "existing_schemas", LISTING)
        phases.wrap(command, "migrate_schemas_parallel", PARALLEL)
        phases.wrap(runner, "MigrationLoader", GRAPH)  # built once, in migrations_on_disk
        phases.wrap(runner, "applied_by_schema", APPLIED)
        started = time.perf_counter()
        try:
            call_command("migrate_tenants", stdout=out)
        except SystemExit as exc:  # the command exits 1 when a schema failed
            raise RuntimeError(f"migrate_tenants failed:\n{out.getvalue()}") from exc
        seconds = time.perf_counter() - started
    connection.set_schema_to_public()
    return seconds, out.getvalue(), phases


def _phase_lines(seconds: float, phases: bl.PhaseTimer) -> None:
    bl.say(f"  phases of migrate_tenants ({bl.fmt_s(seconds)} in all):")
    for label in (PUBLIC_CHECK, GRAPH, LISTING, PARALLEL, APPLIED):
        calls = phases.calls.get(label, [])
        bl.say(f"    {label:<74} {bl.fmt_s(sum(calls))}" + (f" ({len(calls)} calls)" if len(calls) > 1 else ""))


def _echo(output: str) -> None:
    for line in output.strip().splitlines():
        bl.say(f"  | {line}")


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--pending", type=int, default=2,
                        help="tenants with everything pending for the parallel path (0: skip)")
    parser.add_argument("--scale-provisions", type=int, default=3,
                        help="tenants provisioned the normal way (tenant_provision), timed, "
                             "before the others are created and again with all of them present "
                             "(0: skip)")
    parser.add_argument("--mode", default="standard")
    parser.add_argument("--no-process", action="store_true",
                        help="skip the run of `manage.py migrate_tenants` as a separate process")
    args = parser.parse_args(argv)

    bl.django_setup()
    from django.conf import settings
    from django.db import connection

    from tenants.schema_clone import snapshot_for

    bl.banner(f"migrate_tenants with nothing pending, {args.tenants} tenants")
    bl.cleanup(SLUG_PREFIX, vacuum=False)
    bl.catalog_vacuum()  # measure this run, not the dead rows of earlier ones
    bl.ensure_prerequisites()
    with bl.Timer() as t:
        snapshot_for(settings.TENANT_TEMPLATE_SCHEMA)  # as a long-running worker has it
    bl.say(f"snapshot of the template ready in {bl.fmt_ms(t.seconds)} (built unless cached)")
    rid = bl.run_id()
    summary: list[str] = []
    try:
        base_times: list[float] = []
        base_total = _count_tenant_schemas()
        if args.scale_provisions > 0:
            base_times = _provision([f"{SLUG_PREFIX}{rid}-b{i}" for i in range(args.scale_provisions)],
                                    args.mode)
            bl.say(f"provisioning with {base_total} tenant schemas present (baseline): "
                   + ", ".join(f"{x:.3f}" for x in base_times) + " s")

        slugs = [f"{SLUG_PREFIX}{rid}-{i:03d}" for i in range(args.tenants)]
        schemas = [bl.schema_for(s) for s in slugs]
        with bl.Timer() as t:
            copy_times = _copy_by_schema_clone(schemas)
            _create_rows(slugs, args.mode)
        copied = _count_schemas(f"{SLUG_PREFIX}{rid}-")
        assert copied == args.tenants + len(base_times), (copied, args.tenants, len(base_times))
        with bl.Timer() as v:
            check = _copies_match_template(schemas)
        schemas_total = _count_tenant_schemas()
        first = copy_times[:min(20, len(copy_times))]
        last = copy_times[-len(first):]
        copy_line = (
            f"schema_clone of the template, {len(copy_times)} schemas, one transaction each: "
            f"p50 {bl.fmt_ms(bl.percentile(copy_times, 50))}  p95 "
            f"{bl.fmt_ms(bl.percentile(copy_times, 95))}  max {bl.fmt_ms(max(copy_times))}; "
            f"first {len(first)} p50 {bl.fmt_ms(bl.percentile(first, 50))}, last {len(last)} p50 "
            f"{bl.fmt_ms(bl.percentile(last, 50))}")
        if len(copy_times) >= 100:  # the trend as schemas accumulate
            quarter = len(copy_times) // 4
            copy_line += "; p50 by quarter " + ", ".join(
                bl.fmt_ms(bl.percentile(copy_times[i * quarter:(i + 1) * quarter], 50))
                for i in range(4))
        bl.say(f"created {args.tenants} active tenants in {bl.fmt_s(t.seconds)} "
               f"({t.seconds / args.tenants:.3f} s per tenant, rows and domains included)")
        bl.say(copy_line)
        bl.say(f"copies checked against the template in {bl.fmt_s(v.seconds)}: {check}")
        bl.say(f"{schemas_total} tenant schemas in this database, the template included")
        summary.append(copy_line)

        seconds, output, phases = _migrate_tenants_in_process()
        _echo(output)
        _phase_lines(seconds, phases)
        if " 0 to migrate" not in output:
            raise RuntimeError("expected nothing pending; see the output above")
        check = phases.total(PARALLEL)
        summary.append(
            f"migrate_tenants (nothing pending, {schemas_total} schemas, in-process): total "
            f"{bl.fmt_s(seconds)}  [pending check of all schemas {bl.fmt_s(check)}, public check "
            f"incl. graph load {bl.fmt_s(phases.total(PUBLIC_CHECK))}, rest "
            f"{bl.fmt_s(seconds - check - phases.total(PUBLIC_CHECK))}]  "
            f"target < {TOTAL_TARGET:g} s: {bl.verdict(seconds < TOTAL_TARGET)}")

        if not args.no_process:
            env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.dev")
            with bl.Timer() as proc:
                done = subprocess.run([sys.executable, "manage.py", "migrate_tenants"],
                                      cwd=bl.REPO_ROOT, env=env, capture_output=True, text=True,
                                      timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"manage.py migrate_tenants failed:\n{done.stdout}\n{done.stderr}")
            summary.append(
                f"manage.py migrate_tenants (nothing pending, {schemas_total} schemas, separate "
                f"process incl. start-up): {bl.fmt_s(proc.seconds)}  target < {TOTAL_TARGET:g} s: "
                f"{bl.verdict(proc.seconds < TOTAL_TARGET)}")

        if args.scale_provisions > 0:
            times = _provision([f"{SLUG_PREFIX}{rid}-s{i}" for i in range(args.scale_provisions)],
                               args.mode)
            b50, s50 = bl.percentile(base_times, 50), bl.percentile(times, 50)
            summary.append(
                f"provisioning (clone, n={len(times)}, new connection each) with {schemas_total} "
                f"tenant schemas present: p50 {bl.fmt_s(s50)}  max {bl.fmt_s(max(times))}  "
                f"(times {', '.join(f'{x:.3f}' for x in times)} s); with {base_total} present: "
                f"p50 {bl.fmt_s(b50)} (times {', '.join(f'{x:.3f}' for x in base_times)} s), "
                f"ratio {s50 / b50:.2f}x   target p95 < 1 s, judged on the max: "
                f"{bl.verdict(max(times) < 1.0)}")
            bl.say(summary[-1])

        if args.pending > 0:
            pending = [f"{SLUG_PREFIX}{rid}-p{i}" for i in range(args.pending)]
            with connection.cursor() as cursor:
                for slug in pending:
                    cursor.execute(f'CREATE SCHEMA "{bl.schema_for(slug)}"')
            _create_rows(pending, args.mode)
            seconds, output, phases = _migrate_tenants_in_process()
            _echo(output)
            _phase_lines(seconds, phases)
            per_schema = [float(x) for x in re.findall(r": migrated \d+ in ([0-9.]+)s", output)]
            if len(per_schema) != args.pending:
                raise RuntimeError("expected the empty schemas to be migrated; see the output above")
            workers = max(os.cpu_count() or 1, 2)
            summary.append(
                f"migrate_tenants ({args.pending} schemas with everything pending, "
                f"{min(workers, args.pending)} worker processes): total {bl.fmt_s(seconds)}, "
                f"per schema {', '.join(f'{s:.2f} s' for s in per_schema)} "
                f"(sum {sum(per_schema):.2f} s: parallel speed-up {sum(per_schema) / seconds:.1f}x "
                f"incl. fixed costs)")
    finally:
        connection.set_schema_to_public()
        with bl.Timer() as t:
            rows, dropped = bl.cleanup(SLUG_PREFIX, quiet=True)
        bl.say(f"cleanup: {rows} tenant rows deleted, {dropped} schemas dropped in {bl.fmt_s(t.seconds)}")
    bl.say("")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    main()
