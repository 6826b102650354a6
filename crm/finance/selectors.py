"""Read-side queries of finance. Every read for a person starts from ``Invoice.objects.visible_to``
or ``Payment.objects.visible_to`` (the actor's role scope, crm.org.scoping: invoices and
payments follow their order's owner, department and region); an invoice outside it does not
exist for the actor (a 404). ``unscoped_*`` functions bypass the scope: credit control, the
reminders, the sales dashboard's rebuild and the system use them."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connection
from django.db.models import (
    Case,
    Count,
    DecimalField,
    F,
    Prefetch,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.inputs import clean_currency
from crm.inputs import param_date as _date_param
from crm.inputs import param_int as _int_param
from crm.org.selectors import region_subtree_ids

from .enums import (
    AGING_BUCKETS,
    INVOICE_SORT_DEFAULT,
    INVOICE_SORTS,
    LIVE_STATUSES,
    PAYMENT_SORT_DEFAULT,
    PAYMENT_SORTS,
    UNPAID_STATUSES,
    InvoiceStatus,
    PaymentMethod,
    PaymentSource,
)
from .models import FinanceSettings, Invoice, Payment

ZERO = Decimal("0.00")
_MONEY = DecimalField(max_digits=16, decimal_places=2)


# -- parameters ---------------------------------------------------------------------------------
def _flag(params, name: str) -> bool:
    return str(params.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _region_ids(params) -> list[int] | None:
    region = _int_param(params, "region")
    if region is None:
        return None
    ids = region_subtree_ids(region_id=region)
    if ids is None:
        raise ValidationError({"region": _("区域不存在。")})
    return ids


def finance_settings_get() -> FinanceSettings:
    row, _created = FinanceSettings.objects.get_or_create(id=1)
    return row


# -- invoices --------------------------------------------------------------------------------------
def invoice_list_visible_to(*, actor) -> QuerySet[Invoice]:
    return Invoice.objects.visible_to(actor).select_related("customer", "owner", "order")


def invoice_get_for_actor(*, actor, invoice_id) -> Invoice:
    """The invoice if the actor may see it; Invoice.DoesNotExist otherwise (a 404)."""
    try:
        invoice_id = int(invoice_id)
    except (TypeError, ValueError):
        raise Invoice.DoesNotExist from None
    return invoice_list_visible_to(actor=actor).get(pk=invoice_id)


def invoice_sort_get(value: str | None, *, overdue: bool = False) -> str:
    """The ``?sort=`` value (the overdue view: by due date; else the newest first)."""
    if not value:
        return "due_on" if overdue else INVOICE_SORT_DEFAULT
    if value not in INVOICE_SORTS:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": str(value)[:40], "choices": ", ".join(INVOICE_SORTS)}})
    return value


# What a list row shows: the customer's and the owner's names, the order's number, not their rows.
INVOICE_LIST_FIELDS = ("id", "number", "order_id", "order__id", "order__number", "customer_id", "customer__id",
                       "customer__name", "owner_id", "owner__id", "owner__full_name", "kind", "tax_number",
                       "currency", "net_amount", "tax_amount", "total", "paid_amount", "status", "issued_on",
                       "due_on", "settled_on", "version", "created_at")


def _bucket_due_range(bucket: str, as_of: datetime.date) -> tuple[datetime.date | None, datetime.date | None]:
    """The due dates (from, to; inclusive) of the invoices in an aging bucket on ``as_of``."""
    _label, low, high = AGING_BUCKETS[bucket]
    latest = as_of - datetime.timedelta(days=low) if low is not None else None  # at least `low` days past due
    earliest = as_of - datetime.timedelta(days=high) if high is not None else None  # at most `high`
    return earliest, latest


def invoice_list(*, actor, params) -> tuple[QuerySet[Invoice], str]:
    """The invoices the actor may see, filtered by ``params`` (a dict or QueryDict) and the
    sort it uses: status (one or several, comma-separated), customer, owner, order, region
    (with its sub-regions), issued_from / issued_to (dates, inclusive), overdue (1: unpaid and
    past the due date today), bucket (an aging column on ``as_of``, default today: unpaid
    invoices of that age, for the report's drill-down), q (our invoice number or its
    beginning, or the tax invoice number). A malformed parameter raises ValidationError
    naming it."""
    qs = invoice_list_visible_to(actor=actor)
    statuses = [s for s in str(params.get("status") or "").replace(" ", "").split(",") if s]
    unknown = [s for s in statuses if s not in InvoiceStatus.values]
    if unknown:
        raise ValidationError({"status": _("状态“%(value)s”不存在，可选：%(choices)s。") % {
            "value": unknown[0][:30], "choices": ", ".join(InvoiceStatus.values)}})
    if len(statuses) == 1:
        qs = qs.filter(status=statuses[0])
    elif statuses:
        qs = qs.filter(status__in=statuses)
    for name in ("customer", "owner", "order"):
        value = _int_param(params, name)
        if value is not None:
            qs = qs.filter(**{f"{name}_id": value})
    regions = _region_ids(params)
    if regions is not None:
        qs = qs.filter(region_id__in=regions)
    start, end = _date_param(params, "issued_from"), _date_param(params, "issued_to")
    if start and end and end < start:
        raise ValidationError({"issued_to": _("结束日期不能早于开始日期。")})
    if start:
        qs = qs.filter(issued_on__gte=start)
    if end:
        qs = qs.filter(issued_on__lte=end)
    today = timezone.localdate()
    overdue = _flag(params, "overdue")
    if overdue:
        qs = qs.filter(status__in=UNPAID_STATUSES, due_on__lt=today)
    bucket = str(params.get("bucket") or "").strip()
    if bucket:
        if bucket not in AGING_BUCKETS:
            raise ValidationError({"bucket": _("账龄区间“%(value)s”无效，可选：%(choices)s。") % {
                "value": bucket[:30], "choices": ", ".join(AGING_BUCKETS)}})
        as_of = _date_param(params, "as_of") or today
        earliest, latest = _bucket_due_range(bucket, as_of)
        qs = qs.filter(status__in=UNPAID_STATUSES)
        if earliest:
            qs = qs.filter(due_on__gte=earliest)
        if latest:
            qs = qs.filter(due_on__lte=latest)
        overdue = True  # ordered by due date as well
    q = str(params.get("q") or "").strip()
    if q:
        if len(q) > 30:
            raise ValidationError({"q": _("发票编号或发票号码最长 30 个字符。")})
        qs = qs.filter(Q(number__startswith=q.upper()) | Q(tax_number=q))
    sort = invoice_sort_get(params.get("sort"), overdue=overdue)
    return qs.only(*INVOICE_LIST_FIELDS).order_by(*INVOICE_SORTS[sort]), sort


def invoice_detail(*, invoice: Invoice) -> Invoice:
    """The invoice with its order, customer, people and payments (newest first) loaded."""
    return (Invoice.objects.select_related("order", "customer", "owner", "department", "region", "created_by",
                                           "voided_by")
            .prefetch_related(Prefetch("payments", queryset=Payment.objects.select_related(
                "recorded_by", "voided_by", "customer", "owner").order_by("-received_on", "-id")))
            .get(pk=invoice.pk))


def invoices_of_order(*, actor, order_id) -> list[Invoice]:
    """The order's invoices the actor may see (all of them for who may see the order: they copy
    its scope), oldest first, each with its payments."""
    return list(Invoice.objects.visible_to(actor).filter(order_id=order_id)
                .prefetch_related(Prefetch("payments", queryset=Payment.objects.order_by("received_on", "id")))
                .order_by("issued_on", "id"))


@dataclass
class OrderInvoicing:
    """What finance sees of an order: its invoices and the amounts."""

    invoices: list = field(default_factory=list)
    invoiced: Decimal = ZERO  # live invoices
    paid: Decimal = ZERO  # live payments
    outstanding: Decimal = ZERO  # invoiced, not paid
    remaining: Decimal = ZERO  # not invoiced yet

    @property
    def payments(self) -> list:
        return sorted((p for i in self.invoices for p in i.payments.all()), key=lambda p: (p.received_on, p.pk))


def order_invoicing(*, actor, order) -> OrderInvoicing:
    """The order's invoices (with payments) and its invoiced, paid, outstanding and
    not-yet-invoiced amounts: two queries."""
    invoices = invoices_of_order(actor=actor, order_id=order.pk)
    live = [i for i in invoices if i.status != InvoiceStatus.VOID]
    invoiced = sum((i.total for i in live), ZERO)
    paid = sum((i.paid_amount for i in live), ZERO)
    return OrderInvoicing(invoices=invoices, invoiced=invoiced, paid=paid, outstanding=invoiced - paid,
                          remaining=max(order.total - invoiced, ZERO))


def unscoped_invoiced_total_of_orders(*, order_ids) -> Decimal:
    """The total of the live invoices of these orders (ids, or a queryset of ids)."""
    return (Invoice.objects.filter(order_id__in=order_ids, status__in=LIVE_STATUSES)
            .aggregate(total=Sum("total"))["total"] or ZERO)


def unscoped_outstanding_of_customer(*, customer_id, currency: str | None = None,
                                     exclude_order_id: int | None = None) -> Decimal:
    """What the customer's unpaid invoices still owe (total less what was received)."""
    qs = Invoice.objects.filter(customer_id=customer_id, status__in=UNPAID_STATUSES)
    if currency:
        qs = qs.filter(currency=currency)
    if exclude_order_id:
        qs = qs.exclude(order_id=exclude_order_id)
    return qs.aggregate(owed=Sum(F("total") - F("paid_amount")))["owed"] or ZERO


