"""Write side of the sales facts (crm.analytics.models).

``sales_fact_record`` is called by the apps that own the business records, inside their
transaction: crm.orders when an order is approved (and, reversed, when an approved order is
cancelled) and when a shipment is made; crm.finance when a payment is received (and, reversed,
voided). It adds to the daily and the monthly row of the fact's key in one statement (INSERT ...
ON CONFLICT DO UPDATE), so the fact commits or rolls back with the business change, and after
the commit bumps the tenant's facts version in Redis: the dashboards that poll see that
something moved and fetch their figures again.

``sales_facts_rebuild`` recomputes the facts from the base tables (backfill, drift repair):
orders by the day approved (cancelled ones not counted: their cancellation reversed them on
that day), shipments by their day with the value rule of ``calc.shipped_value``, payments
through crm.finance's selectors when that app is installed (until then the recorded
collection facts are kept as they are). It takes a lock that makes concurrent fact writers wait
until it commits, so a fact is never lost between the recomputation and a business change.
Days are the tenant's calendar days (the current time zone, Asia/Shanghai by default)."""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal, InvalidOperation

from django.apps import apps
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_record
from crm.inputs import clean_currency

from .calc import SHIPPED_VALUE_SQL, money
from .enums import FactKind
from .models import DailySalesFact, FactRebuild, MonthlySalesFact

log = logging.getLogger(__name__)

VERSION_KEY = "analytics:facts-version"
MAX_AMOUNT = Decimal("9999999999999999.99")


# -- the version the dashboards poll ---------------------------------------------------------------
def _version_client(key: str):
    return cache._cache.get_client(key, write=True)


def facts_version() -> int | None:
    """The tenant's facts version: bumped after every commit that changed a fact. 0 when
    nothing was recorded since Redis started; None when Redis does not answer (the pages then
    fetch their figures every time they ask)."""
    key = cache.make_key(VERSION_KEY)  # carries the schema name (django-tenants' key function)
    try:
        raw = _version_client(key).get(key)
    except Exception:  # noqa: BLE001 - Redis down: no version, never an error of the page
        log.warning("analytics: facts version unavailable (Redis)", exc_info=True)
        return None
    return int(raw) if raw is not None else 0


def _bump_after_commit() -> None:
    key = cache.make_key(VERSION_KEY)  # now, in the tenant's schema, not when the callback runs

    def bump():
        try:
            _version_client(key).incr(key)
        except Exception:  # noqa: BLE001 - the facts committed; pollers will catch up later
            log.warning("analytics: could not bump the facts version", exc_info=True)

    transaction.on_commit(bump, robust=True)


# -- recording -------------------------------------------------------------------------------------------
def _day(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    if isinstance(value, datetime.date):
        return value
    raise ValidationError({"day": _("日期无效。")})


def _optional_id(value, field: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({field: _("编号无效。")})
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: _("编号无效。")}) from None
    if number <= 0:
        raise ValidationError({field: _("编号无效。")})
    return number


def _tables() -> tuple[str, str]:
    quote = connection.ops.quote_name
    return quote(DailySalesFact._meta.db_table), quote(MonthlySalesFact._meta.db_table)


_KEY = "kind, owner_id, department_id, region_id, currency"


