"""Request latency and throughput through a real gunicorn server, loopback only.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/bench_requests.py [--requests 2000] [--clients 20]

Provisions one tenant (`bench-req-*`, admin password known), starts
`gunicorn config.wsgi:application` on 127.0.0.1 at a free port (settings config.settings.dev
with DEBUG=false, ALLOWED_HOSTS covering .<BASE_DOMAIN>; by default 4 gthread workers with
4 threads each, since gunicorn's sync workers close the connection after every response),
waits for /healthz, gets a token from POST /api/v1/auth/token, then for each endpoint runs a
warm-up and then --requests requests from --clients threads, each with its own keep-alive
connection (http.client) and the Host header <slug>.<BASE_DOMAIN>:
  (a) GET /healthz                      (answered before tenant routing: database + Redis ping)
  (b) GET /api/v1/auth/me with the token (tenant routing, token auth, roles and permissions)
Prints p50, p95, p99, max and throughput. Latencies are measured by the clients, which share
the machine's cores with the server, PostgreSQL and Redis. Stops gunicorn and removes the
tenant at the end.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG_PREFIX = "bench-req-"
RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
             http.client.CannotSendRequest)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn in its own session (process group), so that it and its workers can be
    stopped by its id whatever happens."""

    def __init__(self, *, port: int, workers: int, worker_class: str, threads: int):
        self.port = port
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)
        from django.conf import settings

        base = settings.BASE_DOMAIN
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.dev", DEBUG="false",
                   ALLOWED_HOSTS=f"{base},.{base},127.0.0.1", LOG_LEVEL="WARNING")
        self.cmd = [sys.executable, "-m", "gunicorn", "config.wsgi:application",
                    "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                    "--worker-class", worker_class, "--keep-alive", "10", "--timeout", "60",
                    "--chdir", str(bl.REPO_ROOT), "--log-level", "warning",
                    "--error-logfile", self.log.name]
        if worker_class == "gthread":
            self.cmd += ["--threads", str(threads)]
        self.proc = subprocess.Popen(self.cmd, env=env, cwd=bl.REPO_ROOT, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, host: str, timeout: float = 60) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz", headers={"Host": host})
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - started
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:g} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session, by its id
                self.proc.wait(timeout=10)
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


def _request(port: int, method: str, path: str, headers: dict, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def run_load(port: int, path: str, headers: dict, *, total: int, clients: int,
             max_seconds: float) -> dict:
    """``total`` GET requests from ``clients`` threads, each on its own keep-alive connection."""
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    connections = 0
    deadline = time.perf_counter() + max_seconds

    def client() -> None:
        nonlocal issued, connections
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        my_status: Counter = Counter()
        my_conns = 0
        try:
            while True:
                with lock:
                    if issued >= total or time.perf_counter() > deadline:
                        break
                    issued += 1
                for attempt in (1, 2):
                    reused = conn.sock is not None
                    if not reused:
                        my_conns += 1  # http.client connects on the next request
                    started = time.perf_counter()
                    try:
                        conn.request("GET", path, headers=headers)
                        resp = conn.getresponse()
                        resp.read()
                    except RETRYABLE as exc:
                        conn.close()
                        if reused and attempt == 1:
                            continue  # the server closed an idle keep-alive connection: retry once
                        errors[type(exc).__name__] += 1
                        break
                    except OSError as exc:
                        conn.close()
                        errors[type(exc).__name__] += 1
                        break
                    mine.append(time.perf_counter() - started)
                    my_status[resp.status] += 1
                    break
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                statuses.update(my_status)
                connections += my_conns

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"latencies": latencies, "statuses": statuses, "errors": errors, "wall": wall,
            "connections": connections, "issued": issued, "total": total}


