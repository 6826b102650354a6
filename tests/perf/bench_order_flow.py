"""Order flow end to end through the real server: salespeople enter and submit orders, business
secretaries approve them, all over HTTP, with gunicorn and a Celery worker running.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python tests/perf/bench_order_flow.py [--orders 20000] [--flows 300] [--clients 8]

Data: the orders benchmark tenant ``bench-ord`` (bench_orders.py; reused when it has --orders
orders, so ``--orders 1000000`` runs the flow against the full-size tenant). The server:
``gunicorn config.wsgi:application`` on 127.0.0.1 (settings config.settings.dev, DEBUG off; by
default 4 gthread workers x 4 threads) and ``celery -A config worker`` (concurrency 2) sending
the approval notifications and webhooks the flow queues, as in production.

Each client thread has a keep-alive connection and logs in as one salesperson (POST
/api/v1/auth/token); one more connection per client acts as a business secretary. A flow is
  1. POST /api/v1/orders/               five lines, an Idempotency-Key (201)
  2. POST /api/v1/orders/<id>/submit    draft -> in approval at the secretary's step (200)
  3. POST /api/v1/approvals/<req>/approve   by the secretary: approved, stock reserved (200)
Amounts stay below finance's threshold, so one step approves. Prints p50/p95 per request and
the end-to-end throughput (completed flows per second, all three requests), and checks in the
database that every flow left exactly one approved order with its stock reserved. The orders
made are cancelled at the end (their reservation released), so runs can be repeated.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_orders as bo  # noqa: E402
import bench_requests as br  # noqa: E402
import benchlib as bl  # noqa: E402


class Worker:
    """A Celery worker in its own session, stopped by its process group."""

    def __init__(self, concurrency: int):
        self.log = tempfile.NamedTemporaryFile(prefix="bench-celery-", suffix=".log", delete=False)
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="false")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning",
             "--concurrency", str(concurrency), "--without-gossip", "--without-mingle"],
            env=env, cwd=bl.REPO_ROOT, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


class Client:
    """One keep-alive connection with a token; retries once when the server closed it idle."""

    def __init__(self, port: int, host: str, email: str):
        self.port, self.host = port, host
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        status, body = self.call("POST", "/api/v1/auth/token", {"email": email, "password": bl.BENCH_PASSWORD},
                                 auth=False)
        if status != 200:
            raise RuntimeError(f"login of {email} answered {status}: {body[:300]!r}")
        self.token = json.loads(body)["token"]

    def call(self, method: str, path: str, payload: dict | None = None, *, auth: bool = True,
             headers: dict | None = None) -> tuple[int, bytes]:
        head = {"Host": self.host, "Accept": "application/json", **(headers or {})}
        if auth:
            head["Authorization"] = f"Token {self.token}"
        body = None
        if payload is not None:
            body = json.dumps(payload).encode()
            head["Content-Type"] = "application/json"
        for attempt in (1, 2):
            reused = self.conn.sock is not None
            try:
                self.conn.request(method, path, body=body, headers=head)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except br.RETRYABLE:
                self.conn.close()
                if not (reused and attempt == 1):
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20000, help="size of the bench-ord tenant")
    parser.add_argument("--flows", type=int, default=300, help="orders taken through the flow (timed)")
    parser.add_argument("--warmup", type=int, default=24, help="flows before the timed ones")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument("--celery", type=int, default=2, help="Celery worker concurrency (0: no worker)")
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--drop", action="store_true", help="remove the bench tenant at the end")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    bl.django_setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crm.catalog.models import Product
    from crm.customers.models import Customer

    bl.banner(f"order flow through gunicorn ({args.workers} gthread workers x {args.threads} threads, "
              f"celery {args.celery}): {args.clients} clients, {args.flows} flows")
    tenant = bo.ensure(args.orders, seed=args.seed)
    connection.set_tenant(tenant)
    host = f"{bo.SLUG}.{settings.BASE_DOMAIN}"
    rng = random.Random(args.seed)
    User = get_user_model()
    products = list(Product.objects.filter(sku__startswith="BP-", list_price__lt=15000).values_list("pk", flat=True))
    sellers = []
    for seller in User.objects.filter(email__startswith="sales", is_active=True).order_by("pk"):
        mine = list(Customer.objects.filter(owner=seller, source="bench").values_list("pk", flat=True)[:5])
        if mine:
            sellers.append((seller.email, mine))
        if len(sellers) == args.clients:
            break
    if len(sellers) < args.clients:
        raise RuntimeError(f"only {len(sellers)} salespeople with customers; use a larger --orders")
    secretaries = [f"secretary{i % 3}@{bo.SLUG}.test" for i in range(args.clients)]
    first_new = (connection.cursor().execute("SELECT coalesce(max(id), 0) FROM orders_order").fetchone()[0])
    connection.set_schema_to_public()
    connection.close()

    server = worker = None
    timings: dict[str, list[float]] = {"create": [], "submit": [], "approve": [], "flow": []}
    statuses: Counter = Counter()
    failures: list[str] = []
    made: list[int] = []
    lock = threading.Lock()
    summary: list[str] = []
    try:
        port = br._free_port()
        server = br.Server(port=port, workers=args.workers, worker_class="gthread", threads=args.threads)
        if args.celery:
            worker = Worker(args.celery)
        ready = server.wait_ready(host)
        bl.say(f"gunicorn up on 127.0.0.1:{port} after {ready:.1f} s; tenant host {host}")
        pairs = [(Client(port, host, email), Client(port, host, secretaries[i]), customers)
                 for i, (email, customers) in enumerate(sellers)]

        issued = 0
        deadline = time.perf_counter() + args.max_seconds

        def flow(seller: Client, secretary: Client, customers: list[int], timed: bool, local: random.Random):
            lines = [{"product_id": local.choice(products), "quantity": "1",
                      "discount_pct": str(local.choice((0, 0, 5)))} for _ in range(5)]
            began = time.perf_counter()
            status, body = seller.call("POST", "/api/v1/orders/", {"customer_id": local.choice(customers),
                                                                   "lines": lines},
                                       headers={"Idempotency-Key": uuid.uuid4().hex})
            t1 = time.perf_counter()
            if status != 201:
                return f"create {status}: {body[:200]!r}"
            order = json.loads(body)
            status, body = seller.call("POST", f"/api/v1/orders/{order['id']}/submit", {"version": order["version"]})
            t2 = time.perf_counter()
            if status != 200:
                return f"submit {status}: {body[:200]!r}"
            approval = json.loads(body).get("approval")
            if not approval:
                return f"submit left no approval: {body[:200]!r}"
            status, body = secretary.call("POST", f"/api/v1/approvals/{approval['id']}/approve",
                                          {"comment": "ok", "step": approval["current_position"]})
            t3 = time.perf_counter()
            if status != 200:
                return f"approve {status}: {body[:200]!r}"
            with lock:
                made.append(order["id"])
                if timed:
                    timings["create"].append(t1 - began)
                    timings["submit"].append(t2 - t1)
                    timings["approve"].append(t3 - t2)
                    timings["flow"].append(t3 - began)
            return None

        def client(index: int, total: int, timed: bool) -> None:
            nonlocal issued
            seller, secretary, customers = pairs[index]
            local = random.Random(rng.random())
            while True:
                with lock:
                    if issued >= total or time.perf_counter() > deadline:
                        return
                    issued += 1
                try:
                    error = flow(seller, secretary, customers, timed, local)
                except OSError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                with lock:
                    statuses["ok" if error is None else "failed"] += 1
                    if error is not None and len(failures) < 5:
                        failures.append(error)

        def phase(total: int, timed: bool) -> float:
            nonlocal issued
            issued = 0
            threads = [threading.Thread(target=client, args=(i, total, timed), daemon=True)
                       for i in range(args.clients)]
            began = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return time.perf_counter() - began

        phase(args.warmup, False)
        wall = phase(args.flows, True)
        for seller, secretary, _c in pairs:
            seller.close()
            secretary.close()
        if server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn died during the run:\n{server.log_tail()}")

        done = len(timings["flow"])
        for name in ("create", "submit", "approve", "flow"):
            times = timings[name]
            label = {"create": "POST orders/ (5 lines)", "submit": "POST orders/<id>/submit",
                     "approve": "POST approvals/<id>/approve", "flow": "flow (all three)"}[name]
            summary.append(f"order flow {label:<30} n={len(times)}  p50 {bl.fmt_ms(bl.percentile(times, 50))}  "
                           f"p95 {bl.fmt_ms(bl.percentile(times, 95))}")
        summary.append(f"order flow throughput: {done / wall:.1f} orders/s entered, submitted and approved "
                       f"({done} flows in {wall:.1f} s, {args.clients} clients; {3 * done / wall:.0f} requests/s)"
                       + (f"; FAILED flows: {statuses['failed']}, e.g. {failures[0]}" if failures else ""))
        for line in summary:
            bl.say(line)

        # what the flows left behind, read from the database
        connection.set_tenant(tenant)
        with connection.cursor() as cursor:
            cursor.execute("SELECT status, stock_state, count(*) FROM orders_order WHERE id = ANY(%s) "
                           "GROUP BY 1, 2", [made])
            states = {(s, st): n for s, st, n in cursor.fetchall()}
            cursor.execute("SELECT count(*) FROM orders_order WHERE id > %s AND NOT (id = ANY(%s))",
                           [first_new, made])
            strays = cursor.fetchone()[0]
        good = states.get(("approved", "reserved"), 0)
        check = (f"check: {good} of {len(made)} flows left an approved order with its stock reserved; "
                 f"other states {dict((f'{s}/{st}', n) for (s, st), n in states.items() if (s, st) != ('approved', 'reserved'))}; "
                 f"orders made outside the flows: {strays}")
        bl.say(check)
        summary.append(check)
        if good != len(made) or statuses["failed"]:
            summary.append("order flow: FAILED (see above)")
    finally:
        if worker is not None:
            worker.stop()
        if server is not None:
            server.stop()
        _cleanup(tenant, made)
        if args.drop:
            bl.drop_schema(tenant.schema_name)
            from tenants.models import Tenant

            connection.set_schema_to_public()
            Tenant.objects.filter(pk=tenant.pk).delete()
    return summary


def _cleanup(tenant, made: list[int]) -> None:
    """Cancel the orders the flows made (their stock reservation is released), as the finance
    officer would, so the tenant stays as bench_orders.py left it."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crm.orders import services

    if not made:
        return
    connection.set_tenant(tenant)
    User = get_user_model()
    admin = User.objects.filter(roles__code="tenant_admin", is_active=True).first()
    if admin is None:
        return
    for order_id in made:
        try:
            services.order_cancel(actor=admin, order_id=order_id, reason="bench")
        except Exception as exc:  # report and go on: the bench figures are already printed
            bl.say(f"  could not cancel order {order_id}: {exc}")
            break
    connection.set_schema_to_public()


if __name__ == "__main__":
    main()