def sales_fact_record(*, kind: str, day: datetime.date, owner_id: int | None, department_id: int | None,
                      region_id: int | None, currency: str, amount: Decimal, count: int = 1) -> None:
    """Add ``amount`` and ``count`` to the fact of ``kind`` on ``day`` for the owner,
    department, region and currency (a negative amount/count reverses: an approved order
    cancelled, a payment voided, on the day of what it reverses). Call it inside the
    transaction of the business change; the dashboards learn of it after the commit.

    ``kind``: a ``FactKind`` ("order", "shipment", "collection"); ``day``: the tenant's
    calendar day (an aware datetime is turned into one); ``amount``: at most two decimals.

    Call it last in the transaction, after the other locks it takes: a rebuild waiting for
    the fact tables holds back new fact writers, and one that still had locks to take could
    meet another writer in a deadlock."""
    if kind not in FactKind.values:
        raise ValidationError({"kind": _("类型只能是 %(choices)s。") % {"choices": ", ".join(FactKind.values)}})
    day = _day(day)
    owner_id = _optional_id(owner_id, "owner_id")
    department_id = _optional_id(department_id, "department_id")
    region_id = _optional_id(region_id, "region_id")
    currency = clean_currency(currency)
    try:
        amount = Decimal(amount) if not isinstance(amount, Decimal) else amount
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")) or abs(amount) > MAX_AMOUNT:
            raise InvalidOperation
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"amount": _("金额必须是最多两位小数的数字。")}) from None
    if isinstance(count, bool) or not isinstance(count, int):
        raise ValidationError({"count": _("笔数必须是整数。")})
    if amount == 0 and count == 0:
        return
    daily, monthly = _tables()
    month = day.replace(day=1)
    values = [kind, owner_id, department_id, region_id, currency, amount, count]
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One statement, two rows: the day's and the month's (the monthly serves long ranges).
        cursor.execute(
            f"WITH d AS (INSERT INTO {daily} (day, {_KEY}, amount, count, updated_at) "  # noqa: S608 (our tables)
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now()) "
            f"ON CONFLICT (day, {_KEY}) DO UPDATE SET amount = {daily}.amount + EXCLUDED.amount, "
            f"count = {daily}.count + EXCLUDED.count, updated_at = EXCLUDED.updated_at) "
            f"INSERT INTO {monthly} (month, {_KEY}, amount, count, updated_at) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now()) "
            f"ON CONFLICT (month, {_KEY}) DO UPDATE SET amount = {monthly}.amount + EXCLUDED.amount, "
            f"count = {monthly}.count + EXCLUDED.count, updated_at = EXCLUDED.updated_at",
            [day, *values, month, *values])
        if amount < 0 or count < 0:  # a reversal may leave nothing: drop the empty rows (as a rebuild would)
            key = "kind = %s AND owner_id IS NOT DISTINCT FROM %s AND department_id IS NOT DISTINCT FROM %s " \
                  "AND region_id IS NOT DISTINCT FROM %s AND currency = %s AND amount = 0 AND count = 0"
            cursor.execute(f"DELETE FROM {daily} WHERE day = %s AND {key}", [day, *values[:5]])  # noqa: S608
            cursor.execute(f"DELETE FROM {monthly} WHERE month = %s AND {key}", [month, *values[:5]])  # noqa: S608
    _bump_after_commit()


# -- rebuilding from the base tables -------------------------------------------------------------------
def _summary(since: datetime.date | None, kinds: list[str]) -> dict:
    qs = DailySalesFact.objects.filter(kind__in=kinds)
    if since is not None:
        qs = qs.filter(day__gte=since)
    out = {k: {"rows": 0, "amount": "0.00", "count": 0} for k in kinds}
    for row in qs.order_by().values("kind").annotate(rows=Count("id"), amount=Sum("amount"), n=Sum("count")):
        out[row["kind"]] = {"rows": row["rows"], "amount": str(money(row["amount"] or 0)), "count": row["n"] or 0}
    return out


_SCRATCH = "analytics_rebuild_scratch"
# the key of a fact row, NULL ids compared as 0 (hash-joinable, unlike IS NOT DISTINCT FROM)
_SAME_KEY = ("{a}.kind = {b}.kind AND {a}.currency = {b}.currency "
             "AND coalesce({a}.owner_id, 0) = coalesce({b}.owner_id, 0) "
             "AND coalesce({a}.department_id, 0) = coalesce({b}.department_id, 0) "
             "AND coalesce({a}.region_id, 0) = coalesce({b}.region_id, 0)")