def _report(label: str, res: dict, clients: int) -> str:
    lat = res["latencies"]
    ok = res["statuses"].get(200, 0)
    bad = {k: v for k, v in res["statuses"].items() if k != 200}
    line = (f"requests {label} (n={len(lat)}, {clients} clients): p50 {bl.fmt_ms(bl.percentile(lat, 50))}  "
            f"p95 {bl.fmt_ms(bl.percentile(lat, 95))}  p99 {bl.fmt_ms(bl.percentile(lat, 99))}  "
            f"max {bl.fmt_ms(max(lat) if lat else float('nan'))}  "
            f"throughput {ok / res['wall']:.0f} req/s  [{res['connections']} connections opened")
    if bad:
        line += f", non-200: {dict(bad)}"
    if res["errors"]:
        line += f", errors: {dict(res['errors'])}"
    if res["issued"] < res["total"]:
        line += f", STOPPED at the time limit after {res['issued']} of {res['total']}"
    return line + "]"


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per endpoint")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=200, help="requests per endpoint, not counted")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"])
    parser.add_argument("--threads", type=int, default=4, help="per gthread worker")
    parser.add_argument("--max-seconds", type=float, default=120, help="time limit per endpoint")
    args = parser.parse_args(argv)

    bl.django_setup()
    from django.conf import settings
    from django.db import connection

    from tenants.services import tenant_create

    bl.banner(f"requests through gunicorn ({args.workers} {args.worker_class} workers"
              + (f" x {args.threads} threads" if args.worker_class == "gthread" else "") + ")")
    bl.cleanup(SLUG_PREFIX)
    bl.ensure_prerequisites()
    slug = f"{SLUG_PREFIX}{bl.run_id()}"
    host = f"{slug}.{settings.BASE_DOMAIN}"
    admin_email = f"admin@{slug}.example.com"
    summary: list[str] = []
    server = None
    try:
        tenant = tenant_create(name="Bench Requests", slug=slug, mode="standard",
                               admin_email=admin_email, admin_name="Bench Admin",
                               admin_password=bl.BENCH_PASSWORD)
        if tenant.status != "active":
            raise RuntimeError(f"provisioning {slug} failed: {tenant.provisioning_error}")
        connection.close()  # nothing of ours stays open while the server runs

        port = _free_port()
        server = Server(port=port, workers=args.workers, worker_class=args.worker_class,
                        threads=args.threads)
        ready = server.wait_ready(host)
        bl.say(f"gunicorn up on 127.0.0.1:{port} after {ready:.1f} s; tenant host {host}")

        status, body = _request(port, "POST", "/api/v1/auth/token",
                                {"Host": host, "Content-Type": "application/json"},
                                json.dumps({"email": admin_email, "password": bl.BENCH_PASSWORD}).encode())
        if status != 200:
            raise RuntimeError(f"POST /api/v1/auth/token answered {status}: {body[:300]!r}\n"
                               f"gunicorn log:\n{server.log_tail()}")
        token = json.loads(body)["token"]
        auth = {"Host": host, "Authorization": f"Token {token}", "Accept": "application/json"}
        status, body = _request(port, "GET", "/api/v1/auth/me", auth)
        if status != 200 or json.loads(body).get("email") != admin_email:
            raise RuntimeError(f"GET /api/v1/auth/me answered {status}: {body[:300]!r}\n"
                               f"gunicorn log:\n{server.log_tail()}")

        endpoints = [("GET /healthz", "/healthz", {"Host": host}),
                     ("GET /api/v1/auth/me", "/api/v1/auth/me", auth)]
        for label, path, headers in endpoints:
            run_load(port, path, headers, total=args.warmup, clients=args.clients,
                     max_seconds=args.max_seconds)
            res = run_load(port, path, headers, total=args.requests, clients=args.clients,
                           max_seconds=args.max_seconds)
            summary.append(_report(label, res, args.clients))
            bl.say(summary[-1])
        if server.proc.poll() is not None:
            raise RuntimeError(f"gunicorn died during the run:\n{server.log_tail()}")
    finally:
        if server is not None:
            server.stop()
        connection.set_schema_to_public()
        bl.cleanup(SLUG_PREFIX)
    bl.say("")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    main()
