"""Read side of the sales dashboard: the figures of a period from the fact rollups (never a
GROUP BY over the order tables), in the viewer's scope (crm.org.scoping: own, department or
region subtree, all), and the open pipeline by stage from crm.sales.

A period is split into whole calendar months, read from the monthly rollup, and the days at
its edges, read from the daily one: a year of the whole company is a few thousand monthly rows
whatever the number of orders. Amounts of different currencies are never added together: the
figures are those of one currency; the others are listed beside it."""

from __future__ import annotations

import datetime
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.inputs import clean_currency
from crm.inputs import param_date as _date_param
from crm.org.selectors import region_tree, staff_list
from crm.sales.pipeline import Pipeline, pipeline_get, pipelines
from crm.sales.selectors import BoardColumn, opportunities_changed_at, pipeline_open_by_stage

from .calc import money
from .enums import (
    DEFAULT_BREAKDOWN,
    DEFAULT_CURRENCY,
    DEFAULT_PERIOD,
    MAX_RANGE_DAYS,
    Breakdown,
    FactKind,
    Period,
)
from .models import DailySalesFact, MonthlySalesFact
from .services import facts_version

KINDS = tuple(FactKind.values)


# -- parameters -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class DashboardQuery:
    period: str
    date_from: datetime.date
    date_to: datetime.date  # inclusive
    by: str
    currency: str

    def as_params(self) -> dict[str, str]:
        """The query string that asks for these figures again."""
        params = {"period": self.period, "by": self.by, "currency": self.currency}
        if self.period == Period.CUSTOM:
            params.update({"from": self.date_from.isoformat(), "to": self.date_to.isoformat()})
        return params


