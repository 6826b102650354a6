"""Provisioning a tenant: cloning the template schema versus migrating a schema from scratch.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/bench_provisioning.py [--clones 20] [--migrations 4]

1. The prerequisites of `manage.py qiao_setup`: `migrate_schemas --shared`,
   tenant_public_ensure, tenant_template_ensure (timed, for information).
2. Clone path: --clones tenants, each recorded with tenant_request and then built with
   tenant_provision (what tenant_create does, without demo data); only tenant_provision is
   timed, and inside it schema_clone (the replay of the template's cached DDL snapshot) and
   org_setup_tenant. One extra warm-up tenant first (imports, first connection set-up, and
   the snapshot of the template built, as in a new process) is not counted; its figures are
   shown apart. All on one database connection (as tenant_create in one process, or a worker
   keeping its connection), then the same number again with a new connection for each tenant.
   Every clone must have been made from the snapshot: a clone that fell back to migrating
   (schema_clone returned "migrate") is reported, since it would measure the wrong path.
3. Migrate path: --migrations tenants built the old way: a Tenant row, CREATE SCHEMA,
   `migrate_schemas --schema=... --tenant`, then the same org set-up (org_setup_tenant) and
   status change, timed from CREATE SCHEMA to the status saved. Also after one warm-up.
Targets (from the issue): clone p95 < 1 s, and migrating at least 10x slower than cloning.
How cloning fares with ~200 tenant schemas present is measured by bench_migrate.py.
The catalogs of the database are vacuumed first (see benchlib.catalog_vacuum), so that dead
rows left by earlier runs do not weigh on this run.
Everything created is removed at the end (tenants `bench-prov-*`, schemas `t_bench_prov_*`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG_PREFIX = "bench-prov-"
CLONE_P95_TARGET = 1.0
RATIO_TARGET = 10.0


CLONE, SNAPSHOT, SETUP = ("schema_clone (snapshot replay)", "snapshot build (cold cache)",
                          "org_setup_tenant")


def _phase_timer() -> bl.PhaseTimer:
    """Times the steps inside tenant_provision: the clone of the template (schema_clone, as
    imported into tenants.services), the build of the template's snapshot (only when the
    process has none yet, or the template changed) and the org set-up."""
    import crm.org.services
    import tenants.schema_clone
    import tenants.services

    phases = bl.PhaseTimer()
    phases.wrap(tenants.services, "schema_clone", CLONE)
    phases.wrap(tenants.schema_clone, "snapshot_build", SNAPSHOT)  # called by snapshot_for
    phases.wrap(crm.org.services, "org_setup_tenant", SETUP)  # imported at call time
    return phases


def _methods(phases: bl.PhaseTimer) -> dict[str, int]:
    """How many clones schema_clone made by each method ("snapshot", "migrate")."""
    counts: dict[str, int] = {}
    for method in phases.results.get(CLONE, []):
        counts[method] = counts.get(method, 0) + 1
    return counts


def _provision_by_clone(slug: str, mode: str) -> float:
    from tenants.services import tenant_provision, tenant_request

    tenant = tenant_request(name=f"Bench {slug}", slug=slug, mode=mode,
                            admin_email=f"admin@{slug}.example.com", admin_name="Bench Admin",
                            admin_password=bl.BENCH_PASSWORD)
    started = time.perf_counter()
    tenant = tenant_provision(tenant_id=tenant.pk)
    seconds = time.perf_counter() - started
    if tenant.status != "active":
        raise RuntimeError(f"provisioning {slug} failed: {tenant.provisioning_error}")
    return seconds


def _provision_by_migrating(slug: str, mode: str) -> float:
    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from crm.org.services import org_setup_tenant
    from tenants.models import Domain, Tenant
    from tenants.modes import get_mode

    connection.set_schema_to_public()
    password_hash = make_password(bl.BENCH_PASSWORD)  # done by tenant_request in the clone path
    tenant = Tenant(name=f"Bench {slug}", slug=slug, schema_name=bl.schema_for(slug), modes=[mode],
                    status="provisioning", admin_email=f"admin@{slug}.example.com",
                    admin_name="Bench Admin")
    tenant.save()  # Tenant.auto_create_schema is False: no schema yet
    Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True)

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{tenant.schema_name}"')
    call_command("migrate_schemas", schema_name=tenant.schema_name, tenant=True,
                 interactive=False, verbosity=0)
    connection.set_schema_to_public()
    migrated = time.perf_counter() - started
    with transaction.atomic():
        with schema_context(tenant.schema_name):
            org_setup_tenant(company_name=tenant.name, mode=get_mode(mode),
                             admin_email=tenant.admin_email, admin_name=tenant.admin_name,
                             admin_password_hash=password_hash, language=tenant.language)
        connection.set_schema_to_public()
        tenant.status = "active"
        tenant.provisioned_at = timezone.now()
        tenant.save(update_fields=["status", "provisioned_at", "updated_at"])
    total = time.perf_counter() - started
    bl.say(f"migrate path {slug}: {total:.3f} s (CREATE SCHEMA + migrate_schemas {migrated:.3f} s, "
           f"org set-up and status {total - migrated:.3f} s)")
    return total


def _check_admin(slug: str) -> None:
    """Sanity: the provisioned schema holds the admin, with the password we gave."""
    from django.contrib.auth import get_user_model
    from django_tenants.utils import schema_context

    with schema_context(bl.schema_for(slug)):
        user = get_user_model().objects.get(email=f"admin@{slug}.example.com")
        assert user.check_password(bl.BENCH_PASSWORD), slug


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clones", type=int, default=20)
    parser.add_argument("--migrations", type=int, default=4)
    parser.add_argument("--mode", default="standard")
    parser.add_argument("--no-fresh-connection", dest="fresh_connection", action="store_false",
                        help="skip the second clone series, on a new connection each")
    parser.add_argument("--keep", action="store_true", help="leave the tenants in place")
    args = parser.parse_args(argv)

    bl.django_setup()
    from django.db import connection

    from tenants.models import Tenant
    from tenants.schema_clone import snapshot_clear

    bl.banner("provisioning: clone the template vs migrate from scratch")
    bl.cleanup(SLUG_PREFIX, vacuum=False)
    bl.catalog_vacuum()  # measure this run, not the dead rows of earlier ones
    for step, seconds in bl.ensure_prerequisites().items():
        bl.say(f"prerequisite {step:<26} {bl.fmt_s(seconds)}")
    rid = bl.run_id()
    summary: list[str] = []
    try:
        with _phase_timer() as phases:
            snapshot_clear()  # as in a new process: the warm-up builds the snapshot
            warm = _provision_by_clone(f"{SLUG_PREFIX}{rid}-warm", args.mode)  # not counted
            bl.say(f"warm-up tenant (not counted): tenant_provision {bl.fmt_s(warm)}, of which "
                   f"schema_clone {bl.fmt_s(phases.total(CLONE))} incl. the snapshot build "
                   f"{bl.fmt_s(phases.total(SNAPSHOT))}; clone method {_methods(phases)}")
            phases.reset()
            clone_times = []
            for i in range(args.clones):
                slug = f"{SLUG_PREFIX}{rid}-c{i:02d}"
                clone_times.append(_provision_by_clone(slug, args.mode))
            one_conn = dict(phases.calls), _methods(phases)
            phases.reset()

            fresh_times = []
            if args.fresh_connection:
                # The same, each on a new database connection (a worker that does not keep its
                # connection between tasks). The snapshot is cached per process, so a new
                # connection costs its set-up only.
                for i in range(args.clones):
                    connection.close()
                    slug = f"{SLUG_PREFIX}{rid}-f{i:02d}"
                    fresh_times.append(_provision_by_clone(slug, args.mode))
                connection.close()
            fresh = dict(phases.calls), _methods(phases)
        _check_admin(f"{SLUG_PREFIX}{rid}-c00")

        series = [("one connection", clone_times, one_conn)]
        if fresh_times:
            series.append(("new connection each", fresh_times, fresh))
        fallbacks = []
        for name, times, (calls, methods) in series:
            bl.say(f"clone path ({name}), tenant_provision times (s): "
                   + " ".join(f"{s:.3f}" for s in times))
            bl.say(f"clone path ({name}), inside tenant_provision (p50 per call; clone method "
                   f"{methods}):")
            for label in (CLONE, SNAPSHOT, SETUP):
                if label in calls:
                    bl.say(f"  {label:<40} p50 {bl.fmt_s(bl.percentile(calls[label], 50))}  "
                           f"max {bl.fmt_s(max(calls[label]))}  ({len(calls[label])} calls)")
            bl.say(f"  {'the rest (lock, events, status, cache)':<40} p50 "
                   f"{bl.fmt_s(bl.percentile(times, 50) - bl.percentile(calls[CLONE], 50) - bl.percentile(calls[SETUP], 50))}"
                   "  (difference of medians)")
            if len(times) >= 10:
                bl.say(f"clone path ({name}), first 5 p50 {bl.fmt_s(bl.percentile(times[:5], 50))}, "
                       f"last 5 p50 {bl.fmt_s(bl.percentile(times[-5:], 50))}")
            if set(methods) != {"snapshot"}:
                fallbacks.append(f"provisioning ({name}): WARNING schema_clone methods {methods}: "
                                 "not every clone was a snapshot replay, the figures above "
                                 "include the migrate fallback")
                bl.say(fallbacks[-1])

        _provision_by_migrating(f"{SLUG_PREFIX}{rid}-mwarm", args.mode)  # warm-up, not counted
        migrate_times = []
        for i in range(args.migrations):
            slug = f"{SLUG_PREFIX}{rid}-m{i}"
            migrate_times.append(_provision_by_migrating(slug, args.mode))
        _check_admin(f"{SLUG_PREFIX}{rid}-m0")

        schemas_present = Tenant.objects.exclude(schema_name="public").count()
        c50, c95, cmax = (bl.percentile(clone_times, 50), bl.percentile(clone_times, 95),
                          max(clone_times))
        m50 = bl.percentile(migrate_times, 50)
        ratio = m50 / c50
        f50, f95 = bl.percentile(fresh_times, 50), bl.percentile(fresh_times, 95)
        clone_p50 = bl.percentile(one_conn[0][CLONE], 50)
        summary = [
            f"provisioning (clone, n={len(clone_times)}, one connection): p50 {bl.fmt_s(c50)}  p95 {bl.fmt_s(c95)}  "
            f"max {bl.fmt_s(cmax)}   target p95 < {CLONE_P95_TARGET:g} s: {bl.verdict(c95 < CLONE_P95_TARGET)}"
            f"   [schema_clone alone p50 {bl.fmt_ms(clone_p50)}; {schemas_present} tenant schemas "
            f"in the database at the end]",
            f"provisioning (migrate, n={len(migrate_times)}): p50 {bl.fmt_s(m50)}  "
            f"min {bl.fmt_s(min(migrate_times))}  max {bl.fmt_s(max(migrate_times))}  "
            f"ratio {ratio:.1f}x   target >= {RATIO_TARGET:g}x: {bl.verdict(ratio >= RATIO_TARGET)}",
        ]
        if fresh_times:
            summary.insert(1,
                f"provisioning (clone, n={len(fresh_times)}, new connection each): p50 {bl.fmt_s(f50)}  "
                f"p95 {bl.fmt_s(f95)}  max {bl.fmt_s(max(fresh_times))}   target p95 < "
                f"{CLONE_P95_TARGET:g} s: {bl.verdict(f95 < CLONE_P95_TARGET)}   "
                f"ratio migrate/clone {m50 / f50:.1f}x")
        summary += fallbacks
    finally:
        connection.set_schema_to_public()
        if not args.keep:
            bl.cleanup(SLUG_PREFIX)
    bl.say("")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    main()
