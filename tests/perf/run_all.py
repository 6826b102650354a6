"""Run the performance benchmarks and print their figures together.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python tests/perf/run_all.py [--quick] [--only provisioning,migrate,requests]

Settings: config.settings.dev (set here). Each benchmark is also a script of its own
(bench_provisioning.py, bench_migrate.py, bench_requests.py, bench_import.py, bench_customers.py,
bench_approvals.py, bench_orders.py, bench_order_flow.py, bench_finance.py, bench_dashboard.py,
bench_partners.py, with --help) and removes the
tenants and schemas it created. The defaults take about a minute and a half on 2 cores; --quick
runs smaller sizes as a smoke test. The exit status is 1 if a benchmark failed to run, and
also if a target was missed when --strict is given.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

QUICK = {
    "provisioning": ["--clones", "5", "--migrations", "2"],
    "migrate": ["--tenants", "20", "--pending", "2"],
    "requests": ["--requests", "300", "--warmup", "50"],
    "import": ["--rows", "2000"],
    "customers": ["--customers", "5000", "--contacts", "10000", "--activities", "25000", "--scan", "--repeat", "15",
                  "--drop"],
    "approvals": ["--requests", "2000", "--repeat", "15", "--decisions", "40", "--drop"],
    "orders": ["--orders", "2000", "--repeat", "15", "--submits", "20", "--drop"],
    "flow": ["--orders", "2000", "--flows", "40", "--warmup", "8", "--clients", "4", "--drop"],
    "finance": ["--orders", "2000", "--repeat", "15", "--drop"],
    "dashboard": ["--orders", "2000", "--repeat", "15", "--drop"],
    "partners": ["--partners", "100", "--users", "500", "--orders", "2000", "--repeat", "15", "--submits", "20",
                 "--drop"],
}
# Benchmarks whose full size takes minutes: a smaller default here (the figure is projected
# to the full size); run the script itself for the full size (bench_import.py --rows 100000).
DEFAULT = {
    "import": ["--rows", "20000", "--rerun"],
    # full size: bench_customers.py --customers 1000000 --contacts 2000000 --activities 5000000 --scan
    "customers": ["--customers", "20000", "--contacts", "40000", "--activities", "100000", "--scan", "--drop"],
    # full size: bench_approvals.py --requests 1000000
    "approvals": ["--requests", "20000", "--drop"],
    # full size: bench_orders.py --orders 1000000
    "orders": ["--orders", "20000", "--drop"],
    # the whole flow over HTTP (gunicorn + a Celery worker); full size: --orders 1000000 --flows 300
    "flow": ["--orders", "20000", "--flows", "150", "--drop"],
    # full size: bench_finance.py --orders 1000000
    "finance": ["--orders", "20000", "--drop"],
    # full size: bench_dashboard.py --orders 1000000
    "dashboard": ["--orders", "50000", "--drop"],
    # full size: bench_partners.py --partners 10000 --users 50000 --orders 1000000
    "partners": ["--partners", "1000", "--users", "5000", "--orders", "20000", "--drop"],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--only", default="provisioning,migrate,requests,import,customers,approvals,orders,"
                                          "flow,finance,dashboard,partners",
                        help="comma-separated: provisioning, migrate, requests, import, customers, approvals, "
                             "orders, flow, finance, dashboard, partners")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a target is not met")
    args = parser.parse_args(argv)

    bl.django_setup()  # DJANGO_SETTINGS_MODULE=config.settings.dev, django.setup()
    import bench_approvals
    import bench_customers
    import bench_dashboard
    import bench_finance
    import bench_import
    import bench_migrate
    import bench_order_flow
    import bench_orders
    import bench_partners
    import bench_provisioning
    import bench_requests

    benches = {"provisioning": bench_provisioning.main, "migrate": bench_migrate.main,
               "requests": bench_requests.main, "import": bench_import.main,
               "customers": bench_customers.main, "approvals": bench_approvals.main,
               "orders": bench_orders.main, "flow": bench_order_flow.main, "finance": bench_finance.main,
               "dashboard": bench_dashboard.main, "partners": bench_partners.main}
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in benches]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    from django.db import connection

    settings_dict = connection.settings_dict
    bl.say(f"Qiao benchmarks: database {settings_dict['NAME']} on {settings_dict['HOST'] or 'socket'}"
           f":{settings_dict['PORT'] or 5432}, {bl.machine()}"
           + ("  [--quick]" if args.quick else ""))
    started = time.perf_counter()
    results: dict[str, list[str]] = {}
    failed: list[str] = []
    for name in chosen:
        try:
            results[name] = benches[name](QUICK[name] if args.quick else DEFAULT.get(name, []))
        except KeyboardInterrupt:
            bl.say(f"\n{name}: interrupted")
            raise
        except Exception:
            traceback.print_exc()
            failed.append(name)
            results[name] = [f"{name}: FAILED (see the traceback above)"]

    bl.banner(f"summary ({time.perf_counter() - started:.0f} s in all)")
    for name in chosen:
        for line in results[name]:
            bl.say(line)
    missed = [line for lines in results.values() for line in lines if "NOT MET" in line]
    if failed or (args.strict and missed):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