# -- payments --------------------------------------------------------------------------------------
def payment_list_visible_to(*, actor) -> QuerySet[Payment]:
    return Payment.objects.visible_to(actor).select_related("invoice", "customer", "owner", "recorded_by")


def payment_get_for_actor(*, actor, payment_id) -> Payment:
    try:
        payment_id = int(payment_id)
    except (TypeError, ValueError):
        raise Payment.DoesNotExist from None
    return payment_list_visible_to(actor=actor).select_related("voided_by", "order").get(pk=payment_id)


def payment_sort_get(value: str | None) -> str:
    if not value:
        return PAYMENT_SORT_DEFAULT
    if value not in PAYMENT_SORTS:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": str(value)[:40], "choices": ", ".join(PAYMENT_SORTS)}})
    return value


def payment_list(*, actor, params) -> tuple[QuerySet[Payment], str]:
    """The payments the actor may see, filtered by ``params``: customer, owner, invoice,
    order, region (with sub-regions), method, source, received_from / received_to, void (1:
    only voided ones, 0: only live ones; default all), in the order ``sort``."""
    qs = payment_list_visible_to(actor=actor)
    for name in ("customer", "owner", "invoice", "order"):
        value = _int_param(params, name)
        if value is not None:
            qs = qs.filter(**{f"{name}_id": value})
    regions = _region_ids(params)
    if regions is not None:
        qs = qs.filter(region_id__in=regions)
    method = str(params.get("method") or "").strip()
    if method:
        if method not in PaymentMethod.values:
            raise ValidationError({"method": _("收款方式“%(value)s”无效，可选：%(choices)s。") % {
                "value": method[:30], "choices": ", ".join(PaymentMethod.values)}})
        qs = qs.filter(method=method)
    source = str(params.get("source") or "").strip()
    if source:
        if source not in PaymentSource.values:
            raise ValidationError({"source": _("来源“%(value)s”无效，可选：%(choices)s。") % {
                "value": source[:30], "choices": ", ".join(PaymentSource.values)}})
        qs = qs.filter(source=source)
    start, end = _date_param(params, "received_from"), _date_param(params, "received_to")
    if start and end and end < start:
        raise ValidationError({"received_to": _("结束日期不能早于开始日期。")})
    if start:
        qs = qs.filter(received_on__gte=start)
    if end:
        qs = qs.filter(received_on__lte=end)
    void = str(params.get("void") or "").strip()
    if void in ("1", "true"):
        qs = qs.filter(voided_at__isnull=False)
    elif void in ("0", "false"):
        qs = qs.filter(voided_at__isnull=True)
    elif void:
        raise ValidationError({"void": _("void 只能是 1（仅已冲销）或 0（仅有效）。")})
    sort = payment_sort_get(params.get("sort"))
    return qs.order_by(*PAYMENT_SORTS[sort]), sort


