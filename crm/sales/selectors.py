"""Read-side queries of opportunities, quotes and the forecast. Every read starts from
``visible_to`` (crm.org.scoping): the owner sees their own records, managers those of their
department or region subtree, company-wide roles everything; anything else is a 404."""

from __future__ import annotations

import base64
import datetime
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When, Window
from django.db.models.functions import RowNumber, TruncMonth, TruncQuarter
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from crm.org.selectors import region_subtree_ids, region_tree, staff_list

from .calc import money
from .enums import (
    DEFAULT_CURRENCY,
    OPPORTUNITY_SORT_DEFAULT,
    OPPORTUNITY_SORTS,
    QUOTE_SORT_DEFAULT,
    QUOTE_SORTS,
    ForecastGroup,
    ForecastPeriod,
    OpportunityStatus,
    QuoteStatus,
)
from .models import Opportunity, OpportunityStageChange, Quote, QuoteLine
from .pipeline import Pipeline, Stage, pipelines


# -- opportunities -------------------------------------------------------------------------------------
def opportunity_list_visible_to(*, actor) -> QuerySet[Opportunity]:
    return (Opportunity.objects.visible_to(actor)
            .select_related("customer", "contact", "owner", "region", "department"))


def opportunity_get_for_actor(*, actor, opportunity_id, for_update: bool = False) -> Opportunity:
    """The opportunity if the actor may see it; Opportunity.DoesNotExist otherwise (a 404)."""
    qs = Opportunity.objects.visible_to(actor).filter(pk=opportunity_id)
    if for_update:
        return qs.select_for_update(of=("self",)).select_related("customer", "owner").get()
    return qs.select_related("customer", "contact", "owner", "region", "department").get()


def opportunities_for_customer(*, actor, customer_id) -> list[Opportunity]:
    """The customer's opportunities the actor may see, open ones first, then the newest
    (for the customer's 360° page)."""
    open_first = Case(When(status=OpportunityStatus.OPEN, then=Value(0)), default=Value(1))
    return list(opportunity_list_visible_to(actor=actor).filter(customer_id=customer_id)
                .order_by(open_first, "-updated_at", "-id")[:100])


def _digits(params, name: str) -> int | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValidationError({name: _("请输入有效的编号。")})
    return int(value)


def _date(params, name: str) -> datetime.date | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        parsed = parse_date(value)
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({name: _("日期格式应为 YYYY-MM-DD，例如 2026-03-31。")})
    return parsed


def opportunity_list_filter(qs: QuerySet[Opportunity], params) -> QuerySet[Opportunity]:
    """The list filters shared by the API and the pages: owner, stage, region (with its
    sub-regions), customer, pipeline, status (open/won/lost), expected close range
    (close_from, close_to, inclusive) and a name fragment (q). A malformed value raises
    ValidationError naming the parameter."""
    owner = _digits(params, "owner")
    if owner is not None:
        qs = qs.filter(owner_id=owner)
    customer = _digits(params, "customer")
    if customer is not None:
        qs = qs.filter(customer_id=customer)
    region = _digits(params, "region")
    if region is not None:
        ids = region_subtree_ids(region_id=region)
        qs = qs.filter(region__in=ids) if ids else qs.none()
    if params.get("stage"):
        qs = qs.filter(stage=params["stage"])
    if params.get("pipeline"):
        qs = qs.filter(pipeline=params["pipeline"])
    status = (params.get("status") or "").strip()
    if status:
        if status not in OpportunityStatus.values:
            raise ValidationError({"status": _("状态必须是 %(choices)s 之一。") % {
                "choices": ", ".join(OpportunityStatus.values)}})
        qs = qs.filter(status=status)
    close_from, close_to = _date(params, "close_from"), _date(params, "close_to")
    if close_from:
        qs = qs.filter(expected_close_date__gte=close_from)
    if close_to:
        qs = qs.filter(expected_close_date__lte=close_to)
    q = (params.get("q") or "").strip()
    if q:
        if len(q) > 100:
            raise ValidationError({"q": _("搜索内容最长 100 个字符。")})
        qs = qs.filter(Q(name__icontains=q) | Q(customer__name__icontains=q))
    return qs


