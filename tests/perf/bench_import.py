"""Customer import: 100,000 generated rows of realistic Chinese data (CSV) through the real
task code path.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/bench_import.py [--rows 100000]
        [--rerun] [--changed] [--workers 2] [--chunk-rows N] [--in-process]

Provisions one tenant (`bench-imp-*`), generates a UTF-8 CSV (company names, valid credit
codes, phones, e-mails, stages, levels, tags, external ids, owners by e-mail) and uploads it as
the tenant admin. A file of more than DRY_RUN_SYNC_ROWS rows is dry-run (parsing, validation,
matching, duplicate checks) by the task `customers.import_check`; the time to the checked job
is reported. Then the task `customers.import_run` imports it: batches of BATCH_SIZE rows, each
one transaction with audit rows, ownership history and search tokens; a file of more than
CHUNK_ROWS rows is split into chunks (crm.customers.import_chunks) that the tasks
`customers.import_chunk` import in parallel. With --rerun the same file is imported again
(every row matches its external id; nothing changes, nothing is created); with --changed a
file with every address changed and one customer in ten handed to another owner (real
updates, audit rows, ownership history).

How it runs, honestly: by default the bench starts a real Celery worker (prefork) with
--workers processes (2: a deployment with two worker processes; this machine has 2 cores,
shared with PostgreSQL and whatever else runs) on the bench's own Redis database, sends the
tasks through the broker as the web app does, and times until the job is done. The chunks of
one job are then imported by both processes at once. With --workers 1 the chunks run one after
another; with --chunk-rows 0 a job is never split. --in-process runs everything in this process
instead (tasks applied eagerly, chunks one after another) and also counts the SQL statements
per batch. Target: the import of 100,000 rows under 60 s. Removes the tenant at the end, and
stops the worker.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG_PREFIX = "bench-imp-"
TARGET_SECONDS = 60.0
TARGET_ROWS = 100_000

CITIES = ["北京", "上海", "广州", "深圳", "杭州", "南京", "苏州", "成都", "武汉", "西安", "重庆", "天津",
          "长沙", "郑州", "济南", "青岛", "宁波", "厦门", "合肥", "福州", "昆明", "沈阳", "大连", "哈尔滨"]
WORDS = ["华信", "恒通", "远景", "合众", "思壮", "东方", "瑞丰", "金桥", "天成", "鼎盛", "宏达", "博远",
         "中科", "新纪元", "海纳", "永泰", "安捷", "凯旋", "润和", "嘉禾", "星河", "云帆", "致远", "盛世"]
TRADES = [("科技", "软件"), ("电子", "电子"), ("机械", "设备"), ("仪器", "仪器仪表"), ("汽车配件", "汽车"),
          ("医药", "医药"), ("贸易", "批发零售"), ("物流", "物流"), ("办公用品", "办公用品"), ("食品", "食品饮料")]
SUFFIXES = ["有限公司", "股份有限公司", "有限责任公司", "集团有限公司"]
SOURCES = ["展会", "转介绍", "官网", "电话营销", "老客户", "招投标"]
STAGES = ["潜在客户", "线索", "商机", "成交客户", "lead", "customer"]
TAGS = ["重点", "华东", "华北", "华南", "渠道", "直销", "大客户", "政府", "外资"]


def generate_csv(rows: int, owners: list[str], seed: int = 7, revision: int = 0) -> bytes:
    """The file; ``revision`` 1 is the same customers (same external ids) with every address
    changed and every tenth customer handed to the next owner of the list."""
    from crm.customers.normalize import credit_code_check_char

    rnd = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["客户名称", "统一社会信用代码", "电话", "邮箱", "行业", "地址", "来源", "阶段", "等级",
                     "标签", "外部编号", "负责人邮箱"])
    for i in range(rows):
        city = rnd.choice(CITIES)
        trade, industry = rnd.choice(TRADES)
        name = f"{city}{rnd.choice(WORDS)}{trade}{i:06d}{rnd.choice(SUFFIXES)}"
        body = f"91{rnd.randint(110000, 659000):06d}MA{i:07d}"
        code = body + credit_code_check_char(body) if rnd.random() < 0.8 else ""
        phone = f"1{rnd.choice('3456789')}{i:09d}" if rnd.random() < 0.6 else f"0{rnd.randint(10, 99)}-{i:08d}"
        email = f"contact{i}@{rnd.choice(['qq.com', '163.com', 'corp.cn', 'example.com.cn'])}" \
            if rnd.random() < 0.5 else ""
        address = f"{city}市{rnd.randint(1, 999)}号" + ("（新址）" if revision else "")
        source, stage, level = rnd.choice(SOURCES), rnd.choice(STAGES), rnd.choice("ABCD ")
        tags, owner = "，".join(rnd.sample(TAGS, rnd.randint(0, 3))), rnd.choice(owners)
        if revision and i % 10 == 0:
            owner = owners[(owners.index(owner) + 1) % len(owners)]
        writer.writerow([name, code, phone, email, industry, address, source, stage, level, tags,
                         f"ERP{i:07d}", owner])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _start_worker(workers: int, chunk_rows: int, log_path: str):
    """A Celery worker (prefork, ``workers`` processes) of this code on the bench's broker, with
    the chunk size given (set in the worker before its processes fork)."""
    import subprocess

    launcher = (
        "import os, django; django.setup(); "
        "from crm.customers import imports; imports.CHUNK_ROWS = int(os.environ['BENCH_CHUNK_ROWS']); "
        "from config.celery import app; "
        "app.worker_main(['worker', '-P', 'prefork', '-c', os.environ['BENCH_WORKERS'], '-l', 'warning', "
        "'-n', 'bench-import@%h', '--without-heartbeat', '--without-gossip', '--without-mingle'])")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "CELERY_TASK_ALWAYS_EAGER": "false",
           "BENCH_WORKERS": str(workers), "BENCH_CHUNK_ROWS": str(chunk_rows), "PYTHONPATH": str(bl.REPO_ROOT)}
    log = open(log_path, "w")  # noqa: SIM115 (closed with the worker)
    process = subprocess.Popen([sys.executable, "-c", launcher], env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=bl.REPO_ROOT, start_new_session=True)
    return process, log


def _stop_worker(process, log) -> None:
    import signal
    import subprocess

    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)  # the worker and its pool processes
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    log.close()


def _wait_for(job, done, *, timeout: float, worker=None):
    import time

    deadline = time.monotonic() + timeout
    while True:
        job.refresh_from_db(fields=["status", "dry_run", "processed_rows", "created_rows", "updated_rows",
                                    "rejected_rows", "error"])  # not the file
        if done(job):
            return job
        if worker is not None and worker.poll() is not None:
            raise RuntimeError(f"the worker stopped (exit {worker.returncode}); see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job.pk} still {job.status} after {timeout:.0f} s")
        time.sleep(0.1)


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--rerun", action="store_true", help="import the same file again (nothing changes)")
    parser.add_argument("--changed", action="store_true",
                        help="then import a changed file (every address, one owner in ten): real updates")
    parser.add_argument("--workers", type=int, default=2, help="processes of the Celery worker (default 2)")
    parser.add_argument("--chunk-rows", type=int, default=None,
                        help="split jobs of more rows than this (default imports.CHUNK_ROWS; 0: never)")
    parser.add_argument("--in-process", action="store_true",
                        help="no worker: tasks run eagerly in this process, chunks one after another")
    parser.add_argument("--keep", action="store_true", help="keep the tenant (for a look afterwards)")
    args = parser.parse_args(argv)

    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true" if args.in_process else "false"
    bl.django_setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from config.celery import app
    from crm.customers import import_write, imports
    from crm.customers.models import Customer, ImportJob
    from crm.customers.tasks import customers_import_run_task
    from crm.org.models import User
    from tenants.services import tenant_create

    chunk_rows = imports.CHUNK_ROWS if args.chunk_rows is None else (args.chunk_rows or 10**9)
    imports.CHUNK_ROWS = chunk_rows
    how = ("in this process (eager tasks, chunks one after another)" if args.in_process else
           f"Celery worker with {args.workers} process{'es' if args.workers > 1 else ''}")
    chunking = f"chunks of ~{chunk_rows:,} rows" if chunk_rows < 10**9 else "no chunks"
    bl.banner(f"customer import ({args.rows:,} rows, CSV, batches of {imports.BATCH_SIZE}, {chunking}, {how})")
    bl.ensure_prerequisites()
    bl.cleanup(SLUG_PREFIX)
    slug = f"{SLUG_PREFIX}{bl.run_id()}"
    summary: list[str] = []
    worker = log = None
    try:
        if not args.in_process:
            app.control.purge()  # leftovers of an interrupted run on the bench's broker
            log_path = f"/tmp/bench-import-worker-{slug}.log"
            worker, log = _start_worker(args.workers, chunk_rows, log_path)
            bl.say(f"worker: {args.workers} process(es), log {log_path}")
        tenant = tenant_create(name="Bench Import", slug=slug, mode="standard", admin_email=f"admin@{slug}.test",
                               admin_name="Bench Admin", admin_password=bl.BENCH_PASSWORD, demo=True,
                               demo_password=bl.BENCH_PASSWORD)
        if tenant.status != "active":
            raise RuntimeError(f"provisioning {slug} failed: {tenant.provisioning_error}")
        if worker is not None:  # ready to take tasks
            for _ in range(120):
                if app.control.ping(destination=[f"bench-import@{os.uname().nodename}"], timeout=0.5):
                    break
                if worker.poll() is not None:
                    raise RuntimeError(f"the worker did not start; see {log_path}")
            else:
                raise RuntimeError(f"the worker did not answer; see {log_path}")
        with schema_context(tenant.schema_name):
            admin = User.objects.get(email=f"admin@{slug}.test")
            owners = list(User.objects.filter(is_active=True).values_list("email", flat=True))
            with bl.Timer() as t:
                content = generate_csv(args.rows, owners)
            bl.say(f"generated {args.rows:,} rows ({len(content) / 1024 / 1024:.1f} MB) in {t.seconds:.1f} s")
            passes = [("first import (creates)", content)]
            if args.rerun:
                passes.append(("re-run of the same file (unchanged rows)", content))
            if args.changed:
                passes.append(("re-run with changed rows (updates)", generate_csv(args.rows, owners, revision=1)))
            for label, data in passes:
                with bl.Timer() as t:
                    job = imports.import_job_create(actor=admin, file_name="bench.csv", content=data)
                    background = bool(job.dry_run.get("checking"))
                    job = _wait_for(job, lambda j: not j.dry_run.get("checking"), timeout=600, worker=worker)
                if job.status != "checked":
                    raise RuntimeError(f"dry run ended {job.status}: {job.dry_run.get('mapping_error')}")
                where = " (task customers.import_check)" if background else " (in the upload request)"
                bl.say(f"{label}: upload and dry run {t.seconds:.1f} s{where}, {args.rows / t.seconds:,.0f} rows/s: "
                       f"{job.dry_run['summary']}")
                ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
                statements = [0]

                def count(execute, sql, params, many, context, statements=statements):
                    statements[0] += 1
                    return execute(sql, params, many, context)

                with bl.Timer() as t, bl.PhaseTimer() as phases, connection.execute_wrapper(count):
                    phases.wrap(import_write, "copy_rows", "copy")
                    customers_import_run_task.apply_async(args=[job.pk], headers={"_schema_name": tenant.schema_name})
                    job = _wait_for(job, lambda j: j.status in ("done", "failed"), timeout=1800, worker=worker)
                if job.status != "done":
                    raise RuntimeError(f"import ended {job.status}: {job.error}")
                chunks = job.dry_run.get("run", {}).get("chunks", [])
                if chunks:
                    bl.say(f"  split into {len(chunks)} chunks of {', '.join(str(c['size']) for c in chunks)} rows")
                if args.in_process:
                    batches = -(-args.rows // imports.BATCH_SIZE)
                    bl.say(f"  round trips per batch of {imports.BATCH_SIZE}: {statements[0] / batches:.1f} "
                           f"statements + {len(phases.calls.get('copy', [])) / batches:.1f} COPY "
                           f"(the job's own start and end included)")
                rate = args.rows / t.seconds
                line = (f"import {args.rows:,} rows, {label}: {t.seconds:.1f} s, {rate:,.0f} rows/s "
                        f"(created {job.created_rows:,}, updated {job.updated_rows:,}, rejected {job.rejected_rows:,}; "
                        f"{how})")
                if args.rows >= TARGET_ROWS:
                    line += f"  target < {TARGET_SECONDS:.0f} s: {bl.verdict(t.seconds < TARGET_SECONDS)}"
                else:
                    projected = t.seconds * TARGET_ROWS / args.rows
                    line += f"  (projected for {TARGET_ROWS:,}: {projected:.0f} s)"
                summary.append(line)
                bl.say(line)
            bl.say(f"customers in the tenant: {Customer.objects.count():,}")
    finally:
        if worker is not None:
            _stop_worker(worker, log)
        connection.set_schema_to_public()
        if not args.keep:
            bl.cleanup(SLUG_PREFIX)
    return summary


if __name__ == "__main__":
    main()
