"""Partner quotas: targets per period (month, quarter, year), by amount and optionally for one
product category (with its subtree), and their attainment.

Attainment of a quota, for the days of its period (in the tenant's time zone):
- ordered: the totals of the partner's orders approved in the period (``approved_at``), not
  cancelled since; for a category quota, the gross amounts of those orders' lines whose product
  is in the category subtree;
- shipped: the value shipped in the period (``Shipment.shipped_at``): each shipment line is
  worth its order line's gross amount times the shipped share of the line's quantity, rounded to
  the cent (for a category quota, only lines in the subtree);
- collected: the live (not voided) payments received in the period (``received_on``) from the
  partner's customer record, i.e. for its orders; for a category quota each payment counts
  for the share of its order's total that the category's lines make up, rounded to the cent.
Percentages are of the quota's amount, with one decimal."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, DecimalField, F, Q, Sum, When
from django.db.models.functions import Round
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_record
from crm.inputs import parse_decimal

from .enums import QuotaPeriod
from .models import PartnerQuota
from .permissions import can_manage_partners
from .selectors import partner_get_for_actor

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_QUOTA = Decimal("99999999999999.99")
PERIOD_ORDER = {QuotaPeriod.MONTH: 0, QuotaPeriod.QUARTER: 1, QuotaPeriod.YEAR: 2}


@dataclass
class QuotaAttainment:
    quota: PartnerQuota
    ordered: Decimal
    shipped: Decimal
    collected: Decimal
    pct_ordered: Decimal
    pct_shipped: Decimal
    pct_collected: Decimal


# -- periods --------------------------------------------------------------------------------------
def period_start_of(period: str, on: datetime.date) -> datetime.date:
    """The first day of the month, quarter or year that contains ``on``."""
    if period == QuotaPeriod.MONTH:
        return on.replace(day=1)
    if period == QuotaPeriod.QUARTER:
        return datetime.date(on.year, (on.month - 1) // 3 * 3 + 1, 1)
    return datetime.date(on.year, 1, 1)


def period_end_of(period: str, start: datetime.date) -> datetime.date:
    """The last day of the period that starts on ``start``."""
    months = {QuotaPeriod.MONTH: 1, QuotaPeriod.QUARTER: 3, QuotaPeriod.YEAR: 12}[QuotaPeriod(period)]
    month = start.month - 1 + months
    return datetime.date(start.year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)


def previous_period_start(period: str, start: datetime.date) -> datetime.date:
    return period_start_of(period, start - datetime.timedelta(days=1))


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def _pct(value: Decimal, target: Decimal) -> Decimal:
    if not target:
        return Decimal("0.0")
    return (value * 100 / target).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _money(value) -> Decimal:
    return (value or ZERO).quantize(CENT, rounding=ROUND_HALF_UP)


# -- writes ---------------------------------------------------------------------------------------
def _parse_date(value) -> datetime.date:
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationError({"period_start": _("开始日期应为日期，格式 YYYY-MM-DD。")}) from None


def quota_set(*, actor, partner_id: int, period: str, period_start: datetime.date, amount,
              category_id: int | None = None) -> PartnerQuota:
    """Create or replace the quota of a partner (in the actor's scope) for one period and
    category. ``period_start`` must be the first day of its month, quarter or year."""
    if not can_manage_partners(actor):
        raise PermissionDenied(_("你没有管理渠道伙伴的权限。"))
    errors: dict[str, str] = {}
    if period not in QuotaPeriod.values:
        errors["period"] = _("周期只能是 month（月度）、quarter（季度）或 year（年度）。")
    start = None
    try:
        start = _parse_date(period_start)
    except ValidationError as exc:
        errors.update({k: v[0] for k, v in exc.message_dict.items()})
    if start and not errors and period_start_of(period, start) != start:
        errors["period_start"] = _("开始日期必须是该周期的第一天（如 %(day)s）。") % {
            "day": period_start_of(period, start).isoformat()}
    try:
        value = parse_decimal(amount, label=_("目标金额"), places=2, maximum=MAX_QUOTA, positive=True)
    except ValueError as exc:
        errors["amount"] = str(exc)
    category = None
    if category_id not in (None, ""):
        from crm.catalog.selectors import category_get

        try:
            category = category_get(actor=actor, category_id=int(category_id))
        except (ObjectDoesNotExist, TypeError, ValueError):
            errors["category_id"] = _("产品分类不存在。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        try:
            partner = partner_get_for_actor(actor=actor, partner_id=partner_id)
        except (ValueError, TypeError):
            raise ObjectDoesNotExist from None
        quota = (PartnerQuota.objects.select_for_update()
                 .filter(partner=partner, period=period, period_start=start, category=category).first())
        if quota is None:
            quota = PartnerQuota.objects.create(partner=partner, period=period, period_start=start,
                                                period_end=period_end_of(period, start), category=category,
                                                amount=value, created_by=actor)
            audit_record(actor=actor, instance=partner, action="quota_set", changes={"quota": {
                "old": None, "new": {"id": quota.pk, "period": period, "start": start.isoformat(),
                                     "category": category.pk if category else None, "amount": str(value)}}})
            return quota
        if quota.amount == value:
            return quota
        old = quota.amount
        quota.amount = value
        quota.version += 1
        quota.save(update_fields=["amount", "version", "updated_at"])
        audit_record(actor=actor, instance=partner, action="quota_set", changes={"quota": {
            "old": {"id": quota.pk, "amount": str(old)}, "new": {"id": quota.pk, "amount": str(value)}}})
    return quota


def quota_delete(*, actor, quota_id: int, partner_id: int | None = None) -> None:
    """Delete a quota of a partner in the actor's scope (of ``partner_id`` when given, as in a
    URL naming both); PartnerQuota.DoesNotExist otherwise."""
    if not can_manage_partners(actor):
        raise PermissionDenied(_("你没有管理渠道伙伴的权限。"))
    with transaction.atomic():
        quotas = PartnerQuota.objects.select_for_update().filter(pk=quota_id)
        if partner_id is not None:
            quotas = quotas.filter(partner_id=partner_id)
        quota = quotas.first()
        if quota is None:
            raise PartnerQuota.DoesNotExist
        try:
            partner = partner_get_for_actor(actor=actor, partner_id=quota.partner_id)
        except ObjectDoesNotExist:
            raise PartnerQuota.DoesNotExist from None
        audit_record(actor=actor, instance=partner, action="quota_delete", changes={"quota": {
            "old": {"id": quota.pk, "period": quota.period, "start": quota.period_start.isoformat(),
                    "category": quota.category_id, "amount": str(quota.amount)}, "new": None}})
        quota.delete()


# -- reads ----------------------------------------------------------------------------------------
def quotas_of_partner(*, partner_id: int, on: datetime.date | None = None,
                      period: str | None = None) -> list[PartnerQuota]:
    qs = PartnerQuota.objects.filter(partner_id=partner_id).select_related("category")
    if on is not None:
        qs = qs.filter(period_start__lte=on, period_end__gte=on)
    if period:
        qs = qs.filter(period=period)
    return sorted(qs, key=lambda q: (-q.period_start.toordinal(), PERIOD_ORDER.get(q.period, 9),
                                     q.category_id is not None, q.category_id or 0))


def _subtree_ids(category) -> list[int]:
    from crm.catalog.selectors import category_subtree_ids

    return category_subtree_ids(category=category)


# The whole-amount figures of every window in one statement (the portal's home asks for three
# windows on every visit; building the three ORM aggregates cost more than running them). Each
# sub-select is served by an index: orders by (partner, created_at), shipments by their order,
# payments by (customer, received_on).
_WHOLE_SQL = """
SELECT w.i,
  (SELECT SUM(o.total) FROM {order} o
    WHERE o.partner_id = %(partner)s AND o.approved_at >= w.a AND o.approved_at < w.b
      AND o.status <> %(cancelled)s),
  (SELECT SUM(ROUND(ol.gross_amount * sl.quantity / ol.quantity, 2))
     FROM {order} o JOIN {shipment} s ON s.order_id = o.id JOIN {shipment_line} sl ON sl.shipment_id = s.id
     JOIN {order_line} ol ON ol.id = sl.order_line_id
    WHERE o.partner_id = %(partner)s AND s.shipped_at >= w.a AND s.shipped_at < w.b),
  (SELECT SUM(p.amount) FROM {payment} p
    WHERE p.customer_id = %(customer)s AND p.received_on >= w.da AND p.received_on <= w.db AND p.voided_at IS NULL)