def opportunity_sort_get(value: str | None) -> tuple[str, ...]:
    """The ordering named by ``?sort=`` (the default when empty); ValidationError naming
    the allowed values otherwise."""
    if not value:
        return OPPORTUNITY_SORTS[OPPORTUNITY_SORT_DEFAULT]
    if value not in OPPORTUNITY_SORTS:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": value[:40], "choices": ", ".join(OPPORTUNITY_SORTS)}})
    return OPPORTUNITY_SORTS[value]


def opportunity_stage_history(*, opportunity: Opportunity) -> list[OpportunityStageChange]:
    """The stage moves of an opportunity the caller has already found visible, oldest first."""
    return list(opportunity.stage_changes.select_related("actor").order_by("at", "id"))


@dataclass
class BoardColumn:
    stage: Stage
    count: int = 0
    amount: Decimal = Decimal("0.00")
    weighted: Decimal = Decimal("0.00")
    cards: list[Opportunity] = field(default_factory=list)


def pipeline_board(*, qs: QuerySet[Opportunity], pipeline: Pipeline, per_stage: int = 30,
                   closed_days: int = 90) -> list[BoardColumn]:
    """The kanban view of ``qs`` (already visible to the actor and filtered): one column per
    stage of ``pipeline`` with its count, amount and weighted amount, and the first
    ``per_stage`` cards by expected close date. Won and lost columns hold only what closed
    in the last ``closed_days`` days. Two queries whatever the number of stages."""
    since = timezone.now() - datetime.timedelta(days=closed_days)
    qs = qs.filter(pipeline=pipeline.key).filter(
        Q(status=OpportunityStatus.OPEN) | Q(won_at__gte=since) | Q(lost_at__gte=since))
    columns = {s.key: BoardColumn(stage=s) for s in pipeline.stages}
    sums = (qs.order_by().values("stage")
            .annotate(n=Count("id"), total=Sum("amount"),
                      weighted=Sum(F("amount") * F("probability"), output_field=DecimalField())))
    for row in sums:
        column = columns.get(row["stage"])
        if column is not None:
            column.count = row["n"]
            column.amount = row["total"] or Decimal("0.00")
            column.weighted = money((row["weighted"] or 0) / Decimal(100))
    cards = (qs.annotate(rank=Window(RowNumber(), partition_by=[F("stage")],
                                     order_by=[F("expected_close_date").asc(), F("id").asc()]))
             .filter(rank__lte=per_stage).order_by("stage", "rank"))
    for opportunity in cards:
        column = columns.get(opportunity.stage)
        if column is not None:
            column.cards.append(opportunity)
    return list(columns.values())


def pipeline_open_by_stage(*, actor, pipeline: Pipeline, currency: str = DEFAULT_CURRENCY) -> list[BoardColumn]:
    """The open opportunities the actor may see on ``pipeline`` in ``currency``, per open
    stage in the pipeline's order: count, amount and weighted amount (amount × probability /
    100, summed exactly and rounded half up once per stage); no cards. An open stage the
    pipeline no longer has comes last under its key. One grouped query (the sales dashboard,
    crm.analytics), served by the partial index opp_forecast_open."""
    columns = {s.key: BoardColumn(stage=s) for s in pipeline.open_stages}
    rows = (Opportunity.objects.visible_to(actor)
            .filter(status=OpportunityStatus.OPEN, pipeline=pipeline.key, currency=currency)
            .order_by().values("stage")
            .annotate(n=Count("id"), total=Sum("amount"),
                      weighted=Sum(F("amount") * F("probability"), output_field=DecimalField())))
    for row in rows:
        column = columns.get(row["stage"])
        if column is None:
            column = columns[row["stage"]] = BoardColumn(stage=Stage(
                key=row["stage"], name_zh=row["stage"], name_en=row["stage"], probability=0,
                kind=OpportunityStatus.OPEN))
        column.count = row["n"]
        column.amount = row["total"] or Decimal("0.00")
        column.weighted = money((row["weighted"] or 0) / Decimal(100))
    return list(columns.values())


def opportunities_changed_at() -> datetime.datetime | None:
    """When any opportunity of the tenant last changed (the newest ``updated_at``, read from the
    opp_updated index): pollers compare it to know whether a pipeline view is stale."""
    return Opportunity.objects.order_by("-updated_at", "-id").values_list("updated_at", flat=True).first()


# -- quotes -------------------------------------------------------------------------------------------------
def quote_list_visible_to(*, actor) -> QuerySet[Quote]:
    return Quote.objects.visible_to(actor).select_related("customer", "owner", "opportunity")


