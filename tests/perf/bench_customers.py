"""Customers benchmark: list first pages, one-click search per query shape, duplicate check,
activity lists and timelines, the bulk duplicate scan.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python tests/perf/bench_customers.py --customers 1000000 --contacts 2000000 \\
        --activities 5000000 --scan

The data comes from gen_customers.py (tenant ``bench-cust``, reused when it already has the
requested size; --drop removes it at the end). Every query shape runs ``--repeat`` times with a
different sample value each time (drawn from the generated data and from what the actor may
see), after a warm-up; p50/p95 are wall-clock times of the Python function the API calls
(SQL + model loading, no HTTP). Each shape is also EXPLAINed (the SQL captured from the real
call) and the plan node types printed: a Seq Scan on one of the big tables holding more than
100,000 rows is a failure. Targets (issue 3): list p95 < 30 ms, search p95 < 30 ms per shape,
duplicate check p95 < 20 ms, bulk duplicate scan (--scan, dedup.duplicate_groups over the whole
tenant, once) < 5 minutes. Activity lists (first page of 50) and a customer's timeline are held
to the list target.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402
import gen_customers as gen  # noqa: E402

LIST_TARGET = 0.030
SEARCH_TARGET = 0.030
DUP_TARGET = 0.020
SCAN_TARGET = 300.0
BIG_TABLES = ("customers_customer", "customers_contact", "activities_activity")


def _plan_nodes(plan: dict, out: list[str]) -> None:
    label = plan["Node Type"]
    if plan.get("Index Name"):
        label += f"({plan['Index Name']})"
    elif plan.get("Relation Name"):
        label += f"({plan['Relation Name']})"
    out.append(label)
    for child in plan.get("Plans", []):
        _plan_nodes(child, out)


def explain(sql: str, settings: dict[str, str]) -> list[str]:
    """Plan node types of one captured statement, under the planner settings the code had
    set when it ran the statement."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for name, value in settings.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        raw = cursor.fetchone()[0]
        plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    nodes: list[str] = []
    _plan_nodes(plan, nodes)
    return nodes


_SET_CONFIG = re.compile(r"set_config\('(\w+)',\s*'(\w+)',\s*true\)")