FROM unnest(%(a)s::timestamptz[], %(b)s::timestamptz[], %(da)s::date[], %(db)s::date[])
     WITH ORDINALITY AS w(a, b, da, db, i)
ORDER BY w.i
"""


def _whole_figures(partner_id: int, customer_id: int, windows: list[tuple[datetime.date, datetime.date]]
                   ) -> list[tuple[Decimal, Decimal, Decimal]]:
    from django.db import connection

    from crm.finance.models import Payment
    from crm.orders.enums import OrderStatus
    from crm.orders.models import Order, OrderLine, Shipment, ShipmentLine

    sql = _WHOLE_SQL.format(order=Order._meta.db_table, shipment=Shipment._meta.db_table,
                            shipment_line=ShipmentLine._meta.db_table, order_line=OrderLine._meta.db_table,
                            payment=Payment._meta.db_table)
    params = {"partner": partner_id, "customer": customer_id, "cancelled": OrderStatus.CANCELLED,
              "a": [_day_start(a) for a, _b in windows],
              "b": [_day_start(b + datetime.timedelta(days=1)) for _a, b in windows],
              "da": [a for a, _b in windows], "db": [b for _a, b in windows]}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(_money(ordered), _money(shipped), _money(collected)) for _i, ordered, shipped, collected in rows]


def _figures(partner_id: int, customer_id: int, windows: list[tuple[datetime.date, datetime.date]],
             category_ids: list[int] | None) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(ordered, shipped, collected) for each window of days (inclusive): one statement for
    whole-amount quotas, three for a category."""
    from crm.finance.models import Payment
    from crm.orders.enums import OrderStatus
    from crm.orders.models import Order, OrderLine, ShipmentLine

    if not windows:
        return []
    if category_ids is None:
        return _whole_figures(partner_id, customer_id, windows)
    bounds = [(_day_start(a), _day_start(b + datetime.timedelta(days=1))) for a, b in windows]
    lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
    money = DecimalField(max_digits=20, decimal_places=2)

    keys = [f"w{i}" for i in range(len(windows))]

    def sums(qs, stamp: str, value, windows_bounds) -> dict:
        return qs.aggregate(**{
            keys[i]: Sum(Case(When(Q(**{f"{stamp}__gte": a, f"{stamp}__lt": b}), then=value),
                              default=None, output_field=money))
            for i, (a, b) in enumerate(windows_bounds)})

    # ordered
    if category_ids is None:
        ordered = sums(Order.objects.filter(partner_id=partner_id, approved_at__gte=lo, approved_at__lt=hi)
                       .exclude(status=OrderStatus.CANCELLED), "approved_at", F("total"), bounds)
    else:
        ordered = sums(OrderLine.objects.filter(order__partner_id=partner_id, order__approved_at__gte=lo,
                                                order__approved_at__lt=hi, product__category_id__in=category_ids)
                       .exclude(order__status=OrderStatus.CANCELLED), "order__approved_at", F("gross_amount"), bounds)
    # shipped: each shipment line at its share of the order line's gross amount
    shipped_lines = ShipmentLine.objects.filter(shipment__order__partner_id=partner_id,
                                                shipment__shipped_at__gte=lo, shipment__shipped_at__lt=hi)
    if category_ids is not None:
        shipped_lines = shipped_lines.filter(order_line__product__category_id__in=category_ids)
    share = Round(F("order_line__gross_amount") * F("quantity") / F("order_line__quantity"), 2, output_field=money)
    shipped = sums(shipped_lines, "shipment__shipped_at", share, bounds)
    # collected
    day_bounds = [(a, b + datetime.timedelta(days=1)) for a, b in windows]
    payments = Payment.objects.live().filter(customer_id=customer_id, received_on__gte=min(a for a, _b in windows),
                                             received_on__lte=max(b for _a, b in windows))
    collected: dict[str, Decimal] = {}
    if category_ids is None:
        collected = sums(payments, "received_on", F("amount"), day_bounds)
    else:
        rows = list(payments.values_list("order_id", "order__total", "amount", "received_on"))
        order_ids = {r[0] for r in rows}
        in_category = dict(OrderLine.objects.filter(order_id__in=order_ids, product__category_id__in=category_ids)
                           .values("order_id").annotate(s=Sum("gross_amount")).values_list("order_id", "s"))
        for i, (a, b) in enumerate(windows):
            total = ZERO
            for order_id, order_total, amount, received in rows:
                if a <= received <= b and order_total and in_category.get(order_id):
                    total += _money(amount * in_category[order_id] / order_total)
            collected[keys[i]] = total
    return [(_money(ordered[k]), _money(shipped[k]), _money(collected[k])) for k in keys]