def quote_get_for_actor(*, actor, quote_id, for_update: bool = False) -> Quote:
    """The quote if the actor may see it; Quote.DoesNotExist otherwise (a 404)."""
    qs = Quote.objects.visible_to(actor).filter(pk=quote_id)
    if for_update:
        return qs.select_for_update(of=("self",)).select_related("customer").get()
    return qs.select_related("customer", "contact", "owner", "opportunity", "region", "department").get()


def quote_lines(*, quote: Quote) -> list[QuoteLine]:
    return list(quote.lines.order_by("position"))


def quotes_for_opportunity(*, actor, opportunity_id) -> list[Quote]:
    return list(quote_list_visible_to(actor=actor).filter(opportunity_id=opportunity_id)
                .order_by("-created_at", "-id")[:100])


def quotes_for_customer(*, actor, customer_id) -> list[Quote]:
    """The customer's quotes the actor may see, newest first (for the customer's 360° page)."""
    return list(quote_list_visible_to(actor=actor).filter(customer_id=customer_id)
                .order_by("-created_at", "-id")[:100])


def quote_list_filter(qs: QuerySet[Quote], params) -> QuerySet[Quote]:
    """Filters of the quote list: status, customer, opportunity, owner, region (with its
    sub-regions), valid_from / valid_to (validity range, inclusive) and a number or customer
    name fragment (q). A malformed value raises ValidationError naming the parameter."""
    status = (params.get("status") or "").strip()
    if status:
        if status not in QuoteStatus.values:
            raise ValidationError({"status": _("状态必须是 %(choices)s 之一。") % {
                "choices": ", ".join(QuoteStatus.values)}})
        qs = qs.filter(status=status)
    for name in ("customer", "opportunity", "owner"):
        value = _digits(params, name)
        if value is not None:
            qs = qs.filter(**{f"{name}_id": value})
    region = _digits(params, "region")
    if region is not None:
        ids = region_subtree_ids(region_id=region)
        qs = qs.filter(region__in=ids) if ids else qs.none()
    valid_from, valid_to = _date(params, "valid_from"), _date(params, "valid_to")
    if valid_from:
        qs = qs.filter(valid_until__gte=valid_from)
    if valid_to:
        qs = qs.filter(valid_until__lte=valid_to)
    q = (params.get("q") or "").strip()
    if q:
        if len(q) > 100:
            raise ValidationError({"q": _("搜索内容最长 100 个字符。")})
        qs = qs.filter(Q(number__icontains=q) | Q(customer__name__icontains=q))
    return qs


def quote_sort_get(value: str | None) -> tuple[str, ...]:
    if not value:
        return QUOTE_SORTS[QUOTE_SORT_DEFAULT]
    if value not in QUOTE_SORTS:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": value[:40], "choices": ", ".join(QUOTE_SORTS)}})
    return QUOTE_SORTS[value]


def unscoped_quote_ids_past_validity(*, today: datetime.date) -> list[int]:
    """Sent quotes whose validity ended before ``today``, of every owner (for the expiry
    task, which runs as the system)."""
    return list(Quote.objects.filter(status=QuoteStatus.SENT, valid_until__lt=today)
                .order_by("valid_until", "id").values_list("pk", flat=True))


# -- the forecast -------------------------------------------------------------------------------------------
MAX_FORECAST_PERIODS = 60


@dataclass
class ForecastCell:
    open_count: int = 0
    amount: Decimal = Decimal("0.00")
    weighted_raw: Decimal = Decimal("0")  # sum of amount × probability (percent), not yet / 100
    won_count: int = 0
    won_amount: Decimal = Decimal("0.00")

    @property
    def weighted(self) -> Decimal:
        return money(self.weighted_raw / Decimal(100))

    def add(self, other: ForecastCell) -> None:
        self.open_count += other.open_count
        self.amount += other.amount
        self.weighted_raw += other.weighted_raw
        self.won_count += other.won_count
        self.won_amount += other.won_amount

    def as_dict(self) -> dict:
        return {"open_count": self.open_count, "amount": money(self.amount), "weighted": self.weighted,
                "won_count": self.won_count, "won_amount": money(self.won_amount)}


@dataclass(frozen=True)
class ForecastPeriodSpan:
    key: str  # 2026-03 or 2026-Q1
    start: datetime.date
    end: datetime.date  # inclusive


