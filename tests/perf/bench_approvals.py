"""Approvals benchmark: the inbox first page, the waiting count, a request's detail, a decision
and a submission, on generated approval requests; EXPLAIN of every statement on the big tables.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python tests/perf/bench_approvals.py --requests 1000000

Data: one bench tenant ``bench-appr`` (standard-product mode, schema t_bench_appr) with 300
salespeople, business secretaries and finance staff; ``--requests`` approval requests of a
registered bench document type over two years, written with COPY (secondary indexes dropped
and rebuilt, FK triggers skipped): the default chain of the mode (business secretary, finance
at or above 100,000.00, the credit-override step when the customer's credit is over its
limit), ~90 % approved, ~6 % rejected, ~2 % recalled and ~2 % still pending (most of them
recent, some forgotten for months), with their steps and assignments (one per approver per
step reached: the decider's, the others superseded; pending ones for the active step). The
tenant is reused when it already has the requested size; --fresh regenerates; --drop removes
it at the end.

Timings are wall-clock p50/p95 of the Python functions the API calls (selectors and services,
SQL + model loading + serialisation, no HTTP), after a warm-up:
  inbox first page (50) for a secretary (thousands pending), finance, a delegate (mine +
  delegated: a UNION ALL of the sources), a salesperson with nothing waiting; the waiting
  count; a request's detail; a decision (approve, each a real committed transaction on a
  different pending request; once including its notifications, the after-commit Celery task
  run eagerly here, and once with the task only queued, as the web process sees it); a
  submission (rolled back).
Targets (issue 4): approvals inbox p95 < 30 ms, approval step p95 < 30 ms (held to the decision
as the approver waits for it: its transaction and the queueing of the notification task; the
figure with the task run inline, two more commits, is printed for information). A Seq Scan on
approvals_approvalrequest / approvalstep / approvalassignment in any plan is a failure.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG = "bench-appr"
DOC = "benchdoc"
INBOX_TARGET = 0.030
DECIDE_TARGET = 0.030
BIG_TABLES = ("approvals_approvalrequest", "approvals_approvalstep", "approvals_approvalassignment")
TABLES = BIG_TABLES
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SECRETARIES = 3
FINANCE = 2
SALESPEOPLE = 300

REQUEST_COLUMNS = ("id", "doc_type", "object_id", "submitter_id", "department_id", "region_id", "status", "title",
                   "amount", "currency", "facts", "chain", "policy_id", "policy_version", "current_position",
                   "created_at", "decided_at", "version")
STEP_COLUMNS = ("id", "request_id", "position", "name_zh", "name_en", "mode", "status", "approver_ids",
                "activated_at", "decided_at")
ASSIGNMENT_COLUMNS = ("id", "request_id", "step_id", "doc_type", "approver_id", "status", "decided_by_id",
                      "comment", "created_at", "decided_at")


# -- the bench document type -----------------------------------------------------------------------
def register_doc_type() -> None:
    """A document type whose facts come from the request row itself (no document table)."""
    from crm.approvals import registry

    def facts(object_id: int):
        amount = Decimal(object_id % 300000) + Decimal("0.50")
        return registry.Facts(amount=amount, credit_over_limit=object_id % 33 == 0)

    registry.register(registry.DocumentType(key=DOC, label="基准单据", facts=facts,
                                            title=lambda pk: f"基准订单 SO{pk:08d}", credit_control=True))


# -- the tenant and its staff -------------------------------------------------------------------------
def tenant_get():
    return bl.bench_tenant_get(SLUG)


def tenant_make():
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from crm.org.enums import SystemRole
    from crm.org.models import Department, Region
    from crm.org.services import department_create, region_create, staff_create

    tenant = bl.bench_tenant_create(SLUG, "基准审批数据有限公司")
    pw = make_password(bl.BENCH_PASSWORD)
    root_dept = Department.objects.filter(parent=None).first()
    root_region = Region.objects.get(parent=None)
    places = []
    for name in ("华北", "华东", "华南", "西南"):
        region = region_create(actor=None, name=name, parent_id=root_region.pk)
        dept = department_create(actor=None, name=f"{name}销售部", parent_id=root_dept.pk)
        places.append((dept.pk, region.pk))
    office = department_create(actor=None, name="商务部", parent_id=root_dept.pk)
    for i in range(SECRETARIES):
        staff_create(actor=None, email=f"secretary{i}@{SLUG}.test", full_name=f"商务秘书{i}",
                     role_codes=[SystemRole.BUSINESS_SECRETARY], department_id=office.pk,
                     region_id=root_region.pk, password_hash=pw)
    for i in range(FINANCE):
        staff_create(actor=None, email=f"finance{i}@{SLUG}.test", full_name=f"财务{i}",
                     role_codes=[SystemRole.FINANCE], department_id=root_dept.pk, region_id=root_region.pk,
                     password_hash=pw)
    for i in range(SALESPEOPLE):
        dept, region = places[i % len(places)]
        staff_create(actor=None, email=f"sales{i}@{SLUG}.test", full_name=f"业务员{i}",
                     role_codes=[SystemRole.SALESPERSON], department_id=dept, region_id=region, password_hash=pw)
    staff_create(actor=None, email=f"deputy@{SLUG}.test", full_name="代理人", role_codes=[SystemRole.SERVICE],
                 department_id=office.pk, region_id=root_region.pk, password_hash=pw)
    connection.set_schema_to_public()
    return tenant


# -- COPY text helpers ------------------------------------------------------------------------------
def _ts(dt: datetime | None) -> str:
    return "\\N" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _text(value) -> str:
    if value is None:
        return "\\N"
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s




# -- the load -------------------------------------------------------------------------------------
def load(tenant, n: int, seed: int = 42) -> dict:
    """Replace the tenant's approval requests with ``n`` generated ones. COPY runs on three
    connections at once (requests, steps, assignments), so nothing may query in between."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from crm.approvals import services

    rng = random.Random(seed)
    timings: dict[str, float] = {}
    connection.set_tenant(tenant)
    schema = tenant.schema_name
    register_doc_type()
    policy = services.approval_policy_default_seed(doc_type=DOC)
    steps_spec = list(policy.steps.order_by("position"))
    User = get_user_model()
    secretaries = list(User.objects.filter(email__startswith="secretary").order_by("pk").values_list("pk", flat=True))
    finance = list(User.objects.filter(email__startswith="finance").order_by("pk").values_list("pk", flat=True))
    sales = list(User.objects.filter(email__startswith="sales").values_list("pk", "department_id", "region_id"))
    approvers_of = {1: secretaries, 2: finance, 3: finance}
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE approvals_approvalassignment, approvals_approvalstep, approvals_approvalrequest "
                       "CASCADE")
        rebuild = bl.indexes_drop_for_load(cursor, schema, TABLES)
    connection.set_schema_to_public()

    def chain_json(amount: Decimal, credit: bool) -> str:
        chain = []
        for s in steps_spec:
            applies = ((s.min_amount is None or amount >= s.min_amount)
                       and (s.credit_over_limit is None or s.credit_over_limit == credit))
            chain.append({"position": s.position, "name_zh": s.name_zh, "name_en": s.name_en, "mode": s.mode,
                          "approver_kind": s.approver_kind, "role_code": s.role_code, "scope": s.scope,
                          "user_id": None, "conditions": services._conditions_of(s), "applies": applies,
                          "approver_ids": approvers_of[s.position] if applies else []})
        return json.dumps(chain, ensure_ascii=False)

    chains = {(big, credit): chain_json(Decimal("100000") if big else Decimal("1"), credit)
              for big in (False, True) for credit in (False, True)}
    conns = bl.replica_connections(3, schema)
    requests = bl.Copier(conns[0], f'"{schema}".approvals_approvalrequest', REQUEST_COLUMNS)
    steps = bl.Copier(conns[1], f'"{schema}".approvals_approvalstep', STEP_COLUMNS)
    assignments = bl.Copier(conns[2], f'"{schema}".approvals_approvalassignment', ASSIGNMENT_COLUMNS)
    start = NOW - timedelta(days=730)
    span = (NOW - start).total_seconds()
    step_id = assignment_id = 0
    pending = 0
    started = time.perf_counter()
    for rid in range(1, n + 1):
        recent = rid > n * 0.98
        created = start + timedelta(seconds=span * (rid / n) ** 0.9)  # more requests lately
        submitter, dept, region = sales[rng.randrange(len(sales))]
        object_id = rid
        amount = Decimal(rng.choice((rng.randint(800, 99999), rng.randint(800, 99999), rng.randint(800, 99999),
                                     rng.randint(100000, 900000)))) + Decimal(rng.randint(0, 99)) / 100
        credit = rng.random() < 0.03
        big = amount >= Decimal("100000")
        applicable = [1] + ([2] if big else []) + ([3] if credit else [])
        roll = rng.random()
        if recent and roll < 0.9 or rng.random() < 0.002:
            outcome = "pending"
        elif roll < 0.06:
            outcome = "rejected"
        elif roll < 0.08:
            outcome = "recalled"
        else:
            outcome = "approved"
        # which applicable step it stopped at (pending: the active one; rejected: the rejecting one)
        stop = rng.choice(applicable) if outcome in ("pending", "rejected") else None
        if outcome == "recalled":
            stop = 1
        t = created
        current = None
        decided_at = None
        for position in (1, 2, 3):
            sid = step_id = step_id + 1
            ids = approvers_of[position] if position in applicable else []
            activated = step_decided = None
            if position not in applicable:
                status = "skipped"
            elif outcome == "approved" or (stop is not None and position < stop):
                status = "approved"
            elif position == stop:
                status = {"pending": "active", "rejected": "rejected", "recalled": "cancelled"}[outcome]
            else:
                status = "waiting" if outcome == "pending" else "cancelled"
            if status in ("approved", "rejected", "active") or (status == "cancelled" and position == stop):
                activated = t
                decider = rng.choice(ids)
                if status in ("approved", "rejected"):
                    t = t + timedelta(minutes=rng.randint(5, 60 * 24))
                    step_decided = t
                for approver in ids:
                    assignment_id += 1
                    if status == "active":
                        a_status, by, at, comment = "pending", None, None, ""
                        pending += 1
                    elif approver == decider and status in ("approved", "rejected"):
                        a_status, by, at = status, approver, t
                        comment = "同意" if status == "approved" else "价格低于底价，请重新报价"
                    else:
                        a_status, by, at, comment = "superseded", None, None, ""
                    assignments.row((str(assignment_id), str(rid), str(sid), DOC, str(approver), a_status,
                                     _text(by), comment, _ts(activated), _ts(at)))
            if status == "active":
                current = position
            steps.row((str(sid), str(rid), str(position), steps_spec[position - 1].name_zh,
                       steps_spec[position - 1].name_en, "any", status,
                       "{" + ",".join(str(i) for i in ids) + "}", _ts(activated), _ts(step_decided)))
        if outcome != "pending":
            decided_at = t + timedelta(minutes=1)
        facts = json.dumps({"amount": str(amount), "currency": "CNY", "discount_pct": None,
                            "customer_is_new": False, "partner_tier": "", "credit_over_limit": credit,
                            "department_id": None, "region_id": None})
        requests.row((str(rid), DOC, str(object_id), str(submitter), _text(dept), _text(region), outcome,
                      f"基准订单 SO{object_id:08d}", str(amount), "CNY", _text(facts), _text(chains[(big, credit)]),
                      str(policy.pk), "1", _text(current), _ts(created), _ts(decided_at),
                      str(1 + (outcome != "pending") + sum(1 for p in applicable if stop is None or p < stop))))
    for copier in (requests, steps, assignments):
        copier.close()
    for c in conns:
        c.commit()
        c.close()
    timings["COPY"] = time.perf_counter() - started
    connection.set_tenant(tenant)
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{schema}\".{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 1) FROM \"{schema}\".{table}))")
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET max_parallel_maintenance_workers = 1")
        for definition in rebuild:
            cursor.execute(definition)
        timings["indexes rebuilt"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + ", ".join(f'"{schema}".{table}' for table in TABLES))
    timings["vacuum analyze"] = time.perf_counter() - started
    timings["total"] = time.perf_counter() - t0
    timings["pending assignments"] = pending
    connection.set_schema_to_public()
    return timings