def partner_figures(*, partner_id: int, customer_id: int, start: datetime.date, end: datetime.date,
                    category_id: int | None = None) -> tuple[Decimal, Decimal, Decimal]:
    """(ordered, shipped, collected) of a partner over the days from ``start`` to ``end``."""
    from crm.catalog.models import Category

    ids = None
    if category_id:
        category = Category.objects.filter(pk=category_id).first()
        ids = _subtree_ids(category) if category else []
    return _figures(partner_id, customer_id, [(start, end)], ids)[0]


def _attain(quotas: list[PartnerQuota], customer_id: int) -> list[QuotaAttainment]:
    if not quotas:
        return []
    result: dict[int, QuotaAttainment] = {}
    groups: dict[int | None, list[PartnerQuota]] = {}
    for q in quotas:
        groups.setdefault(q.category_id, []).append(q)
    for category_id, group in groups.items():
        ids = _subtree_ids(group[0].category) if category_id else None
        figures = _figures(group[0].partner_id, customer_id, [(q.period_start, q.period_end) for q in group], ids)
        for q, (ordered, shipped, collected) in zip(group, figures, strict=True):
            result[q.pk] = QuotaAttainment(quota=q, ordered=ordered, shipped=shipped, collected=collected,
                                           pct_ordered=_pct(ordered, q.amount), pct_shipped=_pct(shipped, q.amount),
                                           pct_collected=_pct(collected, q.amount))
    return [result[q.pk] for q in quotas]