@dataclass
class ForecastGroupRow:
    key: str
    label: str
    cells: dict[str, ForecastCell]  # by period key
    total: ForecastCell


@dataclass
class Forecast:
    period: str
    group: str
    date_from: datetime.date
    date_to: datetime.date
    currency: str
    periods: list[ForecastPeriodSpan]
    groups: list[ForecastGroupRow]
    period_totals: dict[str, ForecastCell]
    total: ForecastCell


def _period_start(day: datetime.date, period: str) -> datetime.date:
    if period == ForecastPeriod.QUARTER:
        return datetime.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return day.replace(day=1)


def _period_key(start: datetime.date, period: str) -> str:
    if period == ForecastPeriod.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def forecast_periods(*, period: str, date_from: datetime.date, date_to: datetime.date) -> list[ForecastPeriodSpan]:
    step = 3 if period == ForecastPeriod.QUARTER else 1
    spans, start = [], _period_start(date_from, period)
    while start <= date_to:
        following = _add_months(start, step)
        spans.append(ForecastPeriodSpan(_period_key(start, period), start, following - datetime.timedelta(days=1)))
        start = following
    return spans


def forecast_params(params) -> dict:
    """period, group, from, to and currency of ``params`` (a query dict), checked:
    ValidationError naming the parameter. Defaults: by month, by owner, the four quarters
    from the current one (what was won lately and what is coming), CNY."""
    period = (params.get("period") or ForecastPeriod.MONTH).strip()
    if period not in ForecastPeriod.values:
        raise ValidationError({"period": _("period 必须是 %(choices)s 之一。") % {
            "choices": ", ".join(ForecastPeriod.values)}})
    group = (params.get("group") or ForecastGroup.OWNER).strip()
    if group not in ForecastGroup.values:
        raise ValidationError({"group": _("group 必须是 %(choices)s 之一。") % {
            "choices": ", ".join(ForecastGroup.values)}})
    date_from = _date(params, "from") or _period_start(timezone.localdate(), ForecastPeriod.QUARTER)
    date_to = _date(params, "to") or _add_months(_period_start(date_from, ForecastPeriod.QUARTER), 12) - \
        datetime.timedelta(days=1)
    if date_to < date_from:
        raise ValidationError({"to": _("结束日期不能早于开始日期。")})
    if len(forecast_periods(period=period, date_from=date_from, date_to=date_to)) > MAX_FORECAST_PERIODS:
        raise ValidationError({"to": _("时间范围太长：最多 %(n)s 个周期。") % {"n": MAX_FORECAST_PERIODS}})
    currency = (params.get("currency") or DEFAULT_CURRENCY).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": _("币种应为三位字母代码，例如 CNY。")})
    return {"period": period, "group": group, "date_from": date_from, "date_to": date_to, "currency": currency}


_GROUP_FIELDS = {ForecastGroup.OWNER: "owner_id", ForecastGroup.REGION: "region_id", ForecastGroup.STAGE: "stage"}


def _group_labels(group: str, keys: set, *, actor) -> dict:
    if group == ForecastGroup.OWNER:
        ids = [k for k in keys if k is not None]
        names = dict(staff_list(actor=actor).filter(pk__in=ids).values_list("pk", "full_name")) if ids else {}
        return {k: names.get(k, f"#{k}") for k in keys}
    if group == ForecastGroup.REGION:
        names = {r.pk: r.name for r in region_tree()} if keys - {None} else {}
        return {k: (names.get(k, f"#{k}") if k is not None else _("未分区域")) for k in keys}
    labels: dict[str, str] = {}
    for pipeline in pipelines().values():
        for stage in pipeline.stages:
            labels.setdefault(stage.key, stage.label)
    return {k: labels.get(k, k) for k in keys}