def _merge(cursor, table: str, date_column: str, since: datetime.date | None, kinds: list[str]) -> dict:
    """Make ``table``'s rows of ``kinds`` (from ``since`` on) those of the scratch table:
    delete the rows it lacks, correct those that differ, add the missing ones. Returns how
    many rows each step wrote."""
    same = _SAME_KEY.format(a="t", b="f") + f" AND t.{date_column} = f.day"
    scope = "t.kind = ANY(%s)" + (f" AND t.{date_column} >= %s" if since else "")
    params = [kinds, *([since] if since else [])]
    cursor.execute(f"DELETE FROM {table} t WHERE {scope} "  # noqa: S608
                   f"AND NOT EXISTS (SELECT 1 FROM {_SCRATCH} f WHERE {same})", params)
    deleted = cursor.rowcount
    cursor.execute(f"UPDATE {table} t SET amount = f.amount, count = f.count, updated_at = now() "  # noqa: S608
                   f"FROM {_SCRATCH} f WHERE {same} AND (t.amount <> f.amount OR t.count <> f.count)")
    updated = cursor.rowcount
    cursor.execute(f"INSERT INTO {table} ({date_column}, {_KEY}, amount, count, updated_at) "  # noqa: S608
                   f"SELECT f.day, f.kind, f.owner_id, f.department_id, f.region_id, f.currency, f.amount, f.count, "
                   f"now() FROM {_SCRATCH} f WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {same})")
    return {"deleted": deleted, "updated": updated, "inserted": cursor.rowcount}


def _finance_payment_rows(since: datetime.date | None) -> list[tuple] | None:
    """Live payments per (received day, owner, department, region, currency): amount and
    count, from crm.finance's selector; None while crm.finance is not installed."""
    if not apps.is_installed("crm.finance"):
        return None
    from crm.finance.selectors import unscoped_payment_facts  # the finance app's read side

    rows = []
    for row in unscoped_payment_facts(since):
        if isinstance(row, dict):
            day = row.get("received_on", row.get("day"))
            amount = row.get("amount", row.get("total"))
            count = row.get("count", row.get("n", 0))
            key = (row.get("owner_id"), row.get("department_id"), row.get("region_id"), row.get("currency"))
        else:
            day, *rest = row
            key, amount, count = tuple(rest[:4]), rest[4], rest[5]
        if amount is None or (not amount and not count):
            continue
        rows.append((_day(day), *key, money(Decimal(amount)), int(count or 0)))
    return rows


def _since_start(since: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(since, datetime.time.min))