# -- keyset cursors (the web lists) ------------------------------------------------------------------
def cursor_encode(row, ordering: tuple[str, ...]) -> str:
    name = ordering[0].lstrip("-")
    value = getattr(row, name)
    raw = json.dumps([ordering[0], value.isoformat() if hasattr(value, "isoformat") else str(value), row.pk],
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def rows_after(qs, ordering: tuple[str, ...], token: str):
    """Rows strictly after the cursor in the (key, id) order; a bad cursor: the first page."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key, value, pk = json.loads(raw)
        if key != ordering[0] or not isinstance(pk, int):
            return qs
        value = datetime.date.fromisoformat(value)
    except (ValueError, TypeError, UnicodeDecodeError, ArithmeticError):
        return qs
    name = key.lstrip("-")
    op = "lt" if key.startswith("-") else "gt"
    return qs.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"id__{op}": pk}))


# -- the aging report ----------------------------------------------------------------------------------
@dataclass
class AgingRow:
    customer_id: int
    customer_name: str
    invoices: int
    amounts: dict[str, Decimal]  # bucket key -> outstanding
    total: Decimal

    @property
    def overdue(self) -> Decimal:
        return self.total - self.amounts.get("not_due", ZERO)

    @property
    def customer(self) -> dict | None:
        return {"id": self.customer_id, "name": self.customer_name} if self.customer_id else None


@dataclass
class AgingReport:
    as_of: datetime.date
    currency: str
    rows: list[AgingRow]
    totals: AgingRow
    next_cursor: str | None = None


def aging_params(params) -> dict:
    """The report's filters, checked: as_of (default today; not in the future), owner,
    customer, region (with sub-regions), currency (default CNY). ValidationError naming the
    parameter."""
    today = timezone.localdate()
    as_of = _date_param(params, "as_of") or today
    if as_of > today:
        raise ValidationError({"as_of": _("账龄日期不能晚于今天。")})
    try:
        currency = clean_currency(params.get("currency"))
    except ValidationError:
        raise ValidationError({"currency": _("币种应为三位字母代码，例如 CNY。")}) from None
    return {"as_of": as_of, "owner": _int_param(params, "owner"), "customer": _int_param(params, "customer"),
            "regions": _region_ids(params), "currency": currency}


def _scoped(qs, filters: dict):
    """The report's filters on invoices or payments (a payment carries its invoice's customer,
    owner, region and currency)."""
    qs = qs.filter(currency=filters["currency"])
    if filters["owner"] is not None:
        qs = qs.filter(owner_id=filters["owner"])
    if filters["customer"] is not None:
        qs = qs.filter(customer_id=filters["customer"])
    if filters["regions"] is not None:
        qs = qs.filter(region_id__in=filters["regions"])
    return qs


def _owed_sql(*, actor, filters: dict) -> tuple[str, list]:
    """SQL of rows ``(customer_id, due_on, owed, n)`` whose sums per customer and due date are
    what the invoices the actor may see owed on the report date (``n`` counts the invoices).
    For today: the unpaid invoices (the partial indexes of unpaid invoices, which carry every
    column read, whatever the history). For an earlier date: the invoices issued by then that
    are unpaid now or were settled after it, each with what it owes now, plus every live
    payment received after the date, added back to its invoice's customer and due date (one
    pass over those payments, no per-invoice sums). Each such invoice owed something then."""
    as_of = filters["as_of"]
    invoices = _scoped(Invoice.objects.visible_to(actor), filters).filter(issued_on__lte=as_of).order_by()
    try:
        if as_of >= timezone.localdate():  # payments cannot be dated in the future
            sql, params = (invoices.filter(status__in=UNPAID_STATUSES)
                           .values("customer_id", "due_on", "total", "paid_amount").query.sql_with_params())
            return (f"SELECT i.customer_id, i.due_on, i.total - i.paid_amount AS owed, 1 AS n FROM ({sql}) AS i",
                    list(params))
        owing, params = (invoices.filter(Q(status__in=UNPAID_STATUSES)
                                         | Q(status=InvoiceStatus.PAID, settled_on__gt=as_of))
                         .values("id", "customer_id", "due_on", "total", "paid_amount").query.sql_with_params())
    except EmptyResultSet:  # nothing can match (e.g. a deactivated actor sees nothing)
        return ("SELECT NULL::bigint AS customer_id, NULL::date AS due_on, NULL::numeric AS owed, 0 AS n "
                "WHERE false", [])
    # Every live payment received after the date belongs to one of these invoices (an invoice
    # paid after it is unpaid now or was settled after it), so the payments join them only.
    payments = connection.ops.quote_name(Payment._meta.db_table)
    return (f"WITH owing AS MATERIALIZED ({owing}) "
            "SELECT c.customer_id, c.due_on, c.total - c.paid_amount AS owed, 1 AS n FROM owing AS c "
            f"UNION ALL SELECT c.customer_id, c.due_on, p.amount, 0 FROM {payments} AS p "  # noqa: S608 (ours)
            "JOIN owing AS c ON c.id = p.invoice_id WHERE p.voided_at IS NULL AND p.received_on > %s",
            [*params, as_of])


def _bucket_columns(as_of: datetime.date) -> tuple[str, list]:
    """``SUM(CASE ...) AS <bucket>`` per aging bucket, by due date, and their parameters."""
    columns, params = [], []
    for key in AGING_BUCKETS:
        earliest, latest = _bucket_due_range(key, as_of)
        conditions = []
        if earliest:
            conditions.append("due_on >= %s")
            params.append(earliest)
        if latest:
            conditions.append("due_on <= %s")
            params.append(latest)
        columns.append(f"SUM(CASE WHEN {' AND '.join(conditions)} THEN owed ELSE 0 END) AS {key}")
    return ", ".join(columns), params


_TOTAL_KEYS = (*AGING_BUCKETS, "owed_total", "invoice_count")


def _aging_sql(*, actor, filters: dict, after: tuple[Decimal, int] | None = None,
               limit: int | None = None) -> tuple[str, list]:
    """One statement: per customer owing, the buckets, the total and the number of invoices,
    the biggest debtors first; with the totals over every customer (window sums taken before
    the page is cut) on each row."""
    owed, params = _owed_sql(actor=actor, filters=filters)
    buckets, bucket_params = _bucket_columns(filters["as_of"])
    totals = ", ".join(f"SUM({k}) OVER () AS t_{k}" for k in _TOTAL_KEYS)
    sql = (f"WITH owed AS ({owed}), per AS (SELECT customer_id, {buckets}, SUM(owed) AS owed_total, "
           f"SUM(n) AS invoice_count FROM owed GROUP BY customer_id), "
           f"ranked AS (SELECT per.*, {totals} FROM per) SELECT * FROM ranked")
    params = [*params, *bucket_params]
    if after is not None:
        sql += " WHERE owed_total < %s OR (owed_total = %s AND customer_id > %s)"
        params += [after[0], after[0], after[1]]
    sql += " ORDER BY owed_total DESC, customer_id"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return sql, params


def _fetch(sql: str, params: list, *, chunk: int | None = None) -> Iterator[dict]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c[0] for c in cursor.description]
        while True:
            rows = cursor.fetchmany(chunk or 500)
            if not rows:
                break
            for row in rows:
                yield dict(zip(names, row, strict=True))


def _row(values: dict, *, customer_id=0, name="", prefix: str = "") -> AgingRow:
    return AgingRow(customer_id=customer_id, customer_name=name, invoices=int(values[f"{prefix}invoice_count"] or 0),
                    amounts={k: values[f"{prefix}{k}"] or ZERO for k in AGING_BUCKETS},
                    total=values[f"{prefix}owed_total"] or ZERO)


def _with_names(values: list[dict]) -> list[AgingRow]:
    """The rows with their customers' names, read by primary key (one query for a page), as
    the invoice list reads them through the invoice's foreign key."""
    customers = Invoice._meta.get_field("customer").related_model
    names = dict(customers.objects.filter(pk__in=[v["customer_id"] for v in values]).values_list("pk", "name"))
    return [_row(v, customer_id=v["customer_id"], name=names.get(v["customer_id"], "")) for v in values]