def _month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """The same day ``months`` later (earlier when negative), at most the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (datetime.date(year + (month == 12), month % 12 + 1, 1) - datetime.timedelta(days=1)).day
    return datetime.date(year, month, min(day.day, last))


def _month_end(day: datetime.date) -> datetime.date:
    return _add_months(_month_start(day), 1) - datetime.timedelta(days=1)


def period_range(period: str, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """The first and last day of a named period around ``today``."""
    if period == Period.THIS_MONTH:
        return _month_start(today), _month_end(today)
    if period == Period.THIS_QUARTER:
        start = datetime.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return start, _add_months(start, 3) - datetime.timedelta(days=1)
    if period == Period.THIS_YEAR:
        return datetime.date(today.year, 1, 1), datetime.date(today.year, 12, 31)
    if period == Period.LAST_12_MONTHS:
        return _add_months(_month_start(today), -11), _month_end(today)
    raise ValueError(period)


def _choice(params, name: str, choices, default: str) -> str:
    value = str(params.get(name) or "").strip() or default
    if value not in choices:
        raise ValidationError({name: _("%(name)s 必须是 %(choices)s 之一。") % {
            "name": name, "choices": ", ".join(choices)}})
    return value


def dashboard_params(params, *, today: datetime.date | None = None) -> DashboardQuery:
    """``period``, ``from``, ``to``, ``by`` and ``currency`` of ``params`` (a query dict),
    checked: ValidationError naming the parameter. The period is one of ``Period`` (this
    year by default, custom when ``from`` is given); a custom one runs from ``from`` to ``to``
    (today when empty), at most ten years. ``by``: month, region or owner; ``currency``:
    CNY by default."""
    today = today or timezone.localdate()
    date_from, date_to = _date_param(params, "from"), _date_param(params, "to")
    default_period = Period.CUSTOM if date_from else DEFAULT_PERIOD
    period = _choice(params, "period", Period.values, default_period)
    by = _choice(params, "by", Breakdown.values, DEFAULT_BREAKDOWN)
    currency = clean_currency(params.get("currency"), default=DEFAULT_CURRENCY)
    if period == Period.CUSTOM:
        if date_from is None:
            raise ValidationError({"from": _("自定义时间段请填写开始日期 from。")})
        date_to = date_to or max(today, date_from)
        if date_to < date_from:
            raise ValidationError({"to": _("结束日期不能早于开始日期。")})
        if (date_to - date_from).days + 1 > MAX_RANGE_DAYS:
            raise ValidationError({"to": _("时间范围最长 %(n)s 天。") % {"n": MAX_RANGE_DAYS}})
    else:
        date_from, date_to = period_range(period, today)
    return DashboardQuery(period=period, date_from=date_from, date_to=date_to, by=by, currency=currency)


def previous_range(date_from: datetime.date, date_to: datetime.date, *,
                   today: datetime.date) -> tuple[datetime.date, datetime.date, datetime.date]:
    """The period to compare with: the one just before, as long (in months when the range is
    whole months, else in days), up to the same point as the current period reached when it
    is not over yet (this month to date against last month to the same day). Returns
    (previous from, previous to, the current period's last day compared)."""
    compared_to = min(date_to, max(today, date_from))
    if date_from.day == 1 and date_to == _month_end(date_to):
        months = (date_to.year - date_from.year) * 12 + date_to.month - date_from.month + 1
        previous_from = _add_months(date_from, -months)
        previous_to = (_add_months(compared_to, -months) if compared_to < date_to
                       else date_from - datetime.timedelta(days=1))
    else:
        days = (date_to - date_from).days + 1
        previous_from = date_from - datetime.timedelta(days=days)
        previous_to = compared_to - datetime.timedelta(days=days)
    return previous_from, previous_to, compared_to


# -- figures --------------------------------------------------------------------------------------------
@dataclass
class Figure:
    amount: Decimal = Decimal("0.00")
    count: int = 0

    def add(self, amount, count) -> None:
        self.amount = money(self.amount + (amount or 0))
        self.count += int(count or 0)

    @property
    def is_zero(self) -> bool:
        return not self.amount and not self.count


def _figures() -> dict[str, Figure]:
    return {kind: Figure() for kind in KINDS}


@dataclass
class Kpi:
    kind: str
    label: str
    current: Figure
    previous: Figure

    @property
    def change_pct(self) -> Decimal | None:
        """The change of the amount against the previous period, in percent (one decimal);
        None when the previous period had nothing to compare with."""
        if not self.previous.amount:
            return None
        return ((self.current.amount - self.previous.amount) * 100 / abs(self.previous.amount)).quantize(
            Decimal("0.1"))


@dataclass
class DashboardRow:
    key: str  # 2026-03, a region id or an owner id ("" for none)
    label: str
    figures: dict[str, Figure]

    @property
    def cells(self) -> list[Figure]:
        """The figures in the order of the kinds (order, shipment, collection)."""
        return [self.figures[kind] for kind in KINDS]


@dataclass
class SalesDashboard:
    query: DashboardQuery
    previous_from: datetime.date
    previous_to: datetime.date
    compared_to: datetime.date
    kpis: list[Kpi]
    rows: list[DashboardRow]
    totals: dict[str, Figure]
    other_currencies: list[tuple[str, dict[str, Figure]]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing at all in the period (any currency): the page shows its welcome instead of
        empty charts."""
        return all(f.is_zero for f in self.totals.values()) and not self.other_currencies

    @property
    def currencies(self) -> list[str]:
        """The currencies to pick from: CNY first, the one shown, those with figures."""
        seen = [DEFAULT_CURRENCY, self.query.currency] + [c for c, _f in self.other_currencies]
        return list(dict.fromkeys(seen))


def _segments(date_from: datetime.date, date_to: datetime.date):
    """(first and last whole month, or None; day ranges outside them) covering the range."""
    first = date_from if date_from.day == 1 else _add_months(_month_start(date_from), 1)
    last_end = date_to if date_to == _month_end(date_to) else _month_start(date_to) - datetime.timedelta(days=1)
    if first > last_end:  # no whole month inside
        return None, [(date_from, date_to)]
    days = []
    if date_from < first:
        days.append((date_from, first - datetime.timedelta(days=1)))
    if last_end < date_to:
        days.append((last_end + datetime.timedelta(days=1), date_to))
    return (first, _month_start(last_end)), days


_GROUP = {Breakdown.MONTH: None, Breakdown.REGION: "region_id", Breakdown.OWNER: "owner_id"}


def _sums(*, actor, date_from: datetime.date, date_to: datetime.date, by: str | None):
    """{(group, kind, currency): [amount, count]} of the facts the actor may see in the range;
    group is the month's first day, the region id or the owner id (None: no breakdown). At
    most two grouped queries: one on the monthly rollup, one on the daily."""
    months, days = _segments(date_from, date_to)
    out: dict[tuple, list] = defaultdict(lambda: [Decimal("0"), 0])
    reads = []
    if months:
        qs = MonthlySalesFact.objects.visible_to(actor).filter(month__gte=months[0], month__lte=months[1])
        reads.append((qs, "month"))
    if days:
        condition = Q()
        for start, end in days:
            condition |= Q(day__gte=start, day__lte=end)
        reads.append((DailySalesFact.objects.visible_to(actor).filter(condition), "day"))
    for qs, date_field in reads:
        names = ["kind", "currency"]
        if by == Breakdown.MONTH:
            qs = qs.annotate(g=TruncMonth("day") if date_field == "day" else F("month"))
            names.append("g")
        elif by in (Breakdown.REGION, Breakdown.OWNER):
            qs = qs.annotate(g=F(_GROUP[by]))
            names.append("g")
        for row in qs.order_by().values(*names).annotate(a=Sum("amount"), n=Sum("count")):
            key = (row.get("g"), row["kind"], row["currency"])
            out[key][0] += row["a"] or 0
            out[key][1] += row["n"] or 0
    return out


def _labels(by: str, keys: set, *, actor) -> dict:
    if by == Breakdown.REGION:
        names = {r.pk: r.name for r in region_tree()} if keys - {None} else {}
        return {k: (names.get(k, f"#{k}") if k is not None else _("未分区域")) for k in keys}
    ids = [k for k in keys if k is not None]
    names = dict(staff_list(actor=actor).filter(pk__in=ids).values_list("pk", "full_name")) if ids else {}
    return {k: (names.get(k, f"#{k}") if k is not None else _("未指定负责人")) for k in keys}


def _months_between(date_from: datetime.date, date_to: datetime.date) -> list[datetime.date]:
    months, month = [], _month_start(date_from)
    while month <= date_to:
        months.append(month)
        month = _add_months(month, 1)
    return months


def kind_labels() -> dict[str, str]:
    """The figure names, in the active language."""
    return {FactKind.ORDER.value: _("订单金额"), FactKind.SHIPMENT.value: _("发货金额"),
            FactKind.COLLECTION.value: _("回款金额")}


def kind_count_labels() -> dict[str, str]:
    """The names of the counts beside them (orders, shipments, payments)."""
    return {FactKind.ORDER.value: _("订单笔数"), FactKind.SHIPMENT.value: _("发货笔数"),
            FactKind.COLLECTION.value: _("回款笔数")}


def sales_dashboard(*, actor, query: DashboardQuery, today: datetime.date | None = None) -> SalesDashboard:
    """The figures of ``query`` that ``actor`` may see: per kind (orders approved, goods
    shipped, payments received) the amount and count of the period in its currency with the
    previous period's for comparison (``previous_range``); the rows of the breakdown (every
    month of the period; or the regions / salespeople with figures, the largest orders first);
    the totals; and the other currencies' totals, never added to these. Four grouped queries
    on the rollups at most, plus one for the names of regions or salespeople."""
    today = today or timezone.localdate()
    previous_from, previous_to, compared_to = previous_range(query.date_from, query.date_to, today=today)
    current = _sums(actor=actor, date_from=query.date_from, date_to=query.date_to, by=query.by)
    before = _sums(actor=actor, date_from=previous_from, date_to=previous_to, by=None)

    totals = _figures()
    others: dict[str, dict[str, Figure]] = {}
    groups: dict = defaultdict(_figures)
    for (group, kind, currency), (amount, count) in current.items():
        if currency != query.currency:
            others.setdefault(currency, _figures())[kind].add(amount, count)
            continue
        totals[kind].add(amount, count)
        groups[group][kind].add(amount, count)
    previous = _figures()
    for (_group, kind, currency), (amount, count) in before.items():
        if currency == query.currency:
            previous[kind].add(amount, count)

    rows: list[DashboardRow] = []
    if query.by == Breakdown.MONTH:
        for month in _months_between(query.date_from, query.date_to):
            rows.append(DashboardRow(key=f"{month:%Y-%m}", label=f"{month:%Y-%m}",
                                     figures=groups.get(month, _figures())))
    else:
        groups = {k: v for k, v in groups.items() if not all(f.is_zero for f in v.values())}
        labels = _labels(query.by, set(groups), actor=actor)
        for key, figures in groups.items():
            rows.append(DashboardRow(key="" if key is None else str(key), label=str(labels[key]), figures=figures))
        rows.sort(key=lambda r: (-r.figures[FactKind.ORDER].amount, -r.figures[FactKind.SHIPMENT].amount,
                                 -r.figures[FactKind.COLLECTION].amount, r.label))
    names = kind_labels()
    kpis = [Kpi(kind=kind, label=names[kind], current=totals[kind], previous=previous[kind]) for kind in KINDS]
    other_list = sorted(((c, f) for c, f in others.items() if not all(x.is_zero for x in f.values())),
                        key=lambda item: item[0])
    return SalesDashboard(query=query, previous_from=previous_from, previous_to=previous_to,
                          compared_to=compared_to, kpis=kpis, rows=rows, totals=totals, other_currencies=other_list)


# -- the pipeline -------------------------------------------------------------------------------------------
@dataclass
class PipelineSummary:
    pipeline: Pipeline | None
    currency: str
    stages: list[BoardColumn]
    choices: list[tuple[str, str]]  # (pipeline key, its first stage's mode label), when several

    @property
    def count(self) -> int:
        return sum(c.count for c in self.stages)

    @property
    def amount(self) -> Decimal:
        return money(sum((c.amount for c in self.stages), Decimal("0")))

    @property
    def weighted(self) -> Decimal:
        return money(sum((c.weighted for c in self.stages), Decimal("0")))

    @property
    def empty(self) -> bool:
        return not self.count


def pipeline_params(params) -> dict:
    """``pipeline`` (a key of the tenant's pipelines; its primary one when empty) and
    ``currency`` of ``params``: ValidationError naming the parameter."""
    key = str(params.get("pipeline") or "").strip() or None
    currency = clean_currency(params.get("currency"), default=DEFAULT_CURRENCY)
    if key is not None and key not in pipelines():
        pipeline_get(key)  # raises, naming pipeline and the choices
    return {"pipeline_key": key, "currency": currency}


def pipeline_summary(*, actor, pipeline_key: str | None = None, currency: str = DEFAULT_CURRENCY) -> PipelineSummary:
    """The open opportunities ``actor`` may see on the tenant's pipeline (the primary one
    unless ``pipeline_key``) in ``currency``: count, amount and weighted amount per open
    stage (crm.sales). A tenant without pipeline stages gets an empty summary."""
    known = pipelines()
    if not known:
        return PipelineSummary(pipeline=None, currency=currency, stages=[], choices=[])
    pipeline = pipeline_get(pipeline_key)
    stages = pipeline_open_by_stage(actor=actor, pipeline=pipeline, currency=currency)
    choices = [(key, key) for key in known] if len(known) > 1 else []
    return PipelineSummary(pipeline=pipeline, currency=currency, stages=stages, choices=choices)


# -- "did anything change?" ------------------------------------------------------------------------------
def dashboard_version(*, today: datetime.date | None = None) -> str | None:
    """A token that changes whenever the dashboard's figures may have: the tenant's facts
    version (Redis, bumped after each commit that recorded a fact), the last change of any
    opportunity (the pipeline) and the date (the periods move at midnight). None when Redis
    does not answer: then every poll gets the figures again."""
    version = facts_version()
    if version is None:
        return None
    changed = opportunities_changed_at()
    stamp = changed.timestamp() if changed else 0
    raw = f"{version}:{stamp:.6f}:{(today or timezone.localdate()).isoformat()}"
    return hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:16]
