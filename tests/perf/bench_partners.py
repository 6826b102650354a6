"""Partners benchmark: the partner portal's home (quota attainment, open orders, amounts due,
notices) for a partner admin and a partner sales user, the portal order list's first page, and a
partner order submitted with five lines; EXPLAIN of every list statement on the big tables.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_pbench REDIS_URL=redis://127.0.0.1:6379/10 \\
        .venv/bin/python tests/perf/bench_partners.py --partners 10000 --users 50000 --orders 1000000

Data: one bench tenant ``bench-prt`` (standard-product mode, schema t_bench_prt) with 40 channel
managers in four regions, business secretaries, finance; 200 products with stock and a
partner-tier price list per tier (platinum, gold, silver); ``--partners`` partners (each with
its customer record, a year, quarter and month quota and a contract), ``--users`` partner users
(the first of each partner its admin, the others partner sales; half of the partners let their
sales see everything), 20 notices, ``--orders`` partner orders with 3 to 5 lines each written
with COPY (secondary indexes dropped and rebuilt, FK triggers skipped) over two years, in the
lifecycle's proportions, created by the partner's users; one shipment per shipped order, one
invoice per invoiced, paid or closed order (half of the invoiced ones partly paid) and their
payments (INSERT ... SELECT). The tenant is reused
when it already has the requested size; --fresh regenerates; --drop removes it at the end.

Timings are wall-clock p50/p95 after a warm-up, the user loaded afresh for every call as a
request would:
  (a) portal home: the portal's home page (partner_portal's web view, rendered, without HTTP or
      middleware; else a home API view, else the services), for a partner admin and a partner
      sales user (sees own orders only); and the home data through the services it is made of
      (quota attainment, open orders, amounts due, notices) and the API's ``me``;
  (b) portal order list, first page: the portal's order list API view (DRF request, cursor
      page, serialisation) for the admin, a sales user, the admin filtered by status; and the
      web page /portal/orders/ (rendered);
  (c) partner order submit with five lines: partner_order_create(submit=True), a committed
      transaction (the partner-order approval opened at the channel manager's step; the
      notification tasks only queued).
Targets (issue 5): home and list p95 < 30 ms; submit p95 < 50 ms. A Seq Scan on the order,
shipment, invoice or payment tables (over 100,000 rows) in any plan of home or list is a failure.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG = "bench-prt"
HOME_TARGET = 0.030
LIST_TARGET = 0.030
SUBMIT_TARGET = 0.050
BIG_TABLES = ("orders_order", "orders_orderline", "finance_invoice", "finance_payment", "orders_shipment",
              "orders_shipmentline")
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CHANNEL_MANAGERS = 40
PRODUCTS = 200
REGIONS = ("华北", "华东", "华南", "西南")
TIERS = (("platinum", "0.20"), ("gold", "0.15"), ("silver", "0.10"))
STATUS_MIX = (("closed", 0.40), ("paid", 0.15), ("invoiced", 0.08), ("shipped", 0.12), ("partially_shipped", 0.03),
              ("approved", 0.07), ("in_approval", 0.03), ("draft", 0.06), ("cancelled", 0.06))
OPEN_STATUSES = ("draft", "submitted", "in_approval", "approved", "partially_shipped")
CENT = Decimal("0.01")


# -- the tenant ----------------------------------------------------------------------------------------
def tenant_get():
    return bl.bench_tenant_get(SLUG)


def tenant_make():
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from crm.catalog import services as catalog
    from crm.org.enums import SystemRole
    from crm.org.models import Department, Region
    from crm.org.services import department_create, region_create, staff_create
    from crm.partners.services import tiers_seed_defaults

    tenant = bl.bench_tenant_create(SLUG, "基准渠道数据有限公司")
    pw = make_password(bl.BENCH_PASSWORD)
    root_dept = Department.objects.filter(parent=None).first()
    root_region = Region.objects.get(parent=None)
    channel = department_create(actor=None, name="渠道部", parent_id=root_dept.pk)
    office = department_create(actor=None, name="商务部", parent_id=root_dept.pk)
    regions = [region_create(actor=None, name=name, parent_id=root_region.pk) for name in REGIONS]

    def person(email, name, role, dept, region):
        return staff_create(actor=None, email=f"{email}@{SLUG}.test", full_name=name, role_codes=[role],
                            department_id=dept, region_id=region, password_hash=pw)

    for i in range(3):
        person(f"secretary{i}", f"商务秘书{i}", SystemRole.BUSINESS_SECRETARY, office.pk, root_region.pk)
    for i in range(2):
        person(f"finance{i}", f"财务{i}", SystemRole.FINANCE, root_dept.pk, root_region.pk)
    person("exec", "总经理", SystemRole.EXECUTIVE, root_dept.pk, root_region.pk)
    for i in range(CHANNEL_MANAGERS):
        person(f"channel{i}", f"渠道经理{i}", SystemRole.CHANNEL_MANAGER, channel.pk, regions[i % len(regions)].pk)
    tiers_seed_defaults()
    warehouse = catalog.warehouse_create(actor=None, data={"code": "BENCH-WH", "name": "基准总仓"})
    catalog.catalog_settings_update(actor=None, default_warehouse_id=warehouse.pk)
    lists = {code: catalog.price_list_create(actor=None, data={"name": f"渠道{code}价", "kind": "partner_tier",
                                                                "code": code})
             for code, _discount in TIERS}
    for i in range(PRODUCTS):
        price = Decimal(200 + (i * 7919) % 40000)
        product = catalog.product_create(actor=None, data={
            "sku": f"BP-{i:04d}", "name": f"基准产品{i}号 GNSS 接收机", "unit": "台",
            "list_price": str(price), "tax_rate": "0.13" if i % 10 else "0.06"})
        catalog.stock_receive(actor=None, warehouse_id=warehouse.pk, product_id=product.pk, quantity="10000000")
        for code, discount in TIERS:
            catalog.price_list_item_add(actor=None, price_list_id=lists[code].pk, product_id=product.pk,
                                        unit_price=_money(price * (1 - Decimal(discount))))
    connection.set_schema_to_public()
    return tenant


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- the load ---------------------------------------------------------------------------------------------
def load(tenant, n_partners: int, n_users: int, n_orders: int, seed: int = 42) -> dict:
    """Replace the tenant's partners, partner users, partner orders and invoices with generated ones."""
    import bench_approvals as ba
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from crm.catalog.models import PriceListItem, Warehouse
    from crm.customers.models import Customer
    from crm.orders.models import Order, OrderLine
    from crm.partners.models import Partner, PartnerMember, PartnerNotice, PartnerQuota, PartnerTier

    rng = random.Random(seed)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    connection.set_tenant(tenant)
    schema = tenant.schema_name
    User = get_user_model()
    managers = list(User.objects.filter(email__startswith="channel").order_by("pk")
                    .values_list("pk", "department_id", "region_id"))
    tiers = {t.code: t.pk for t in PartnerTier.objects.all()}
    prices = {}  # tier code -> [(product id, sku, name, unit price, tax rate, unit)]
    for item in PriceListItem.objects.filter(price_list__kind="partner_tier").select_related("product", "price_list"):
        p = item.product
        prices.setdefault(item.price_list.code, []).append((p.pk, p.sku, p.name, item.unit_price, p.tax_rate, p.unit))
    warehouse_id = Warehouse.objects.get(code="BENCH-WH").pk
    tables = ("orders_orderline", "orders_orderevent", "orders_shipmentline", "orders_shipment", "orders_order")
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE finance_payment, finance_invoice, finance_financecounter, " + ", ".join(tables)
                       + ", orders_ordercounter, approvals_approvalassignment, approvals_approvalstep, "
                       "approvals_approvalrequest, partners_partnerquota, partners_partnernotice, "
                       "partners_dealregistration, partners_partnercustomer, partners_partnermember, "
                       "partners_partner_regions_served, partners_partner, orders_idempotencyrecord, "
                       "activities_notification, audit_auditentry CASCADE")
        cursor.execute("DELETE FROM authtoken_token WHERE user_id IN (SELECT id FROM org_user WHERE kind = 'partner')")
        cursor.execute("DELETE FROM org_user WHERE kind = 'partner'")
        cursor.execute("DELETE FROM customers_customer WHERE source = 'bench'")

    # partners, their customer records, users and quotas (bulk_create: tens of thousands of rows)
    started = time.perf_counter()
    tier_codes = [code for code, _d in TIERS]
    customers = []
    for i in range(n_partners):
        owner, dept, region = managers[i % len(managers)]
        customers.append(Customer(name=f"基准渠道伙伴{i:05d}有限公司", name_norm=f"基准渠道伙伴{i:05d}", owner_id=owner,
                                  department_id=dept, region_id=region, source="bench", stage="customer",
                                  level="B", last_activity_at=NOW))
    customers = Customer.objects.bulk_create(customers, batch_size=5000)
    partners = []
    for i, customer in enumerate(customers):
        owner, dept, region = managers[i % len(managers)]
        partners.append(Partner(
            code=f"P{i + 1:05d}", name=customer.name, short_name=f"伙伴{i:05d}", customer_id=customer.pk,
            tier_id=tiers[tier_codes[i % 3]], owner_id=owner, department_id=dept, region_id=region,
            credit_limit=Decimal(500000 + (i % 10) * 100000), payment_terms_days=30, sales_see_all=i % 2 == 0,
            contract_start=date(2026, 1, 1), contract_end=date(2026, 12, 31), status_changed_at=NOW))
    partners = Partner.objects.bulk_create(partners, batch_size=5000)
    timings["partners"] = time.perf_counter() - started
    started = time.perf_counter()
    pw = make_password(bl.BENCH_PASSWORD)
    per_partner = max(1, n_users // max(1, n_partners))
    users = []
    for i in range(n_users):
        partner = partners[i // per_partner] if i // per_partner < len(partners) else partners[i % len(partners)]
        users.append(User(email=f"p{partner.pk}-u{i}@{SLUG}.test", full_name=f"伙伴用户{i}", password=pw,
                          kind="partner", is_active=True, language=""))
    users = User.objects.bulk_create(users, batch_size=5000)
    members, users_of = [], {}
    for i, user in enumerate(users):
        partner = partners[i // per_partner] if i // per_partner < len(partners) else partners[i % len(partners)]
        role = "admin" if partner.pk not in users_of else "sales"
        users_of.setdefault(partner.pk, []).append(user.pk)
        members.append(PartnerMember(user_id=user.pk, partner_id=partner.pk, role=role))
    PartnerMember.objects.bulk_create(members, batch_size=5000)
    quotas = []
    for partner in partners:
        base = Decimal(1200000 + (partner.pk % 7) * 100000)
        quotas += [PartnerQuota(partner_id=partner.pk, period="year", period_start=date(2026, 1, 1),
                                period_end=date(2026, 12, 31), amount=base),
                   PartnerQuota(partner_id=partner.pk, period="quarter", period_start=date(2026, 10, 1),
                                period_end=date(2026, 12, 31), amount=base / 4),
                   PartnerQuota(partner_id=partner.pk, period="month", period_start=date(2026, 11, 1),
                                period_end=date(2026, 11, 30), amount=_money(base / 12))]
    PartnerQuota.objects.bulk_create(quotas, batch_size=5000)
    PartnerNotice.objects.bulk_create([
        PartnerNotice(title_zh=f"渠道公告 {i}", title_en=f"Notice {i}", body_zh="基准公告内容",
                      tiers=[] if i % 2 else [tier_codes[i % 3]], published_at=NOW - timedelta(days=i * 10),
                      is_active=True) for i in range(20)])
    timings["users, members, quotas"] = time.perf_counter() - started

    with connection.cursor() as cursor:
        rebuild = bl.indexes_drop_for_load(cursor, schema, ("orders_order", "orders_orderline"))
    connection.set_schema_to_public()

    order_columns = [f.column for f in Order._meta.concrete_fields]
    line_columns = [f.column for f in OrderLine._meta.concrete_fields]
    conns = bl.replica_connections(2, schema)
    orders = bl.Copier(conns[0], f'"{schema}".orders_order', order_columns)
    lines = bl.Copier(conns[1], f'"{schema}".orders_orderline', line_columns)
    start = NOW - timedelta(days=730)
    span = (NOW - start).total_seconds()
    statuses, weights = zip(*STATUS_MIX, strict=True)
    tier_of = {p.pk: tier_codes[i % 3] for i, p in enumerate(partners)}
    counters: dict[int, int] = {}
    line_id = 0
    started = time.perf_counter()
    T, N = ba._ts, "\\N"
    for oid in range(1, n_orders + 1):
        created = start + timedelta(seconds=span * (oid / n_orders) ** 0.9)
        status = rng.choices(statuses, weights)[0]
        if oid > n_orders * 0.99 and rng.random() < 0.5:
            status = rng.choice(("draft", "in_approval", "approved"))
        partner = partners[rng.randrange(len(partners))]
        creators = users_of.get(partner.pk) or [users[0].pk]
        # the admin places about a third of the orders, the sales users the rest
        creator = creators[0] if len(creators) == 1 or rng.random() < 0.33 else rng.choice(creators[1:])
        year = created.year
        counters[year] = counters.get(year, 0) + 1
        net_total = tax_total = Decimal("0.00")
        shipped_all = status in ("shipped", "invoiced", "paid", "closed")
        offer = prices[tier_of[partner.pk]]
        n_lines = rng.randint(3, 5)
        for position in range(1, n_lines + 1):
            line_id += 1
            pid, sku, name, price, rate, unit = offer[rng.randrange(len(offer))]
            qty = Decimal(rng.choice((1, 1, 2, 3, 5, 10)))
            net = _money(qty * price)
            tax = _money(net * rate)
            net_total += net
            tax_total += tax
            shipped = qty if shipped_all else (qty if status == "partially_shipped" and position <= 2 else 0)
            values = {"id": line_id, "order_id": oid, "position": position, "product_id": pid, "sku": sku,
                      "product_name": name, "spec": "", "unit": unit, "warehouse_id": warehouse_id, "quantity": qty,
                      "unit_price": price, "price_source": "渠道价格表", "price_manual": "f", "discount_pct": 0,
                      "tax_rate": rate, "net_amount": net, "tax_amount": tax, "gross_amount": net + tax,
                      "shipped_quantity": shipped}
            lines.row([str(values[c]) for c in line_columns])
        submitted = created + timedelta(minutes=rng.randint(1, 600)) if status != "draft" else None
        approved = (submitted + timedelta(hours=rng.randint(1, 48))
                    if status not in ("draft", "in_approval", "cancelled") else None)
        shipped_at = approved + timedelta(days=rng.randint(1, 10)) if approved and shipped_all else None
        invoiced = shipped_at + timedelta(days=2) if shipped_at and status in ("invoiced", "paid", "closed") else None
        paid = invoiced + timedelta(days=30) if invoiced and status in ("paid", "closed") else None
        closed = paid + timedelta(days=1) if paid and status == "closed" else None
        cancelled = created + timedelta(days=1) if status == "cancelled" else None
        values = {
            "id": oid, "number": f"SO{year}-{counters[year]:06d}", "customer_id": partner.customer_id,
            "partner_id": partner.pk, "submitted_via": "portal", "status": status, "owner_id": partner.owner_id,
            "department_id": partner.department_id, "region_id": partner.region_id,
            "currency": "CNY", "price_level": "", "warehouse_id": N, "delivery_address": "基准路 1 号",
            "delivery_contact": "", "delivery_phone": "", "delivery_date": N, "payment_terms_days": 30, "notes": "",
            "net_total": net_total, "tax_total": tax_total, "total": net_total + tax_total,
            "max_discount_pct": 0, "line_count": n_lines,
            "stock_state": {"approved": "reserved", "partially_shipped": "reserved"}.get(
                status, "consumed" if shipped_all else "none"),
            "stock_note": "", "rejection_note": "", "cancel_reason": "", "created_by_id": creator,
            "submitted_by_id": creator if submitted else N, "created_at": T(created),
            "updated_at": T(closed or paid or invoiced or shipped_at or approved or submitted or cancelled or created),
            "submitted_at": T(submitted), "approved_at": T(approved), "rejected_at": N, "shipped_at": T(shipped_at),
            "invoiced_at": T(invoiced), "paid_at": T(paid), "closed_at": T(closed), "cancelled_at": T(cancelled),
            "version": 1 + sum(x is not None for x in (submitted, approved, shipped_at, invoiced, paid, closed))}
        orders.row([str(values[c]) for c in order_columns])
    for copier in (orders, lines):
        copier.close()
    for c in conns:
        c.commit()
        c.close()
    timings["COPY orders"] = time.perf_counter() - started
    connection.set_tenant(tenant)
    with connection.cursor() as cursor:
        for table in ("orders_order", "orders_orderline"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{schema}\".{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 1) FROM \"{schema}\".{table}))")
        for year, last in counters.items():
            cursor.execute("INSERT INTO orders_ordercounter (year, last) VALUES (%s, %s) "
                           "ON CONFLICT (year) DO UPDATE SET last = EXCLUDED.last", [year, last])
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET max_parallel_maintenance_workers = 1")
        for definition in rebuild:
            cursor.execute(definition)
        timings["indexes rebuilt"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("""
            INSERT INTO finance_invoice (number, order_id, customer_id, owner_id, department_id, region_id, kind,
                tax_number, buyer_name, buyer_tax_id, currency, net_amount, tax_amount, total, paid_amount, status,
                issued_on, due_on, settled_on, note, void_reason, voided_at, voided_by_id, last_reminded_on,
                created_by_id, created_at, updated_at, version)
            SELECT 'INV' || extract(year FROM o.shipped_at)::int || '-' || lpad(o.id::text, 7, '0'), o.id,
                o.customer_id, o.owner_id, o.department_id, o.region_id, 'vat_special', '', '基准渠道伙伴', '',
                o.currency, o.net_total, o.tax_total, o.total,
                CASE WHEN o.status IN ('paid', 'closed') THEN o.total
                     WHEN o.id % 2 = 0 THEN round(o.total / 2, 2) ELSE 0 END,
                CASE WHEN o.status IN ('paid', 'closed') THEN 'paid'
                     WHEN o.id % 2 = 0 THEN 'partially_paid' ELSE 'open' END,
                (o.shipped_at AT TIME ZONE 'Asia/Shanghai')::date + 1,
                (o.shipped_at AT TIME ZONE 'Asia/Shanghai')::date + 31,
                CASE WHEN o.status IN ('paid', 'closed') THEN (o.paid_at AT TIME ZONE 'Asia/Shanghai')::date END,
                '', '', NULL, NULL, NULL, NULL, o.shipped_at, o.shipped_at, 1
            FROM orders_order o
            WHERE o.status IN ('invoiced', 'paid', 'closed') AND o.shipped_at IS NOT NULL AND o.total > 0""")
        timings["invoices"] = time.perf_counter() - started
    connection.set_schema_to_public()
    timings.update(load_fulfilment(tenant))
    connection.set_tenant(tenant)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + ", ".join(f'"{schema}".{t}' for t in (
            *BIG_TABLES, "customers_customer", "org_user", "partners_partner", "partners_partnermember",
            "partners_partnerquota")))
    timings["vacuum analyze"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:  # write the load out now, not during the timed commits
        try:
            cursor.execute("CHECKPOINT")
        except Exception:  # not a superuser: the timings may include a checkpoint's writes
            pass
    timings["checkpoint"] = time.perf_counter() - started
    timings["total"] = time.perf_counter() - t0
    connection.set_schema_to_public()
    return timings


def load_fulfilment(tenant) -> dict[str, float]:
    """One shipment (all lines) per shipped, invoiced, paid or closed order and one payment per
    paid or partly paid invoice, with INSERT ... SELECT (what quota attainment sums besides the
    approved orders)."""
    from django.db import connection

    timings: dict[str, float] = {}
    connection.set_tenant(tenant)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_shipmentline, orders_shipment, finance_payment")
        cursor.execute("SELECT id FROM catalog_warehouse WHERE code = 'BENCH-WH'")
        warehouse_id = cursor.fetchone()[0]
        cursor.execute("""
            INSERT INTO orders_shipment (order_id, number, external_id, warehouse_id, carrier, tracking_number,
                shipped_at, note, created_by_id, created_at)
            SELECT o.id, 'DN' || o.id, 'DN' || o.id, %s, '顺丰速运', 'SF' || o.id, o.shipped_at, '', NULL, o.shipped_at
            FROM orders_order o WHERE o.shipped_at IS NOT NULL""", [warehouse_id])
        cursor.execute("""
            INSERT INTO orders_shipmentline (shipment_id, order_line_id, quantity)
            SELECT s.id, l.id, l.shipped_quantity FROM orders_shipment s
            JOIN orders_orderline l ON l.order_id = s.order_id WHERE l.shipped_quantity > 0""")
        timings["shipments"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("""
            INSERT INTO finance_payment (number, invoice_id, order_id, customer_id, owner_id, department_id,
                region_id, amount, currency, received_on, method, reference, note, source, external_id,
                recorded_by_id, void_reason, voided_at, voided_by_id, created_at, updated_at, version)
            SELECT 'PAY' || extract(year FROM i.issued_on)::int || '-' || lpad(i.id::text, 7, '0'), i.id, i.order_id,
                i.customer_id, i.owner_id, i.department_id, i.region_id, i.paid_amount, i.currency,
                coalesce(i.settled_on, i.issued_on + 10), 'bank_transfer', '', '', 'staff', NULL, NULL, '', NULL,
                NULL, i.created_at, i.created_at, 1
            FROM finance_invoice i WHERE i.paid_amount > 0""")
        timings["payments"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("VACUUM ANALYZE orders_shipment, orders_shipmentline, finance_payment")
        timings["vacuum analyze (fulfilment)"] = time.perf_counter() - started
    connection.set_schema_to_public()
    return timings


def counts(tenant) -> dict[str, int]:
    from django.db import connection

    s = tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT (SELECT count(*) FROM "{s}".partners_partner), '
                       f'(SELECT count(*) FROM "{s}".partners_partnermember), '
                       f'(SELECT count(*) FROM "{s}".orders_order WHERE partner_id IS NOT NULL), '
                       f'(SELECT count(*) FROM "{s}".orders_orderline), (SELECT count(*) FROM "{s}".finance_invoice), '
                       f'(SELECT count(*) FROM "{s}".orders_shipment), (SELECT count(*) FROM "{s}".finance_payment)')
        row = cursor.fetchone()
    return dict(zip(("partners", "partner users", "partner orders", "order lines", "invoices", "shipments",
                     "payments"), row, strict=True))


def ensure(n_partners: int, n_users: int, n_orders: int, *, fresh: bool = False, seed: int = 42):
    from django.core.management import call_command

    bl.ensure_prerequisites()
    tenant = tenant_get()
    if tenant is not None:
        call_command("migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0)
        have = counts(tenant)
        if (not fresh and have["partners"] == n_partners and have["partner users"] == n_users
                and n_orders <= have["partner orders"] <= n_orders * 1.01):
            bl.say(f"reusing tenant {SLUG}: " + ", ".join(f"{v:,} {k}" for k, v in have.items()))
            if not have["shipments"] and have["invoices"]:  # made before shipments were generated
                timings = load_fulfilment(tenant)
                bl.say("  " + ", ".join(f"{k} {bl.fmt_s(v)}" for k, v in timings.items()))
            return tenant
    if tenant is None:
        tenant = tenant_make()
    bl.say(f"generating {n_partners:,} partners, {n_users:,} partner users, {n_orders:,} partner orders "
           f"(3-5 lines each) into {SLUG} ...")
    timings = load(tenant, n_partners, n_users, n_orders, seed=seed)
    bl.say("  " + ", ".join(f"{k} {bl.fmt_s(v)}" for k, v in timings.items()))
    return tenant


# -- timing -------------------------------------------------------------------------------------------------
fmt = bl.fmt_p  # shared by the benchmarks (benchlib)


def plans_of(fn) -> tuple[list[str], bool]:
    """Run ``fn`` once and EXPLAIN every SELECT it issued on the big tables."""
    return bl.select_plans(fn, BIG_TABLES)


def portal_api_view(path: str):
    """The view a portal API path resolves to on a tenant host, or None while the portal lacks it."""
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path, urlconf="config.urls_tenant")
    except (Resolver404, ImportError):  # ImportError: the portal's URLs are half-written
        return None
    return match


def main(argv=None) -> list[str]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=500)
    parser.add_argument("--users", type=int, default=2500)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=60, help="timed runs per case")
    parser.add_argument("--submits", type=int, default=100, help="partner orders to create and submit (committed)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the data")
    parser.add_argument("--drop", action="store_true", help="remove the bench tenant at the end")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    bl.django_setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Count
    from django.test import RequestFactory
    from rest_framework.test import APIRequestFactory, force_authenticate

    settings.DEBUG = False
    from crm.approvals import tasks as approval_tasks
    from crm.catalog.selectors import tier_offer
    from crm.finance.selectors import unscoped_outstanding_of_customer
    from crm.orders import partner as portal_orders
    from crm.orders import tasks as order_tasks
    from crm.orders.models import Order
    from crm.partners.models import PartnerMember
    from crm.partners.notices import notices_for_partner
    from crm.partners.selectors import portal_member_active

    size = f"{args.partners:,} partners, {args.users:,} partner users, {args.orders:,} partner orders"
    bl.banner(f"partners: {size}")
    started = time.perf_counter()
    tenant = ensure(args.partners, args.users, args.orders, fresh=args.fresh, seed=args.seed)
    setup_seconds = time.perf_counter() - started
    connection.set_tenant(tenant)
    have = counts(tenant)
    bl.say("  " + ", ".join(f"{v:,} {k}" for k, v in have.items()))
    rng = random.Random(args.seed)
    results: list[tuple[str, list[float], float | None]] = []
    plans: dict[str, tuple[list[str], bool]] = {}
    notes: list[str] = []
    queued: list = []
    stubs = {}
    for module, name in ((approval_tasks, "approvals_notify_pending_task"),
                         (approval_tasks, "approvals_notify_result_task"), (order_tasks, "orders_notify_task")):
        if hasattr(module, name):
            stubs[(module, name)] = getattr(module, name).apply_async
    try:
        for (module, name) in stubs:
            getattr(module, name).apply_async = lambda *a, **k: queued.append(k)
        User = get_user_model()
        # a partner whose sales see only their own orders (odd position: sales_see_all off)
        member = (PartnerMember.objects.filter(role="sales", partner__sales_see_all=False, partner__status="active")
                  .order_by("partner_id").select_related("partner")[args.partners // 2 + 1 if args.partners > 2 else 0])
        partner = member.partner
        admin = User.objects.get(pk=PartnerMember.objects.get(partner=partner, role="admin").user_id)
        sales = User.objects.get(pk=member.user_id)
        factory = APIRequestFactory()

        def fresh(user):
            return User.objects.get(pk=user.pk)

        try:
            from crm.partners import quotas  # quota attainment (may not exist yet)
        except ImportError:
            quotas = None

        def home_data(user):
            """What the portal home shows, through the services it is made of."""
            user = fresh(user)
            m = portal_member_active(user)
            assert m is not None
            out = {}
            if quotas is not None and hasattr(quotas, "quota_current_for_partner"):
                out["quota"] = quotas.quota_current_for_partner(partner_id=m.partner_id)
            visible = portal_orders.partner_orders_visible_to(actor=user)
            out["open"] = list(visible.filter(status__in=OPEN_STATUSES).order_by("-created_at", "-id")
                               .values("id", "number", "status", "total", "created_at")[:5])
            out["open_count"] = visible.filter(status__in=OPEN_STATUSES).count()
            out["due"] = unscoped_outstanding_of_customer(customer_id=m.partner.customer_id)
            out["notices"] = notices_for_partner(partner=m.partner, limit=5)
            return out

        page_factory = RequestFactory()

        def page(match, path, user, query=""):
            """A portal web page through its view (no HTTP, no middleware; rendered)."""
            request = page_factory.get(path + query, HTTP_HOST=f"{SLUG}.localhost")
            request.user = fresh(user)
            request.session = {}
            response = match.func(request, *match.args, **match.kwargs)
            assert response.status_code == 200, (path, response.status_code)
            return response

        home_match = portal_api_view("/api/v1/portal/home") or portal_api_view("/api/v1/portal/home/")
        home_page = portal_api_view("/portal/")
        orders_page = portal_api_view("/portal/orders/")
        me_match = portal_api_view("/api/v1/portal/me") or portal_api_view("/api/v1/portal/me/")
        list_match = portal_api_view("/api/v1/portal/orders/") or portal_api_view("/api/v1/portal/orders")

        def call(match, path, user, query=""):
            request = factory.get(path + query, HTTP_HOST=f"{SLUG}.localhost")
            force_authenticate(request, user=fresh(user))
            response = match.func(request, *match.args, **match.kwargs)
            assert response.status_code == 200, (path, response.status_code, getattr(response, "data", None))
            if hasattr(response, "render"):
                response.render()
            return response

        if home_page is not None:
            how = "the portal's home page (web view, rendered: quotas, open orders, statement, notices)"

            def home(user):
                page(home_page, "/portal/", user)
        elif home_match is not None:
            how = "the portal's home API view" + (" + me" if me_match is not None else "")

            def home(user):
                call(home_match, "/api/v1/portal/home", user)
                if me_match is not None:
                    call(me_match, "/api/v1/portal/me", user)
        else:
            how = ("the home data through the services (partner_portal has no home API view yet"
                   + ("" if quotas is not None else "; crm.partners.quotas not present: no quota attainment") + ")")
            home = home_data
        notes.append(f"home measured as {how}")
        bl.banner(f"(a) portal home: {how}")
        for label, user in (("partner admin", admin), ("partner sales (own orders)", sales)):
            times = bl.timed(lambda _s, user=user: home(user), [None], args.repeat)
            bl.say(f"  {label:<34} {fmt(times, HOME_TARGET)}")
            results.append((f"home {label}", times, HOME_TARGET))
            plans[f"home {label}"] = plans_of(lambda user=user: home(user))
        if home is not home_data:
            for label, user in (("partner admin", admin), ("partner sales (own orders)", sales)):
                times = bl.timed(lambda _s, user=user: home_data(user), [None], args.repeat)
                bl.say(f"  {'home data via services: ' + label:<34} {fmt(times, None)}")
                results.append((f"home data (services) {label}", times, None))
            if me_match is not None:
                times = bl.timed(lambda _s: call(me_match, "/api/v1/portal/me", admin), [None], args.repeat)
                bl.say(f"  {'API me (partner admin)':<34} {fmt(times, None)}")
                results.append(("API me (partner admin)", times, None))

        # -- (b) the order list -------------------------------------------------------------------------
        if list_match is not None:
            how = "the portal's order list API view"

            def listing(user, query=""):
                call(list_match, "/api/v1/portal/orders/", user, query)
        else:
            how = "partner_order_list, first 50 rows (partner_portal has no order list API view yet)"

            def listing(user, query=""):
                status = query.split("status=", 1)[1] if "status=" in query else ""
                qs = portal_orders.partner_order_list(actor=fresh(user), status=status)
                return list(qs.values("id", "number", "status", "total", "currency", "line_count", "created_at",
                                      "submitted_at", "delivery_date")[:50])
        notes.append(f"list measured as {how}" + (" and the web page /portal/orders/" if orders_page else ""))
        bl.banner(f"(b) portal order list, first page: {how}")
        for label, user, query in (("partner admin", admin, ""), ("partner sales (own orders)", sales, ""),
                                   ("partner admin: status=shipped", admin, "?status=shipped"),
                                   ("partner admin: status=in_approval", admin, "?status=in_approval")):
            times = bl.timed(lambda _s, user=user, query=query: listing(user, query), [None], args.repeat)
            bl.say(f"  {label:<34} {fmt(times, LIST_TARGET)}")
            results.append((f"list {label}", times, LIST_TARGET))
            plans[f"list {label}"] = plans_of(lambda user=user, query=query: listing(user, query))
        if orders_page is not None:
            for label, user in (("web page: partner admin", admin), ("web page: partner sales", sales)):
                times = bl.timed(lambda _s, user=user: page(orders_page, "/portal/orders/", user), [None],
                                 args.repeat)
                bl.say(f"  {label:<34} {fmt(times, LIST_TARGET)}")
                results.append((f"list {label}", times, LIST_TARGET))
                plans[f"list {label}"] = plans_of(lambda user=user: page(orders_page, "/portal/orders/", user))

        # -- (c) submit ---------------------------------------------------------------------------------
        bl.banner(f"(c) partner order create + submit, five lines, {args.submits} committed transactions")
        submitters = list(PartnerMember.objects.filter(partner__status="active").order_by("partner_id", "id")
                          .values_list("user_id", "partner__tier__code")[: max(50, args.submits) * 5: 5])
        offers = {}
        times, made = [], []
        for i in range(args.submits + 3):
            user_id, tier = submitters[i % len(submitters)]
            if tier not in offers:
                offers[tier] = sorted(tier_offer(tier_code=tier))
            # cheap products keep most orders under the credit limit and the finance threshold
            lines = [{"product_id": pid, "quantity": "1"} for pid in rng.sample(offers[tier][:60], 5)]
            user = User.objects.get(pk=user_id)  # fresh, as each request loads it
            t = time.perf_counter()
            order = portal_orders.partner_order_create(actor=user, data={"lines": lines, "notes": "基准下单"},
                                                       submit=True)
            elapsed = time.perf_counter() - t
            if i >= 3:
                times.append(elapsed)
            made.append(order.pk)
        bl.say(f"  {'create + submit (5 lines)':<34} {fmt(times, SUBMIT_TARGET)}")
        results.append(("submit (create + submit, 5 lines)", times, SUBMIT_TARGET))
        states = dict(Order.objects.filter(pk__in=made).values("status").annotate(n=Count("id"))
                      .values_list("status", "n"))
        bl.say(f"  the {len(made)} orders: {states}; {len(queued)} notification tasks queued")

        bl.banner("EXPLAIN: plan node types of every list statement on the big tables")
        for key, (lines, bad) in plans.items():
            bl.say(f"  {key}{'  <-- SEQ SCAN' if bad else ''}")
            for plan_line in lines:
                bl.say(f"      {plan_line}")
    finally:
        for (module, name), original in stubs.items():
            getattr(module, name).apply_async = original
        connection.set_schema_to_public()
        if args.drop:
            bl.cleanup(SLUG, quiet=True)
            bl.say(f"dropped tenant {SLUG}")

    seq_bad = [k for k, (_lines, bad) in plans.items() if bad]
    summary = [f"partners ({size}; bench_partners.py --partners {args.partners} --users {args.users} "
               f"--orders {args.orders})",
               "  data: " + ", ".join(f"{v:,} {k}" for k, v in have.items()) + f"; ready in {bl.fmt_s(setup_seconds)}"]
    summary += [f"  {note}" for note in notes]
    for key, times, target in results:
        line = f"  {key:<40} p50 {bl.fmt_ms(bl.percentile(times, 50))}, p95 {bl.fmt_ms(bl.percentile(times, 95))}"
        if target:
            line += f" (target {bl.fmt_ms(target)}): {bl.verdict(bl.percentile(times, 95) < target)}"
        summary.append(line)
    summary.append(f"  EXPLAIN: {len(plans)} cases, seq scans on the big tables: "
                   + (", ".join(seq_bad) if seq_bad else "none") + (" NOT MET" if seq_bad else ""))
    if args.orders < 1_000_000:
        summary.append("  full scale (issue 5): .venv/bin/python tests/perf/bench_partners.py --partners 10000 "
                       "--users 50000 --orders 1000000")
    bl.banner("partners summary")
    for line in summary:
        bl.say(line)
    return summary


if __name__ == "__main__":
    lines = main()
    sys.exit(1 if any("NOT MET" in line for line in lines) else 0)