def captured_plans(fn) -> tuple[list[str], bool]:
    """Run ``fn`` once, EXPLAIN every SELECT it issued on the big tables (following the
    set_config calls it made, e.g. enable_seqscan off)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as ctx:
        fn()
    lines, bad, settings = [], False, {}
    for q in ctx.captured_queries:
        sql = q["sql"]
        for name, value in _SET_CONFIG.findall(sql):
            settings[name] = value
        if not sql.lstrip().upper().startswith("SELECT") or not any(t in sql for t in BIG_TABLES):
            continue
        nodes = explain(sql, dict(settings))
        if any(n.startswith("Seq Scan(") and n[9:-1] in bl.large_tables(BIG_TABLES) for n in nodes):
            bad = True
        lines.append(" > ".join(nodes))
    return lines, bad


timed = bl.timed  # shared by the benchmarks (benchlib)


def fmt(times: list[float], target: float) -> tuple[str, bool]:
    p50, p95 = bl.percentile(times, 50), bl.percentile(times, 95)
    ok = p95 < target
    return f"p50 {bl.fmt_ms(p50):>9}  p95 {bl.fmt_ms(p95):>9}  {bl.verdict(ok)}", ok


def token_check(sample: int = 300) -> str:
    """The generator's vectorised tokens against crm.customers.search.customer_tokens."""
    from django.db import connection

    from crm.customers import search
    from crm.customers.models import Contact, Customer

    differ = 0
    customers = list(Customer.objects.order_by("?")[:sample])
    contacts = list(Contact.objects.order_by("?")[:sample])
    with connection.cursor() as cursor:
        for table, rows, fn in (("customers_customer", customers, search.customer_tokens),
                                ("customers_contact", contacts, search.contact_tokens)):
            cursor.execute(f"SELECT id, tsvector_to_array(search_vector) FROM {table} WHERE id = ANY(%s)",
                           [[r.pk for r in rows]])
            stored = dict(cursor.fetchall())
            differ += sum(1 for r in rows if sorted(stored[r.pk]) != fn(r))
    return (f"generator tokens == search.customer_tokens/contact_tokens on {differ and 'all but ' + str(differ) or 'all'}"
            f" of {2 * sample} sampled rows (differences: pinyin of a character read in the context of the whole "
            f"name)")


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--contacts", type=int, default=40000)
    parser.add_argument("--activities", type=int, default=0)
    parser.add_argument("--scan", action="store_true", help="time the bulk duplicate scan too")
    parser.add_argument("--repeat", type=int, default=40, help="timed runs per shape")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--drop", action="store_true", help="remove the bench tenant at the end")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--slug", default=gen.SLUG, help="the bench tenant (bench-cust...)")
    args = parser.parse_args(argv)
    gen.use_slug(args.slug)
    bl.django_setup()

    from django.conf import settings
    from django.db import connection
    from django.http import QueryDict

    settings.DEBUG = False  # no query log (CaptureQueriesContext turns it on where needed)

    from crm.activities import selectors as activity_selectors
    from crm.customers import dedup, search, selectors
    from crm.customers.models import Contact, Customer
    from crm.org.models import Region, User

    summary: list[str] = []
    bl.banner(f"customers: {args.customers:,} customers, {args.contacts:,} contacts, "
              f"{args.activities:,} activities")
    command = (f"DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/gen_customers.py "
               f"--customers {args.customers} --contacts {args.contacts} --activities {args.activities} "
               f"--seed {args.seed} --slug {args.slug}")
    bl.say(f"generator: {command}")
    tenant, timings = gen.ensure(args.customers, args.contacts, args.activities, fresh=args.fresh,
                                 seed=args.seed)
    size_lines = gen.report_size(tenant)
    for line in size_lines:
        bl.say(line)
    connection.set_tenant(tenant)
    rng = random.Random(args.seed)
    try:
        bl.say(token_check())
        sales = list(User.objects.filter(email__startswith="sales").order_by("id"))
        salesperson = sales[len(sales) // 2]
        manager = User.objects.get(email__startswith="manager1@")  # 华东大区: the biggest
        executive = User.objects.get(email__startswith="exec@")
        own = Customer.objects.filter(owner=salesperson).count()
        bl.say(f"actors: salesperson {salesperson.email} ({own:,} customers, own scope), {manager.email} "
               f"(region scope: {manager.region.name}), {executive.email} (all)")
        results: list[tuple[str, list[float], float]] = []
        plans: dict[str, tuple[list[str], bool]] = {}
        seq_bad: list[str] = []

        # -- (a) lists ------------------------------------------------------------------------
        bl.banner("(a) customer list, first page of 50, sorted by last update")
        region_children = list(Region.objects.filter(path__startswith=manager.region.path)
                               .exclude(pk=manager.region_id).filter(parent_id=manager.region_id))
        colleagues = [u for u in sales if u.region.path.startswith(manager.region.path)]

        def list_page(actor, params: str):
            qs = selectors.customer_list_filter(selectors.customer_list_visible_to(actor=actor), QueryDict(params))
            return list(qs.order_by("-updated_at", "-id")[:50])

        list_cases = [
            ("salesperson: own list", lambda _s: list_page(salesperson, ""), [None]),
            ("salesperson: owner=self", lambda _s: list_page(salesperson, f"owner={salesperson.pk}"), [None]),
            ("manager: whole region (scope)", lambda _s: list_page(manager, ""), [None]),
            ("manager: owner=<colleague>", lambda u: list_page(manager, f"owner={u.pk}"), colleagues),
            ("manager: region=<province subtree>", lambda r: list_page(manager, f"region={r.pk}"), region_children),
            ("executive: region=<大区 subtree>", lambda r: list_page(executive, f"region={r.pk}"),
             list(Region.objects.filter(parent__parent=None, parent__isnull=False))),
            ("executive: owner=<anyone>", lambda u: list_page(executive, f"owner={u.pk}"), sales),
        ]
        for label, fn, samples in list_cases:
            samples = list(samples)
            rng.shuffle(samples)
            times = timed(fn, samples, args.repeat)
            line, ok = fmt(times, LIST_TARGET)
            bl.say(f"  {label:<38} {line}")
            results.append((f"list {label}", times, LIST_TARGET))
            plan_lines, bad = captured_plans(lambda fn=fn, s=samples[0]: fn(s))
            plans[f"list {label}"] = (plan_lines, bad)
            if bad:
                seq_bad.append(f"list {label}")

        # -- (b) search -----------------------------------------------------------------------
        bl.banner("(b) one-click search per query shape (customers query, contacts query)")
        sample = list(Customer.objects.order_by("?").values_list(
            "name", "short_name", "phone", "phone_digits", "email", "credit_code")[:400])
        contact_sample = list(Contact.objects.order_by("?").values_list("name", "phones", "emails")[:400])

        def pinyin_initials(text: str) -> str:
            from pypinyin import Style, lazy_pinyin
            return "".join(s[0] for s in lazy_pinyin(text, style=Style.FIRST_LETTER) if s)

        def pinyin_full(text: str) -> str:
            from pypinyin import lazy_pinyin
            return "".join(lazy_pinyin(text))

        brands = [r[1] for r in sample if r[1] and len(r[1]) == 2] or ["鑫鼎"]
        mobiles = [r[3] for r in sample if len(r[3]) == 11 and r[3].startswith("1")]
        shapes = {
            "rare 2-char (a brand)": brands,
            "common 2-char 科技": ["科技"], "common 2-char 北京": ["北京"], "common 2-char 有限": ["有限"],
            "single char (华/王/鑫)": ["华", "王", "鑫"],
            "rare single char (壮)": ["壮"],
            "4 chars from a name": [r[0][1:5] for r in sample if len(r[0]) >= 6],
            "pinyin initials": [pinyin_initials(b + "科技") for b in brands],
            "pinyin full": [pinyin_full(b) for b in brands],
            "phone 4 digits": [d[3:7] for d in mobiles],
            "phone 11 digits": mobiles,
            "phone with dashes": [f"{d[:3]}-{d[3:7]}-{d[7:]}" for d in mobiles],
            "email": [r[4] for r in sample if r[4]],
            "credit code": [r[5] for r in sample if r[5]],
            "contact name (person)": [r[0] for r in contact_sample],
            "contact email": [r[2][0] for r in contact_sample if r[2]],
        }
        actors = (("salesperson", salesperson), ("manager", manager), ("executive", executive))
        for actor_label, actor in actors:
            cqs = selectors.customer_list_visible_to(actor=actor)
            kqs = selectors.contact_list_visible_to(actor=actor)
            bl.say(f"  -- as {actor_label}")
            for shape, values in shapes.items():
                values = list(values)
                rng.shuffle(values)
                parsed_values = [search.parse_query(v) for v in values]
                for target_label, fn in (
                        ("customers", lambda p, q=cqs, a=actor: search.search_customers(qs=q, parsed=p, limit=10,
                                                                                        actor=a)),
                        ("contacts", lambda p, q=kqs, a=actor: search.search_contacts(qs=q, parsed=p, limit=10,
                                                                                      actor=a))):
                    times = timed(fn, parsed_values, args.repeat)
                    line, ok = fmt(times, SEARCH_TARGET)
                    kind = parsed_values[0].kind
                    bl.say(f"  {shape:<27} [{kind:<11}] {target_label:<9} {line}")
                    key = f"search {actor_label} {shape} {target_label}"
                    results.append((key, times, SEARCH_TARGET))
                    plan_lines, bad = captured_plans(lambda fn=fn, p=parsed_values[0]: fn(p))
                    plans[key] = (plan_lines, bad)
                    if bad:
                        seq_bad.append(key)

        # -- (c) duplicate check ----------------------------------------------------------------
        bl.banner("(c) duplicate check on create (selectors.duplicate_candidates)")
        suffixes = ("有限公司", "股份有限公司", "集团", "")
        dup_samples = [(r[0].replace("有限公司", rng.choice(suffixes)), r[2], r[4]) for r in sample]

        def dup(s):
            return selectors.duplicate_candidates(actor=salesperson, name=s[0], phone=s[1], email=s[2])

        times = timed(dup, dup_samples, max(args.repeat, 60))
        line, ok = fmt(times, DUP_TARGET)
        bl.say(f"  {'name + phone + email':<38} {line}")
        results.append(("duplicate check", times, DUP_TARGET))
        plan_lines, bad = captured_plans(lambda: dup(dup_samples[0]))
        plans["duplicate check"] = (plan_lines, bad)
        if bad:
            seq_bad.append("duplicate check")

        # -- (d) activities ---------------------------------------------------------------------
        if args.activities:
            bl.banner("(d) activities: list first page of 50 (newest first), a customer's timeline, today")
            busy = list(Customer.objects.filter(owner__isnull=False, last_activity_at__isnull=False)
                        .order_by("?").values_list("pk", flat=True)[:200])
            salesperson_customers = list(Customer.objects.filter(owner=salesperson).values_list("pk", flat=True)[:200])

            def activity_page(actor):
                return list(activity_selectors.activity_list_visible_to(actor=actor)
                            .order_by("-occurred_at", "-id")[:50])

            activity_cases = [
                ("salesperson: activity list", lambda _s: activity_page(salesperson), [None]),
                ("manager: activity list (region)", lambda _s: activity_page(manager), [None]),
                ("executive: activity list (all)", lambda _s: activity_page(executive), [None]),
                ("executive: customer timeline", lambda pk: activity_selectors.activity_timeline(
                    actor=executive, customer_id=pk, limit=50), busy),
                ("salesperson: own customer timeline", lambda pk: activity_selectors.activity_timeline(
                    actor=salesperson, customer_id=pk, limit=50), salesperson_customers or busy),
                ("salesperson: today page", lambda _s: activity_selectors.today_for(actor=salesperson), [None]),
            ]
            for label, fn, samples in activity_cases:
                samples = list(samples)
                rng.shuffle(samples)
                times = timed(fn, samples, args.repeat)
                line, ok = fmt(times, LIST_TARGET)
                bl.say(f"  {label:<38} {line}")
                results.append((f"activities {label}", times, LIST_TARGET))
                plan_lines, bad = captured_plans(lambda fn=fn, s=samples[0]: fn(s))
                plans[f"activities {label}"] = (plan_lines, bad)
                if bad:
                    seq_bad.append(f"activities {label}")

        # -- (e) the bulk duplicate scan -----------------------------------------------------------
        if args.scan:
            bl.banner("(e) bulk duplicate scan over the whole tenant (dedup.duplicate_groups, once)")
            started = time.perf_counter()
            groups = dedup.duplicate_groups(actor=executive, limit=10**9)
            took = time.perf_counter() - started
            grouped = sum(len(g.ids) for g in groups)
            bl.say(f"  {len(groups):,} candidate groups covering {grouped:,} customers in {bl.fmt_s(took)} "
                   f"(target {bl.fmt_s(SCAN_TARGET)}): {bl.verdict(took < SCAN_TARGET)}")
            results.append(("bulk duplicate scan", [took], SCAN_TARGET))
            scan_line = (f"  bulk duplicate scan: {len(groups):,} groups, {grouped:,} customers, {bl.fmt_s(took)} "
                         f"(target {bl.fmt_s(SCAN_TARGET)}): {bl.verdict(took < SCAN_TARGET)}")
        else:
            scan_line = ""

        # -- EXPLAIN ----------------------------------------------------------------------------
        bl.banner("EXPLAIN: plan node types of every statement on the big tables")
        for key, (lines, bad) in plans.items():
            bl.say(f"  {key}{'  <-- SEQ SCAN' if bad else ''}")
            for plan_line in lines:
                bl.say(f"      {plan_line}")
    finally:
        connection.set_schema_to_public()
        if args.drop:
            gen.drop()
            bl.say(f"dropped tenant {gen.SLUG}")

    missed = [(k, t, target) for k, t, target in results if bl.percentile(t, 95) >= target]
    worst = max(results, key=lambda r: bl.percentile(r[1], 95) / r[2])
    lists = [r for r in results if r[0].startswith("list")]
    searches = [r for r in results if r[0].startswith("search")]
    dups = [r for r in results if r[0] == "duplicate check"]
    activity_rows = [r for r in results if r[0].startswith("activities")]

    def group(rows, target):
        p95 = max(bl.percentile(t, 95) for _k, t, _x in rows)
        p50 = max(bl.percentile(t, 50) for _k, t, _x in rows)
        return f"worst p50 {bl.fmt_ms(p50)}, worst p95 {bl.fmt_ms(p95)} (target {bl.fmt_ms(target)}): " \
               f"{bl.verdict(p95 < target)}"

    summary.append(f"customers ({args.customers:,} customers, {args.contacts:,} contacts, "
                   f"{args.activities:,} activities; generator: {command})")
    summary.extend(size_lines)
    summary.append(f"  list first page, {len(lists)} cases: {group(lists, LIST_TARGET)}")
    summary.append(f"  search, {len(searches)} shape x actor x table cases: {group(searches, SEARCH_TARGET)}")
    summary.append(f"  duplicate check: {group(dups, DUP_TARGET)}")
    if activity_rows:
        summary.append(f"  activities, {len(activity_rows)} cases: {group(activity_rows, LIST_TARGET)}")
    if scan_line:
        summary.append(scan_line)
    summary.append(f"  worst case: {worst[0]} p95 {bl.fmt_ms(bl.percentile(worst[1], 95))}")
    for k, t, target in missed:
        summary.append(f"  NOT MET: {k} p95 {bl.fmt_ms(bl.percentile(t, 95))} >= {bl.fmt_ms(target)}")
    summary.append(f"  EXPLAIN: {len(plans)} cases, seq scans on the big tables: "
                   + (", ".join(seq_bad) if seq_bad else "none") + (" NOT MET" if seq_bad else ""))
    if args.customers < 1_000_000:
        summary.append("  full scale (issue 3): .venv/bin/python tests/perf/bench_customers.py "
                       "--customers 1000000 --contacts 2000000 --activities 5000000 --scan")
    bl.banner("customers summary")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    lines = main()
    sys.exit(1 if any("NOT MET" in line for line in lines) else 0)