def _customer_id(partner_id: int) -> int:
    from .models import Partner

    return Partner.objects.filter(pk=partner_id).values_list("customer_id", flat=True).get()


def quota_attainment(*, partner_id: int, on: datetime.date | None = None,
                     period: str | None = None, customer_id: int | None = None) -> list[QuotaAttainment]:
    """The attainment of the partner's quotas: those whose period contains ``on`` (all of them
    when None), of one kind of ``period`` when given; newest first, month before quarter before
    year, the whole-amount quota before category ones. The caller has checked the scope.
    ``customer_id``: the partner's customer record when the caller has it (saves a query)."""
    quotas = quotas_of_partner(partner_id=partner_id, on=on, period=period)
    if not quotas:
        return []
    return _attain(quotas, customer_id if customer_id is not None else _customer_id(partner_id))


def quota_current_for_partner(*, partner_id: int, on: datetime.date | None = None,
                              customer_id: int | None = None) -> list[QuotaAttainment]:
    """The partner's quotas of the current month, quarter and year (as of ``on``, today by
    default) with their attainment (the portal's home page)."""
    return quota_attainment(partner_id=partner_id, on=on or timezone.localdate(), customer_id=customer_id)


# -- ranking --------------------------------------------------------------------------------------
@dataclass
class RankingRow:
    partner: object
    quota: Decimal | None
    ordered: Decimal
    previous: Decimal
    collected: Decimal
    pct_attainment: Decimal | None
    growth_pct: Decimal | None
    collection_pct: Decimal | None


RANK_SORTS = ("attainment", "growth", "collection", "ordered")


def partner_ranking(*, partners, period: str, period_start: datetime.date, sort: str = "attainment",
                    limit: int = 200) -> list[RankingRow]:
    """Partners (a queryset the caller scoped) ranked over one period: attainment of their
    whole-amount quota (ordered / quota), growth of the ordered amount against the previous
    period, and collection rate (collected / ordered in the period). Missing figures sort last."""
    from crm.finance.models import Payment
    from crm.orders.enums import OrderStatus
    from crm.orders.models import Order

    if period not in QuotaPeriod.values:
        raise ValidationError({"period": _("周期只能是 month、quarter 或 year。")})
    if sort not in RANK_SORTS:
        raise ValidationError({"sort": _("排序只能是：%(values)s。") % {"values": ", ".join(RANK_SORTS)}})
    start = period_start_of(period, period_start)
    end = period_end_of(period, start)
    prev = previous_period_start(period, start)
    money = DecimalField(max_digits=20, decimal_places=2)
    a, b, p = _day_start(start), _day_start(end + datetime.timedelta(days=1)), _day_start(prev)
    rows = list(partners.select_related("tier", "owner").order_by())
    ids = [r.pk for r in rows]
    sums = {pid: (cur, old) for pid, cur, old in (
        Order.objects.filter(partner_id__in=ids, approved_at__gte=p, approved_at__lt=b)
        .exclude(status=OrderStatus.CANCELLED).values("partner_id")
        .annotate(cur=Sum(Case(When(approved_at__gte=a, then=F("total")), output_field=money)),
                  old=Sum(Case(When(approved_at__lt=a, then=F("total")), output_field=money)))
        .values_list("partner_id", "cur", "old"))}
    collected = dict(Payment.objects.live().filter(customer_id__in=[r.customer_id for r in rows],
                                                   received_on__gte=start, received_on__lte=end)
                     .values("customer_id").annotate(s=Sum("amount")).values_list("customer_id", "s"))
    targets = dict(PartnerQuota.objects.filter(partner_id__in=ids, period=period, period_start=start,
                                               category__isnull=True).values_list("partner_id", "amount"))
    result = []
    for partner in rows:
        cur, old = sums.get(partner.pk, (None, None))
        cur, old = _money(cur), _money(old)
        got = _money(collected.get(partner.customer_id))
        target = targets.get(partner.pk)
        result.append(RankingRow(
            partner=partner, quota=target, ordered=cur, previous=old, collected=got,
            pct_attainment=_pct(cur, target) if target else None,
            growth_pct=((cur - old) * 100 / old).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP) if old else None,
            collection_pct=_pct(got, cur) if cur else None))
    key = {"attainment": "pct_attainment", "growth": "growth_pct", "collection": "collection_pct",
           "ordered": "ordered"}[sort]
    result.sort(key=lambda r: (getattr(r, key) is None, -(getattr(r, key) or 0), r.partner.code))
    return result[:limit]
