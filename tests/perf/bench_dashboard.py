"""Dashboard benchmark: the sales dashboard API for a manager who sees everything, a regional
manager and a salesperson, over a tenant with many orders; the page's poll when nothing moved;
the rebuild of the facts from the order tables (backfill, and the nightly repair of the last 40
days); EXPLAIN of every dashboard statement (none may read the order tables).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python tests/perf/bench_dashboard.py --orders 1000000

Data: one bench tenant ``bench-dash`` (schema t_bench_dash) made as the orders benchmark makes
its own (bench_orders: 300 salespeople in four regions, a regional manager of one, an
executive; ``--orders`` orders of five lines over two years in the lifecycle's proportions,
written with COPY); one shipment per shipped order with all its shipped lines (INSERT ...
SELECT); then the facts rebuilt from them (timed), and collections for the paid and closed
orders recorded as facts on the day paid (crm.finance records them as payments arrive). The
tenant is reused when it already has the requested size; --fresh regenerates; --drop removes
it at the end.

Timings are wall-clock p50/p95 after a warm-up:
  (a) GET /api/v1/dashboard/sales, the API view (DRF request, serialisation; no HTTP or
      middleware): this year by month, the last 12 months by salesperson (300 rows), a custom
      range with partial months at both ends by region; for the executive (all), the regional
      manager (region) and a salesperson (own);
  (b) the page's poll (GET /analytics/figures/?v=...) while nothing changed: the 204;
  (c) sales_facts_rebuild(): everything, and the last 40 days (the nightly repair; fact
      writers wait for it).
Target: dashboard API p95 < 100 ms at any size (it reads the rollups, never the order tables).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG = "bench-dash"
API_TARGET = 0.100
ORDER_TABLES = ("orders_order", "orders_orderline", "orders_shipment", "orders_shipmentline")
FACT_TABLES = ("analytics_dailysalesfact", "analytics_monthlysalesfact")


# -- the tenant ------------------------------------------------------------------------------------------
def tenant_make():
    """The orders benchmark's staff, regions and products, under this benchmark's slug."""
    import bench_orders

    saved, bench_orders.SLUG = bench_orders.SLUG, SLUG
    try:
        return bench_orders.tenant_make()
    finally:
        bench_orders.SLUG = saved


def counts(tenant) -> dict[str, int]:
    from django.db import connection

    out = {}
    with connection.cursor() as cursor:
        for table in (*ORDER_TABLES, *FACT_TABLES):
            cursor.execute(f'SELECT count(*) FROM "{tenant.schema_name}".{table}')
            out[table] = cursor.fetchone()[0]
    return out


def shipments_make(tenant) -> float:
    """One shipment per order that has shipped anything, with its shipped lines, on the day
    the order shipped (partially shipped ones: the day after approval)."""
    from django.db import connection

    started = time.perf_counter()
    connection.set_tenant(tenant)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_shipmentline, orders_shipment CASCADE")
        cursor.execute("SELECT id FROM catalog_warehouse WHERE code = 'BENCH-WH'")
        warehouse = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO orders_shipment (order_id, number, external_id, warehouse_id, carrier, tracking_number, "
            "shipped_at, note, created_at) SELECT o.id, o.number || '-01', o.number || '-01', %s, '', '', "
            "coalesce(o.shipped_at, o.approved_at + interval '1 day'), '', now() FROM orders_order o "
            "WHERE o.status IN ('partially_shipped', 'shipped', 'invoiced', 'paid', 'closed')", [warehouse])
        cursor.execute(
            "INSERT INTO orders_shipmentline (shipment_id, order_line_id, quantity) SELECT s.id, l.id, "
            "l.shipped_quantity FROM orders_shipment s JOIN orders_orderline l ON l.order_id = s.order_id "
            "WHERE l.shipped_quantity > 0")
        cursor.execute("VACUUM ANALYZE orders_shipment, orders_shipmentline")
    connection.set_schema_to_public()
    return time.perf_counter() - started


def collections_record(tenant) -> int:
    """Collections of the paid and closed orders, as crm.finance would have recorded them (one
    payment each, on the day paid), straight into both rollups."""
    from django.db import connection
    from django.utils import timezone

    connection.set_tenant(tenant)
    tz = timezone.get_current_timezone_name()
    key = "kind, owner_id, department_id, region_id, currency"
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM analytics_dailysalesfact WHERE kind = 'collection'")
        cursor.execute("DELETE FROM analytics_monthlysalesfact WHERE kind = 'collection'")
        cursor.execute(
            f"INSERT INTO analytics_dailysalesfact (day, {key}, amount, count, updated_at) "
            f"SELECT (paid_at AT TIME ZONE %s)::date, 'collection', owner_id, department_id, region_id, currency, "
            f"sum(total), count(*), now() FROM orders_order WHERE paid_at IS NOT NULL GROUP BY 1, 3, 4, 5, 6", [tz])
        made = cursor.rowcount
        cursor.execute(
            f"INSERT INTO analytics_monthlysalesfact (month, {key}, amount, count, updated_at) "
            f"SELECT date_trunc('month', day)::date, {key}, sum(amount), sum(count), now() "
            f"FROM analytics_dailysalesfact WHERE kind = 'collection' GROUP BY 1, 2, 3, 4, 5, 6")
        cursor.execute("VACUUM ANALYZE analytics_dailysalesfact, analytics_monthlysalesfact")
    connection.set_schema_to_public()
    return made


def ensure(n: int, *, fresh: bool, seed: int):
    import bench_orders
    from django.core.management import call_command

    bl.ensure_prerequisites()
    tenant = bl.bench_tenant_get(SLUG)
    if tenant is not None:
        call_command("migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0)
        have = counts(tenant)
        if not fresh and n <= have["orders_order"] <= n * 1.01 and have["orders_shipment"]:
            bl.say(f"reusing tenant {SLUG}: {have['orders_order']:,} orders, {have['orders_shipment']:,} shipments")
            return tenant
    if tenant is None:
        tenant = tenant_make()
    bl.say(f"generating {n:,} orders and {5 * n:,} lines into {SLUG} ...")
    timings = bench_orders.load(tenant, n, seed=seed)
    bl.say("  " + ", ".join(f"{k} {bl.fmt_s(v)}" for k, v in timings.items()))
    bl.say(f"  shipments {bl.fmt_s(shipments_make(tenant))}")
    return tenant


# -- timing ------------------------------------------------------------------------------------------------
fmt = bl.fmt_p  # shared by the benchmarks (benchlib)


def plans_of(fn) -> tuple[list[str], bool]:
    """Run ``fn`` once; EXPLAIN its statements on the fact tables; True if any statement read
    an order table (the dashboard must not)."""
    import bench_customers
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    lines, bad = [], False
    for q in ctx.captured_queries:
        sql = q["sql"]
        if any(f'"{t}"' in sql or f" {t} " in sql for t in ORDER_TABLES):
            bad = True
        if sql.lstrip("( ").upper().startswith("SELECT") and any(t in sql for t in FACT_TABLES):
            lines.append(" > ".join(bench_customers.explain(sql, {})))
    return lines, bad


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200000)
    parser.add_argument("--repeat", type=int, default=60, help="timed runs per case")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--drop", action="store_true", help="remove the bench tenant at the end")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    bl.django_setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import RequestFactory
    from rest_framework.test import APIRequestFactory, force_authenticate

    settings.DEBUG = False
    import bench_orders

    from crm.analytics import selectors, views
    from crm.analytics.api.views import DashboardSalesApi
    from crm.analytics.services import sales_facts_rebuild

    bl.banner(f"dashboard: {args.orders:,} orders, {5 * args.orders:,} lines")
    tenant = ensure(args.orders, fresh=args.fresh, seed=args.seed)
    results: list[tuple[str, list[float], float | None]] = []
    plans: dict[str, tuple[list[str], bool]] = {}
    try:
        # -- (c) first: the facts the dashboard reads -----------------------------------------------
        bl.banner("(c) sales_facts_rebuild: the facts recomputed from the order tables")
        connection.set_tenant(tenant)
        with bl.Timer() as full:
            run = sales_facts_rebuild()
        bl.say(f"  {'everything':<34} {bl.fmt_s(full.seconds)}  ("
               + ", ".join(f"{k}: {v['rows']:,} day rows, {v['count']:,} records" for k, v in run.after.items()) + ")")
        since = bench_orders.NOW.date() - timedelta(days=40)  # the data's "today"
        with bl.Timer() as repair:
            sales_facts_rebuild(since=since)
        bl.say(f"  {'the last 40 days (nightly repair)':<34} {bl.fmt_s(repair.seconds)}")
        connection.set_schema_to_public()
        made = collections_record(tenant)
        connection.set_tenant(tenant)
        sizes = counts(tenant)
        bl.say(f"  collections recorded as facts: {made:,} day rows")
        bl.say("  rows: " + ", ".join(f"{t} {c:,}" for t, c in sizes.items()))

        # -- (a) the API --------------------------------------------------------------------------------
        User = get_user_model()
        executive = User.objects.get(email=f"exec@{SLUG}.test")
        manager = User.objects.get(email=f"manager@{SLUG}.test")
        salesperson = User.objects.get(email=f"sales{150}@{SLUG}.test")
        factory = APIRequestFactory()
        view = DashboardSalesApi.as_view()

        def api(actor, query):
            actor = User.objects.select_related("department", "region").get(pk=actor.pk)  # as each request
            request = factory.get("/api/v1/dashboard/sales?" + query, HTTP_HOST=f"{SLUG}.localhost")
            force_authenticate(request, user=actor)
            response = view(request)
            assert response.status_code == 200, response.data
            response.render()
            return response

        bl.banner("(a) GET /api/v1/dashboard/sales (API view: DRF, serialisation)")
        cases = [
            ("executive: this year by month", executive, "period=this_year&by=month"),
            ("executive: 12 months by salesperson", executive, "period=last_12_months&by=owner"),
            ("executive: custom range by region", executive, "from=2026-02-15&to=2026-10-10&by=region"),
            ("executive: 2 years by month", executive, "from=2024-12-01&to=2026-11-30&by=month"),
            ("regional manager: this year", manager, "period=this_year&by=owner"),
            ("salesperson: this year by month", salesperson, "period=this_year&by=month"),
            ("salesperson: 12 months by month", salesperson, "period=last_12_months&by=month"),
        ]
        for label, actor, query in cases:
            times = bl.timed(lambda _s, actor=actor, query=query: api(actor, query), [None], args.repeat)
            bl.say(f"  {label:<40} {fmt(times, API_TARGET)}")
            results.append((f"api {label}", times, API_TARGET))
            plans[label] = plans_of(lambda actor=actor, query=query: api(actor, query))
        rows = len(api(executive, "period=last_12_months&by=owner").data["series"])
        bl.say(f"  (the 12-month series by salesperson has {rows} rows)")

        # -- (b) the poll ------------------------------------------------------------------------------
        bl.banner("(b) the page's poll while nothing changed: 204")
        version = selectors.dashboard_version()
        rf = RequestFactory()

        def poll(_s):
            request = rf.get("/analytics/figures/", {"period": "this_year", "v": version})
            request.user = User.objects.get(pk=executive.pk)
            response = views.figures(request)
            assert response.status_code == 204, response.status_code
            return response

        times = bl.timed(poll, [None], args.repeat)
        bl.say(f"  {'figures/?v=<current>':<40} {fmt(times, None)}")
        results.append(("poll, nothing changed (204)", times, None))

        bl.banner("EXPLAIN: plan node types of every dashboard statement on the fact tables")
        for key, (lines, bad) in plans.items():
            bl.say(f"  {key}{'  <-- READS THE ORDER TABLES' if bad else ''}")
            for line in lines:
                bl.say(f"      {line}")
    finally:
        connection.set_schema_to_public()
        if args.drop:
            bl.cleanup(SLUG, quiet=True)
            bl.say(f"dropped tenant {SLUG}")

    touched = [k for k, (_lines, bad) in plans.items() if bad]
    summary = [f"dashboard ({args.orders:,} orders; bench_dashboard.py --orders {args.orders})",
               f"  facts: {sizes['analytics_dailysalesfact']:,} daily rows, {sizes['analytics_monthlysalesfact']:,} "
               f"monthly rows; rebuild everything {bl.fmt_s(full.seconds)}, last 40 days {bl.fmt_s(repair.seconds)}"]
    for key, times, target in results:
        line = f"  {key:<48} p50 {bl.fmt_ms(bl.percentile(times, 50))}, p95 {bl.fmt_ms(bl.percentile(times, 95))}"
        if target:
            line += f" (target {bl.fmt_ms(target)}): {bl.verdict(bl.percentile(times, 95) < target)}"
        summary.append(line)
    summary.append(f"  order tables read by the dashboard: {', '.join(touched) if touched else 'never'}"
                   + (" NOT MET" if touched else ""))
    if args.orders < 1_000_000:
        summary.append("  full scale: .venv/bin/python tests/perf/bench_dashboard.py --orders 1000000")
    bl.banner("dashboard summary")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    lines = main()
    sys.exit(1 if any("NOT MET" in line for line in lines) else 0)
