"""`migrate_tenants` across many tenants when nothing is pending (the common deploy).

    DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/bench_migrate.py [--tenants 200] [--pending 2]

1. Creates --tenants real tenants: each schema is a copy of the template (structure and rows,
   django_migrations included; checked against the template), made by default with pg_dump
   of the template replayed by psql under the new name, or with --copy clone_schema by the
   SQL function tenant_provision uses (django_tenants.clone), which is slower, the more so
   the more schemas exist. Then the Tenant rows (status active) and their domains are
   bulk-created. The org set-up of tenant_provision is skipped: it adds rows, not migrations.
2. Times `call_command('migrate_tenants')` in this process with the migration graph cache
   cleared (as in a fresh deploy process), and shows its phases; then the same as a separate
   process, `manage.py migrate_tenants`, start-up of Python and Django included.
3. With --scale-provisions K (default 3): K tenants provisioned the normal way
   (tenant_request + tenant_provision, timed) with all those schemas present, to compare with
   the same figure on a nearly empty database (bench_provisioning.py).
4. With --pending K (default 2): K more tenants whose schemas are empty, so everything is
   pending for them, and `migrate_tenants` again: the parallel path migrates only those K.
Target (from the issue): nothing pending, 200 tenants, under 20 s.
Everything created is removed at the end (tenants `bench-mig-*`, schemas `t_bench_mig_*`).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG_PREFIX = "bench-mig-"
TOTAL_TARGET = 20.0


def _copy_by_clone_function(schemas: list[str], workers: int) -> None:
    """The clone_schema SQL function of django_tenants.clone, installed once and then called
    once per schema (CloneSchema.clone_schema re-creates the function on every call, which
    concurrent sessions must not do)."""
    from django.conf import settings
    from django.db import connection
    from django_tenants.clone import CloneSchema

    template = settings.TENANT_TEMPLATE_SCHEMA
    connection.set_schema_to_public()
    CloneSchema()._create_clone_schema_function()

    lock = threading.Lock()
    done = 0
    started = time.perf_counter()

    def clone_some(names: list[str]) -> None:
        nonlocal done
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            for name in names:
                cursor.execute("SELECT clone_schema(%s, %s, 'DATA')", [template, name])
                with lock:
                    done += 1
                    if done % 50 == 0:
                        bl.say(f"  cloned {done}/{len(schemas)} "
                               f"({time.perf_counter() - started:.1f} s)")

    if workers <= 1:
        clone_some(schemas)
        return

    def in_thread(names: list[str]) -> None:
        try:
            clone_some(names)
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(in_thread, [schemas[i::workers] for i in range(workers)]))


def _pg_env_and_args() -> tuple[dict, list[str]]:
    from django.db import connection

    cfg = connection.settings_dict
    env = dict(os.environ)
    if cfg.get("PASSWORD"):
        env["PGPASSWORD"] = cfg["PASSWORD"]
    args = []
    if cfg.get("HOST"):
        args += ["-h", cfg["HOST"]]
    if cfg.get("PORT"):
        args += ["-p", str(cfg["PORT"])]
    if cfg.get("USER"):
        args += ["-U", cfg["USER"]]
    sslmode = cfg.get("OPTIONS", {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = sslmode
    return env, args


def _copy_by_dump(schemas: list[str], workers: int) -> None:
    """pg_dump of the template schema (structure and rows, django_migrations included), the
    schema name replaced, replayed by psql: one transaction per schema, ``workers`` psql
    sessions side by side."""
    from django.conf import settings
    from django.db import connection

    template = settings.TENANT_TEMPLATE_SCHEMA
    env, conn_args = _pg_env_and_args()
    dbname = connection.settings_dict["NAME"]
    dump = subprocess.run(["pg_dump", *conn_args, "--schema", template, "--no-owner",
                           "--no-privileges", dbname],
                          env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    pattern = re.compile(rf"\b{re.escape(template)}\b")
    chunks = [schemas[i::workers] for i in range(workers)]
    procs = []
    for chunk in chunks:
        script = "".join(f"BEGIN;\n{pattern.sub(name, dump)}\nCOMMIT;\n" for name in chunk)
        proc = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *conn_args,
                                 "-d", dbname], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        procs.append((proc, script))
    errors = []
    try:
        for proc, script in procs:  # feed each in turn; they all run meanwhile
            _out, err = proc.communicate(script, timeout=600)
            if proc.returncode != 0:
                errors.append(err.strip()[-2000:])
    except BaseException:
        for proc, _script in procs:  # ours: stop them before the clean-up drops their schemas
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        raise
    if errors:
        raise RuntimeError("psql failed while copying the template:\n" + "\n".join(errors))


def _copy_matches_template(schema: str) -> str:
    """Tables, indexes and django_migrations rows of a copy, compared with the template."""
    from django.conf import settings
    from django.db import connection

    def shape(name: str) -> tuple[int, int, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT (SELECT count(*) FROM pg_tables WHERE schemaname = %s), "
                           "(SELECT count(*) FROM pg_indexes WHERE schemaname = %s)", [name, name])
            tables, indexes = cursor.fetchone()
            cursor.execute(f'SELECT count(*) FROM "{name}".django_migrations')
            return tables, indexes, cursor.fetchone()[0]

    copy, original = shape(schema), shape(settings.TENANT_TEMPLATE_SCHEMA)
    if copy != original:
        raise RuntimeError(f"{schema} differs from the template: (tables, indexes, migrations) "
                           f"{copy} vs {original}")
    return f"{copy[0]} tables, {copy[1]} indexes, {copy[2]} migrations recorded, as the template"


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
    parser.add_argument("--copy", choices=["dump", "clone_schema"], default="dump",
                        help="how the tenant schemas are copied from the template: pg_dump "
                             "replayed by psql (default), or django-tenants' clone_schema SQL "
                             "function, which gets slower the more schemas exist (minutes for 200)")
    parser.add_argument("--copy-workers", type=int, default=2)
    parser.add_argument("--scale-provisions", type=int, default=3,
                        help="tenants then provisioned the normal way (tenant_provision), timed, "
                             "with all the others present (0: skip)")
    parser.add_argument("--mode", default="standard")
    parser.add_argument("--no-process", action="store_true",
                        help="skip the run of `manage.py migrate_tenants` as a separate process")
    args = parser.parse_args(argv)

    bl.django_setup()
    from django.db import connection

    from tenants.models import Tenant

    bl.banner(f"migrate_tenants with nothing pending, {args.tenants} tenants")
    bl.cleanup(SLUG_PREFIX, vacuum=False)
    bl.catalog_vacuum()  # measure this run, not the dead rows of earlier ones
    bl.ensure_prerequisites()
    rid = bl.run_id()
    summary: list[str] = []
    try:
        slugs = [f"{SLUG_PREFIX}{rid}-{i:03d}" for i in range(args.tenants)]
        method = args.copy
        if method == "dump" and not (shutil.which("pg_dump") and shutil.which("psql")):
            bl.say("pg_dump/psql not found: copying with the clone_schema function instead (slow)")
            method = "clone_schema"
        with bl.Timer() as t:
            schemas = [bl.schema_for(s) for s in slugs]
            if method == "dump":
                _copy_by_dump(schemas, args.copy_workers)
            else:
                _copy_by_clone_function(schemas, args.copy_workers)
            _create_rows(slugs, args.mode)
        copied = _count_schemas(f"{SLUG_PREFIX}{rid}-")
        assert copied == args.tenants, (copied, args.tenants)
        check = _copy_matches_template(schemas[-1])
        schemas_total = Tenant.objects.exclude(schema_name="public").exclude(status="failed").count()
        bl.say(f"created {args.tenants} active tenants, schemas copied from the template by "
               f"{method} in {bl.fmt_s(t.seconds)} ({args.copy_workers} sessions, "
               f"{t.seconds / args.tenants:.3f} s per tenant); last copy: {check}")
        bl.say(f"{schemas_total} tenant schemas in this database, the template included")

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
            from tenants.services import tenant_provision, tenant_request

            times = []
            for i in range(args.scale_provisions):
                slug = f"{SLUG_PREFIX}{rid}-s{i}"
                tenant = tenant_request(name=f"Bench {slug}", slug=slug, mode=args.mode,
                                        admin_email=f"admin@{slug}.example.com",
                                        admin_name="Bench Admin", admin_password=bl.BENCH_PASSWORD)
                connection.close()  # a new session: see bench_provisioning.py
                with bl.Timer() as t:
                    tenant = tenant_provision(tenant_id=tenant.pk)
                if tenant.status != "active":
                    raise RuntimeError(f"provisioning {slug} failed: {tenant.provisioning_error}")
                times.append(t.seconds)
            summary.append(
                f"provisioning (clone, n={len(times)}, new connection each) with {schemas_total} "
                f"tenant schemas present: "
                f"p50 {bl.fmt_s(bl.percentile(times, 50))}  max {bl.fmt_s(max(times))}  "
                f"(times {', '.join(f'{x:.2f}' for x in times)} s)   target p95 < 1 s, judged "
                f"on the max: {bl.verdict(max(times) < 1.0)}")
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
            rows, schemas = bl.cleanup(SLUG_PREFIX, quiet=True)
        bl.say(f"cleanup: {rows} tenant rows deleted, {schemas} schemas dropped in {bl.fmt_s(t.seconds)}")
    bl.say("")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    main()
