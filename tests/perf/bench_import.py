"""Customer import: 100,000 generated rows of realistic Chinese data (CSV) through the real
task code path.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/bench_import.py [--rows 100000] [--rerun]

Provisions one tenant (`bench-imp-*`), generates a UTF-8 CSV (company names, valid credit
codes, phones, e-mails, stages, levels, tags, external ids, owners by e-mail), uploads it as
the tenant admin (the dry run: parsing, validation, matching, duplicate checks; timed), then
runs the Celery task `customers.import_run` in-process (`apply`, the same code a worker runs:
batches of 500 rows, each one transaction with audit rows, ownership history and search
tokens). With --rerun the same file is imported again (every row matches its external id and
updates; nothing is created). Target: the import of 100,000 rows under 60 s. Removes the
tenant at the end.
"""

from __future__ import annotations

import argparse
import csv
import io
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


def generate_csv(rows: int, owners: list[str], seed: int = 7) -> bytes:
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
        writer.writerow([name, code, phone, email, industry, f"{city}市{rnd.randint(1, 999)}号",
                         rnd.choice(SOURCES), rnd.choice(STAGES), rnd.choice("ABCD "),
                         "，".join(rnd.sample(TAGS, rnd.randint(0, 3))), f"ERP{i:07d}", rnd.choice(owners)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def main(argv: list[str] | None = None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    parser.add_argument("--rerun", action="store_true", help="import the same file again (all updates)")
    parser.add_argument("--keep", action="store_true", help="keep the tenant (for a look afterwards)")
    args = parser.parse_args(argv)

    bl.django_setup()
    from django.db import connection
    from django_tenants.utils import schema_context

    from crm.customers import imports
    from crm.customers.models import Customer, ImportJob
    from crm.customers.tasks import customers_import_run_task
    from crm.org.models import User
    from tenants.services import tenant_create

    bl.banner(f"customer import ({args.rows:,} rows, CSV, batches of {imports.BATCH_SIZE})")
    bl.ensure_prerequisites()
    bl.cleanup(SLUG_PREFIX)
    slug = f"{SLUG_PREFIX}{bl.run_id()}"
    summary: list[str] = []
    try:
        tenant = tenant_create(name="Bench Import", slug=slug, mode="standard", admin_email=f"admin@{slug}.test",
                               admin_name="Bench Admin", admin_password=bl.BENCH_PASSWORD, demo=True,
                               demo_password=bl.BENCH_PASSWORD)
        if tenant.status != "active":
            raise RuntimeError(f"provisioning {slug} failed: {tenant.provisioning_error}")
        with schema_context(tenant.schema_name):
            admin = User.objects.get(email=f"admin@{slug}.test")
            owners = list(User.objects.filter(is_active=True).values_list("email", flat=True))
            with bl.Timer() as t:
                content = generate_csv(args.rows, owners)
            bl.say(f"generated {args.rows:,} rows ({len(content) / 1024 / 1024:.1f} MB) in {t.seconds:.1f} s")
            passes = ["first import (creates)"] + (["re-run of the same file (updates)"] if args.rerun else [])
            for label in passes:
                with bl.Timer() as t:
                    job = imports.import_job_create(actor=admin, file_name="bench.csv", content=content)
                dry = job.dry_run["summary"]
                bl.say(f"{label}: dry run {t.seconds:.1f} s ({args.rows / t.seconds:,.0f} rows/s): {dry}")
                ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
                with bl.Timer() as t:
                    customers_import_run_task.apply(args=[job.pk], headers={"_schema_name": tenant.schema_name})
                job.refresh_from_db()
                if job.status != "done":
                    raise RuntimeError(f"import ended {job.status}: {job.error}")
                rate = args.rows / t.seconds
                line = (f"import {args.rows:,} rows, {label}: {t.seconds:.1f} s, {rate:,.0f} rows/s "
                        f"(created {job.created_rows:,}, updated {job.updated_rows:,}, rejected {job.rejected_rows:,})")
                if args.rows >= TARGET_ROWS:
                    line += f"  target < {TARGET_SECONDS:.0f} s: {bl.verdict(t.seconds < TARGET_SECONDS)}"
                else:
                    projected = t.seconds * TARGET_ROWS / args.rows
                    line += f"  (projected for {TARGET_ROWS:,}: {projected:.0f} s)"
                summary.append(line)
                bl.say(line)
            bl.say(f"customers in the tenant: {Customer.objects.count():,}")
    finally:
        connection.set_schema_to_public()
        if not args.keep:
            bl.cleanup(SLUG_PREFIX)
    return summary


if __name__ == "__main__":
    main()