def forecast(*, actor, period: str = ForecastPeriod.MONTH, group: str = ForecastGroup.OWNER,
             date_from: datetime.date, date_to: datetime.date, currency: str = DEFAULT_CURRENCY) -> Forecast:
    """The forecast of the opportunities the actor may see, in ``currency``:

    * open opportunities by the period (month or quarter) of their expected close date in
      [date_from, date_to]: their count, amount and weighted amount (amount × probability /
      100, summed exactly and rounded half up to the cent once per figure);
    * won opportunities by the period of the day they were won (in the tenant's time zone),
      in the same range: their count and amount;

    each per group (owner, region or stage), per period, and in total. Two grouped queries,
    served by the partial indexes opp_forecast_open and opp_forecast_won."""
    spans = forecast_periods(period=period, date_from=date_from, date_to=date_to)
    trunc = TruncQuarter if period == ForecastPeriod.QUARTER else TruncMonth
    group_field = _GROUP_FIELDS[ForecastGroup(group)]
    visible = Opportunity.objects.visible_to(actor).filter(currency=currency)

    open_rows = (visible.filter(status=OpportunityStatus.OPEN, expected_close_date__gte=date_from,
                                expected_close_date__lte=date_to)
                 .annotate(p=trunc("expected_close_date")).order_by().values("p", group_field)
                 .annotate(n=Count("id"), total=Sum("amount"),
                           weighted=Sum(F("amount") * F("probability"), output_field=DecimalField())))
    tz = timezone.get_current_timezone()
    start_at = datetime.datetime.combine(date_from, datetime.time.min, tzinfo=tz)
    end_at = datetime.datetime.combine(date_to + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    won_rows = (visible.filter(status=OpportunityStatus.WON, won_at__gte=start_at, won_at__lt=end_at)
                .annotate(p=trunc("won_at", tzinfo=tz)).order_by().values("p", group_field)
                .annotate(n=Count("id"), total=Sum("amount")))

    cells: dict = defaultdict(dict)  # group key -> period key -> cell

    def cell(key, day) -> ForecastCell:
        if isinstance(day, datetime.datetime):
            day = timezone.localtime(day, tz).date() if timezone.is_aware(day) else day.date()
        period_key = _period_key(_period_start(day, period), period)
        return cells[key].setdefault(period_key, ForecastCell())

    for row in open_rows:
        target = cell(row[group_field], row["p"])
        target.open_count += row["n"]
        target.amount += row["total"] or 0
        target.weighted_raw += row["weighted"] or 0
    for row in won_rows:
        target = cell(row[group_field], row["p"])
        target.won_count += row["n"]
        target.won_amount += row["total"] or 0

    labels = _group_labels(group, set(cells), actor=actor)
    period_totals = {s.key: ForecastCell() for s in spans}
    total = ForecastCell()
    groups = []
    for key, by_period in cells.items():
        row_total = ForecastCell()
        for period_key, value in by_period.items():
            row_total.add(value)
            period_totals.setdefault(period_key, ForecastCell()).add(value)
            total.add(value)
        groups.append(ForecastGroupRow(key="" if key is None else str(key), label=str(labels.get(key, key)),
                                       cells={s.key: by_period.get(s.key, ForecastCell()) for s in spans},
                                       total=row_total))
    groups.sort(key=lambda g: (-g.total.weighted_raw, -g.total.won_amount, g.label))
    return Forecast(period=period, group=group, date_from=date_from, date_to=date_to, currency=currency,
                    periods=spans, groups=groups, period_totals=period_totals, total=total)



# -- keyset pages of the web lists -----------------------------------------------------------------------
@dataclass
class KeysetPage:
    rows: list
    next_after: str | None = None


def _key_encode(value) -> object:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).isoformat()
    if isinstance(value, (datetime.date, Decimal)):
        return str(value)
    return value


def keyset_page(qs: QuerySet, *, ordering: tuple[str, ...], after: str | None, limit: int = 50) -> KeysetPage:
    """One page of ``qs`` in ``ordering`` (a (key, id) pair, both ascending or both
    descending, as every sort of OPPORTUNITY_SORTS / QUOTE_SORTS is) strictly after the
    position ``after`` (a token from the previous page's ``next_after``): a range scan on
    the (key, id) index, never an OFFSET. A malformed token starts again at the top."""
    key = ordering[0]
    descending = key.startswith("-")
    name = key.lstrip("-")
    qs = qs.order_by(*ordering)
    if after:
        try:
            value, pk = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
            value = qs.model._meta.get_field(name).to_python(value)
            pk = int(pk)
        except (ValueError, TypeError, UnicodeDecodeError, ValidationError):
            value = None
        if value is not None:
            op = "lt" if descending else "gt"
            qs = qs.filter(Q(**{f"{name}__{op}": value}) | Q(**{name: value, f"id__{op}": pk}))
    rows = list(qs[:limit + 1])
    next_after = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        raw = json.dumps([_key_encode(getattr(last, name)), last.pk], separators=(",", ":"))
        next_after = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    return KeysetPage(rows=rows, next_after=next_after)