def _aging_cursor(row: AgingRow) -> str:
    raw = json.dumps([str(row.total), row.customer_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _aging_after(token: str) -> tuple[Decimal, int] | None:
    try:
        total, customer_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        total = Decimal(total)
        if not isinstance(customer_id, int) or not total.is_finite():
            return None
    except (ValueError, TypeError, UnicodeDecodeError, ArithmeticError):
        return None
    return total, customer_id


def aging_report(*, actor, params, limit: int = 50) -> AgingReport:
    """Aged receivables by customer on a date (``params``: see aging_params; ``cursor`` from
    the previous page), the customers owing most first, ``limit`` per page, with the totals of
    everything the filters select. Days past due = the report date - the due date: not yet due
    (0 or less), 0-30 (1-30), 31-60, 61-90, 90 and more. Two statements: the page with the
    totals, the page's customer names."""
    filters = aging_params(params)
    cursor = str(params.get("cursor") or "")
    after = _aging_after(cursor) if cursor else None
    sql, sql_params = _aging_sql(actor=actor, filters=filters, after=after, limit=limit + 1)
    values = list(_fetch(sql, sql_params))
    if values:
        totals = _row(values[0], prefix="t_")
    elif after is not None:  # past the last page: the totals of the whole report
        sql, sql_params = _aging_sql(actor=actor, filters=filters, limit=1)
        first = list(_fetch(sql, sql_params))
        totals = _row(first[0], prefix="t_") if first else _row({k: None for k in _TOTAL_KEYS})
    else:
        totals = _row({k: None for k in _TOTAL_KEYS})
    rows = _with_names(values[:limit])
    next_cursor = _aging_cursor(rows[-1]) if len(values) > limit else None
    return AgingReport(as_of=filters["as_of"], currency=filters["currency"], rows=rows, totals=totals,
                       next_cursor=next_cursor)


def aging_rows_all(*, actor, params) -> tuple[dict, Iterator[AgingRow]]:
    """Every row of the report (for the export), fetched and named in chunks."""
    filters = aging_params(params)
    sql, sql_params = _aging_sql(actor=actor, filters=filters)

    def rows():
        chunk: list[dict] = []
        for values in _fetch(sql, sql_params, chunk=2000):
            chunk.append(values)
            if len(chunk) == 2000:
                yield from _with_names(chunk)
                chunk = []
        yield from _with_names(chunk)

    return filters, rows()


# -- the customer's 360° page -------------------------------------------------------------------------
def customer_receivables(*, actor, customer_id, limit: int = 10) -> dict:
    """The customer's unpaid invoices the actor may see (the oldest due first, ``limit``), what
    they owe and how much of it is overdue, per currency; and the latest payments."""
    today = timezone.localdate()
    unpaid = Invoice.objects.visible_to(actor).filter(customer_id=customer_id, status__in=UNPAID_STATUSES)
    sums = list(unpaid.order_by().values("currency").annotate(
        owed=Sum(F("total") - F("paid_amount")),
        overdue=Coalesce(Sum(Case(When(due_on__lt=today, then=F("total") - F("paid_amount")),
                                  default=Value(ZERO), output_field=_MONEY)), Value(ZERO), output_field=_MONEY),
        count=Count("id")).order_by("currency"))
    invoices = list(unpaid.select_related("order").order_by("due_on", "id")[:limit])
    payments = list(Payment.objects.visible_to(actor).filter(customer_id=customer_id, voided_at__isnull=True)
                    .select_related("invoice").order_by("-received_on", "-id")[:5])
    return {"sums": sums, "invoices": invoices, "payments": payments, "today": today,
            "more": bool(sums) and sum(s["count"] for s in sums) > limit}


# -- the reminders and the dashboard's rebuild ------------------------------------------------------------
def unscoped_invoices_to_remind(*, today: datetime.date, interval_days: int) -> QuerySet[Invoice]:
    """Unpaid invoices past their due date that were not reminded within ``interval_days``
    (the partial index of unpaid invoices by due date)."""
    since = today - datetime.timedelta(days=interval_days)
    return (Invoice.objects.filter(status__in=UNPAID_STATUSES, due_on__lt=today)
            .filter(Q(last_reminded_on__isnull=True) | Q(last_reminded_on__lte=since))
            .order_by("due_on", "id"))


def unscoped_payment_facts(since: datetime.date | None = None) -> list[dict]:
    """The sales dashboard's collections (crm.analytics rebuilds from this): per received_on,
    owner_id, department_id, region_id and currency, the sum (``amount``) and the number
    (``count``) of live payments received on or after ``since`` (all of them: None)."""
    qs = Payment.objects.filter(voided_at__isnull=True)
    if since is not None:
        qs = qs.filter(received_on__gte=since)
    return list(qs.order_by().values("received_on", "owner_id", "department_id", "region_id", "currency")
                .annotate(amount=Sum("amount"), count=Count("id"))
                .order_by("received_on", "owner_id", "department_id", "region_id", "currency"))