def sales_facts_rebuild(*, since: datetime.date | None = None, actor=None) -> FactRebuild:
    """Recompute the facts (every day, or the days from ``since`` on) from the base tables:

    * order: orders approved on the day and not cancelled since, their total;
    * shipment: shipments of the day, the value of their lines (``calc.shipped_value``);
    * collection: live payments by the day received, through crm.finance's selectors when
      that app is installed; otherwise the recorded collection facts stay as they are.

    The monthly rows of the months touched are summed again from the daily ones. Concurrent
    fact writers wait for the commit (a table lock that only they and other rebuilds take), so
    nothing recorded meanwhile is lost or counted twice. Returns the run's record (before and
    after per kind), audited."""
    from crm.orders.models import (  # read only, for their tables
        Order,
        OrderLine,
        Shipment,
        ShipmentLine,
    )

    if since is not None and not isinstance(since, datetime.date):
        raise ValidationError({"since": _("起始日期应为日期，格式 YYYY-MM-DD。")})
    if isinstance(since, datetime.datetime):
        since = _day(since)
    quote = connection.ops.quote_name
    daily, monthly = _tables()
    tz = timezone.get_current_timezone_name()
    payments = _finance_payment_rows(since)
    kinds = [FactKind.ORDER.value, FactKind.SHIPMENT.value] + ([FactKind.COLLECTION.value] if payments is not None
                                                                 else [])
    orders, order_lines = quote(Order._meta.db_table), quote(OrderLine._meta.db_table)
    shipments, shipment_lines = quote(Shipment._meta.db_table), quote(ShipmentLine._meta.db_table)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Writers of facts take ROW EXCLUSIVE; this waits for those in flight and holds new
            # ones until the commit. Readers (the dashboards) are not blocked.
            cursor.execute(f"LOCK TABLE {daily}, {monthly} IN SHARE ROW EXCLUSIVE MODE")
        run = FactRebuild.objects.create(since=since, kinds=kinds, actor=actor if getattr(actor, "pk", None) else None)
        run.before = _summary(since, kinds)
        start = [_since_start(since)] if since else []
        with connection.cursor() as cursor:
            # What the facts should be, into a scratch table; then only the rows that differ are
            # written (a repair that finds no drift writes nothing).
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {_SCRATCH} (day date, kind varchar(12), "
                           f"owner_id bigint, department_id bigint, region_id bigint, currency varchar(3), "
                           f"amount numeric(18, 2), count integer) ON COMMIT DROP")
            cursor.execute(f"TRUNCATE {_SCRATCH}")  # a second rebuild in the same transaction
            cursor.execute(
                f"INSERT INTO {_SCRATCH} SELECT (o.approved_at AT TIME ZONE %s)::date, '{FactKind.ORDER.value}', "  # noqa: S608
                f"o.owner_id, o.department_id, o.region_id, o.currency, sum(o.total), count(*) FROM {orders} o "
                f"WHERE o.approved_at IS NOT NULL AND o.status <> 'cancelled'"
                f"{' AND o.approved_at >= %s' if since else ''} GROUP BY 1, 3, 4, 5, 6", [tz, *start])
            # Each shipment line's value needs the quantity of the line shipped before it (also
            # by shipments before ``since``): only the lines shipped since are read.
            recent = "" if since is None else (
                f" WHERE x.order_line_id IN (SELECT y.order_line_id FROM {shipment_lines} y JOIN {shipments} z "
                f"ON z.id = y.shipment_id WHERE z.shipped_at >= %s)")
            cursor.execute(
                f"INSERT INTO {_SCRATCH} SELECT v.day, '{FactKind.SHIPMENT.value}', o.owner_id, o.department_id, "  # noqa: S608
                f"o.region_id, o.currency, sum(v.value), count(*) FROM ("
                f"  SELECT s.id, s.order_id, (s.shipped_at AT TIME ZONE %s)::date AS day,"
                f"  sum({SHIPPED_VALUE_SQL}) AS value FROM {shipments} s JOIN ("
                f"    SELECT x.shipment_id, x.order_line_id, x.quantity, sum(x.quantity) OVER ("
                f"      PARTITION BY x.order_line_id ORDER BY x.shipment_id, x.id) AS cum FROM {shipment_lines} x{recent}"
                f"  ) sl ON sl.shipment_id = s.id JOIN {order_lines} ol ON ol.id = sl.order_line_id"
                f"  {'WHERE s.shipped_at >= %s' if since else ''} GROUP BY s.id, s.order_id, 3"
                f") v JOIN {orders} o ON o.id = v.order_id GROUP BY 1, 3, 4, 5, 6", [tz, *start, *start])
            if payments:
                with cursor.cursor.copy(f"COPY {_SCRATCH} FROM STDIN") as copy:
                    for day, *key, amount, count in payments:
                        if since is None or day >= since:
                            copy.write_row((day, FactKind.COLLECTION.value, *key, amount, count))
            cursor.execute(f"DELETE FROM {_SCRATCH} WHERE amount = 0 AND count = 0")
            run.changed = {"daily": _merge(cursor, daily, "day", since, kinds)}
            # the months touched, summed again from the days (the first month also from the days
            # before ``since``, which stayed)
            first_month = since.replace(day=1) if since else None
            cursor.execute(f"TRUNCATE {_SCRATCH}")
            cursor.execute(
                f"INSERT INTO {_SCRATCH} SELECT date_trunc('month', day)::date, {_KEY}, sum(amount), sum(count) "  # noqa: S608
                f"FROM {daily} WHERE kind = ANY(%s){' AND day >= %s' if since else ''} GROUP BY 1, 2, 3, 4, 5, 6 "
                f"HAVING sum(amount) <> 0 OR sum(count) <> 0", [kinds, *([first_month] if since else [])])
            run.changed["monthly"] = _merge(cursor, monthly, "month", first_month, kinds)
        run.after = _summary(since, kinds)
        run.finished_at = timezone.now()
        run.save(update_fields=["before", "after", "changed", "finished_at"])
        changes = {kind: {"old": run.before[kind], "new": run.after[kind]} for kind in kinds
                   if run.before[kind] != run.after[kind]}
        audit_record(actor=actor if getattr(actor, "pk", None) else None, instance=run, action="rebuild",
                     changes=changes, note=f"since {since.isoformat()}" if since else "all")
        _bump_after_commit()
    return run