def counts(tenant) -> tuple[int, int, int]:
    from django.db import connection

    schema = tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT (SELECT count(*) FROM "{schema}".approvals_approvalrequest), '
                       f'(SELECT count(*) FROM "{schema}".approvals_approvalstep), '
                       f'(SELECT count(*) FROM "{schema}".approvals_approvalassignment)')
        return cursor.fetchone()


def pending_first_steps(tenant) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{tenant.schema_name}".approvals_approvalrequest '
                       "WHERE status = 'pending' AND current_position = 1")
        return cursor.fetchone()[0]


def ensure(n: int, *, fresh: bool = False, seed: int = 42, need_pending: int = 0):
    """The bench tenant with ``n`` requests, reused when it has them and enough requests
    still waiting at their first step for the decisions to time (each run decides some)."""
    from django.core.management import call_command

    bl.ensure_prerequisites()
    tenant = tenant_get()
    if tenant is not None:
        call_command("migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0)
    if tenant is not None and not fresh and counts(tenant)[0] == n and pending_first_steps(tenant) >= need_pending:
        bl.say(f"reusing tenant {SLUG}: {n:,} approval requests")
        return tenant
    if tenant is None:
        tenant = tenant_make()
    bl.say(f"generating {n:,} approval requests into {SLUG} ...")
    timings = load(tenant, n, seed=seed)
    bl.say("  " + ", ".join(f"{k} {bl.fmt_s(v)}" if isinstance(v, float) else f"{k} {v:,}"
                            for k, v in timings.items()))
    return tenant


def report_size(tenant) -> list[str]:
    from django.db import connection

    lines, total = [], 0
    rows = counts(tenant)
    with connection.cursor() as cursor:
        for table, count in zip(TABLES, rows, strict=True):
            cursor.execute("SELECT pg_total_relation_size(%s::regclass), pg_relation_size(%s::regclass)",
                           [f'"{tenant.schema_name}".{table}'] * 2)
            all_bytes, heap = cursor.fetchone()
            total += all_bytes
            lines.append(f"  {table}: {count:,} rows, {all_bytes / 2**20:,.0f} MB "
                         f"(heap {heap / 2**20:,.0f} MB, indexes {(all_bytes - heap) / 2**20:,.0f} MB)")
    lines.append(f"  approvals data on disk: {total / 2**20:,.0f} MB")
    return lines


# -- timing -----------------------------------------------------------------------------------------
timed = bl.timed  # shared by the benchmarks (benchlib)


fmt = bl.fmt_p  # shared by the benchmarks (benchlib)


class Rollback(Exception):
    pass


def plans_of(fn) -> tuple[list[str], bool]:
    """Run ``fn`` once and EXPLAIN every SELECT (a UNION ALL of SELECTs too) it issued on the
    approval tables; a Seq Scan on one of them (holding over 100,000 rows) is a failure."""
    return bl.select_plans(fn, BIG_TABLES)


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=60, help="timed runs per case")
    parser.add_argument("--decisions", type=int, default=200, help="committed decisions to time (two halves)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--drop", action="store_true", help="remove the bench tenant at the end")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    bl.django_setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    settings.DEBUG = False
    from config.celery import app as celery_app

    # Notifications run in Celery tasks queued after commit; run them in this process, so the
    # decision's figure includes them and nothing is left queued in the broker.
    celery_app.conf.task_always_eager = True

    from crm.approvals import selectors, services
    from crm.approvals.api.serializers import InboxPageSerializer, RequestDetailSerializer
    from crm.approvals.models import ApprovalRequest

    register_doc_type()
    bl.banner(f"approvals: {args.requests:,} approval requests")
    tenant = ensure(args.requests, fresh=args.fresh, seed=args.seed, need_pending=args.decisions + 20)
    connection.set_tenant(tenant)
    size_lines = report_size(tenant)
    for line in size_lines:
        bl.say(line)
    rng = random.Random(args.seed)
    summary: list[str] = []
    results: list[tuple[str, list[float], float | None]] = []
    plans: dict[str, tuple[list[str], bool]] = {}
    try:
        User = get_user_model()
        secretary = User.objects.get(email=f"secretary0@{SLUG}.test")
        finance = User.objects.get(email=f"finance0@{SLUG}.test")
        deputy = User.objects.get(email=f"deputy@{SLUG}.test")
        salesperson = User.objects.filter(email__startswith="sales").order_by("pk")[SALESPEOPLE // 2]
        # the deputy stands in for the second secretary and for finance (two delegated sources)
        from crm.approvals.models import Delegation

        Delegation.objects.filter(to_user=deputy).delete()
        second = User.objects.get(email=f"secretary1@{SLUG}.test")
        for giver in (second, finance):
            services.delegation_set(actor=giver, to_user_id=deputy.pk, ends_at=timezone.now() + timedelta(days=30))
        waiting = {u.email: selectors.approvals_waiting_count(actor=u, cap=10**7) for u in (secretary, finance, deputy)}
        bl.say("actors: " + ", ".join(f"{k} ({v:,} waiting)" for k, v in waiting.items())
               + f", {salesperson.email} (nothing waiting)")

        # -- (a) inbox first page ----------------------------------------------------------------
        bl.banner("(a) inbox, first page of 50 (selector + API serialisation), and the waiting count")

        def inbox(actor):
            page = selectors.approval_inbox_for(actor=actor, limit=50)
            return InboxPageSerializer({"results": page.items, "next_cursor": page.next_cursor}).data

        def inbox_page(actor, cursor):
            page = selectors.approval_inbox_for(actor=actor, limit=50, cursor=cursor)
            return InboxPageSerializer({"results": page.items, "next_cursor": page.next_cursor}).data

        second_cursor = selectors.approval_inbox_for(actor=secretary, limit=50).next_cursor
        cases = [("secretary (thousands pending)", lambda _s: inbox(secretary), INBOX_TARGET),
                 ("finance", lambda _s: inbox(finance), INBOX_TARGET),
                 ("delegate (own + 2 delegated)", lambda _s: inbox(deputy), INBOX_TARGET),
                 ("salesperson (empty)", lambda _s: inbox(salesperson), INBOX_TARGET),
                 ("secretary: second page", lambda _s: inbox_page(secretary, second_cursor), INBOX_TARGET),
                 ("waiting count (secretary)", lambda _s: selectors.approvals_waiting_count(actor=secretary),
                  INBOX_TARGET)]
        for label, fn, target in cases:
            times = timed(fn, [None], args.repeat)
            bl.say(f"  {label:<34} {fmt(times, target)}")
            results.append((f"inbox {label}", times, target))
            plans[f"inbox {label}"] = plans_of(lambda fn=fn: fn(None))

        # -- (b) detail ----------------------------------------------------------------------------
        bl.banner("(b) a request's detail (visibility check + steps + assignments + serialisation)")
        sample_ids = list(ApprovalRequest.objects.order_by("?").values_list("pk", flat=True)[:200])

        def detail(pk):
            request = selectors.approval_request_get_for_actor(actor=secretary, request_id=pk)
            return RequestDetailSerializer(selectors.approval_request_detail(request=request)).data

        times = timed(detail, sample_ids, args.repeat)
        bl.say(f"  {'detail (secretary)':<34} {fmt(times, INBOX_TARGET)}")
        results.append(("detail", times, INBOX_TARGET))
        plans["detail"] = plans_of(lambda: detail(sample_ids[0]))

        # -- (c) decisions -------------------------------------------------------------------------
        bl.banner(f"(c) a decision: approve the active step, {args.decisions} committed transactions")
        todo = list(ApprovalRequest.objects.filter(status="pending", current_position=1)
                    .order_by("?").values_list("pk", flat=True)[:args.decisions + 7])
        rng.shuffle(todo)
        spare = todo[-1:]  # for the EXPLAIN, in a rolled-back transaction
        todo = todo[:-1]

        def approve(pk):
            services.approval_decide(actor=secretary, request_id=pk, decision="approve", comment="同意", step=1)

        half = len(todo) // 2
        times = timed(approve, todo[:half], max(1, half - 3), warmup=3)
        bl.say(f"  {'approve (+ notifications, eager)':<34} {fmt(times, None)}")
        results.append(("decision approve (+ notifications run inline)", times, None))
        # the same without running the notification task (what the web process waits for
        # when a worker sends them): the task's apply_async is a stub here, so the broker's
        # own LPUSH (well under a millisecond on a local Redis) is not in the figure
        from crm.approvals import tasks as approval_tasks

        queued: list = []
        stubs = {name: getattr(approval_tasks, name).apply_async for name in
                 ("approvals_notify_pending_task", "approvals_notify_result_task")}
        try:
            for name in stubs:
                getattr(approval_tasks, name).apply_async = lambda *a, **k: queued.append(k)
            times = timed(approve, todo[half:], max(1, len(todo) - half - 3), warmup=3)
        finally:
            for name, original in stubs.items():
                getattr(approval_tasks, name).apply_async = original
        bl.say(f"  {'approve (notifications queued)':<34} {fmt(times, DECIDE_TARGET)}")
        results.append(("decision approve (what the approver waits for)", times, DECIDE_TARGET))

        def approve_rolled_back(pk):
            try:
                with transaction.atomic():
                    approve(pk)
                    raise Rollback
            except Rollback:
                pass

        plans["decision approve"] = plans_of(lambda: approve_rolled_back(spare[0]))

        # -- (d) submission --------------------------------------------------------------------------
        bl.banner("(d) a submission (facts, chain frozen, first step activated), rolled back")
        salespeople = list(User.objects.filter(email__startswith="sales")[:50])
        next_object = [10**9]

        def submit(actor):
            next_object[0] += 1
            try:
                with transaction.atomic():
                    services.approval_submit(actor=actor, doc_type=DOC, object_id=next_object[0])
                    raise Rollback
            except Rollback:
                pass

        times = timed(submit, salespeople, args.repeat)
        bl.say(f"  {'submit':<34} {fmt(times, None)}")
        results.append(("submit", times, None))
        plans["submit"] = plans_of(lambda: submit(salespeople[0]))

        # -- EXPLAIN -------------------------------------------------------------------------------
        bl.banner("EXPLAIN: plan node types of every statement on the approval tables")
        for key, (lines, bad) in plans.items():
            bl.say(f"  {key}{'  <-- SEQ SCAN' if bad else ''}")
            for plan_line in lines:
                bl.say(f"      {plan_line}")
    finally:
        connection.set_schema_to_public()
        if args.drop:
            bl.cleanup(SLUG, quiet=True)
            bl.say(f"dropped tenant {SLUG}")

    seq_bad = [k for k, (_lines, bad) in plans.items() if bad]
    summary.append(f"approvals ({args.requests:,} requests; bench_approvals.py --requests {args.requests})")
    summary.extend(size_lines)
    for key, times, target in results:
        line = f"  {key:<40} p50 {bl.fmt_ms(bl.percentile(times, 50))}, p95 {bl.fmt_ms(bl.percentile(times, 95))}"
        if target:
            line += f" (target {bl.fmt_ms(target)}): {bl.verdict(bl.percentile(times, 95) < target)}"
        summary.append(line)
    summary.append(f"  EXPLAIN: {len(plans)} cases, seq scans on the approval tables: "
                   + (", ".join(seq_bad) if seq_bad else "none") + (" NOT MET" if seq_bad else ""))
    if args.requests < 1_000_000:
        summary.append("  full scale (issue 4): .venv/bin/python tests/perf/bench_approvals.py --requests 1000000")
    bl.banner("approvals summary")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    lines = main()
    sys.exit(1 if any("NOT MET" in line for line in lines) else 0)
