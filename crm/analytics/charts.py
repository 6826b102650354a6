"""The dashboard's charts: inline SVG drawn on the server with crm.sales.charts' grouped bars
(the forecast's chart; no script, no CDN). Here only what to draw: which rows, which series."""

from __future__ import annotations

from decimal import Decimal

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from crm.sales.charts import grouped_bars_svg

from .enums import CHART_GROUPS, Breakdown, FactKind
from .selectors import DashboardRow, Figure, PipelineSummary, kind_labels

# orders blue, shipments amber, collections green (the customers charts' palette)
KIND_COLORS = ("#2e86de", "#f39c12", "#27ae60")
MAX_SCALE = 2.2  # a chart of a few groups is drawn at most this much larger than its natural size


def sales_chart(rows: list[DashboardRow], *, by: str, title: str) -> SafeString:
    """Orders, shipments and collections side by side per month, region or salesperson. Past
    CHART_GROUPS regions or salespeople the rest are drawn as one group ("其他"); the table
    under the chart lists every one."""
    shown = list(rows)
    if by != Breakdown.MONTH and len(shown) > CHART_GROUPS:
        rest = shown[CHART_GROUPS - 1:]
        shown = shown[:CHART_GROUPS - 1]
        other = DashboardRow(key="", label=_("其他 %(n)s 项") % {"n": len(rest)}, figures={
            kind: Figure(amount=sum((r.figures[kind].amount for r in rest), Decimal("0.00")),
                         count=sum(r.figures[kind].count for r in rest)) for kind in FactKind.values})
        shown.append(other)
    labels = kind_labels()
    return grouped_bars_svg([r.label for r in shown], [
        (labels[kind], [r.figures[kind].amount for r in shown]) for kind in FactKind.values], title=title,
        colors=KIND_COLORS, max_scale=MAX_SCALE)


def pipeline_chart(summary: PipelineSummary, *, title: str) -> SafeString:
    return grouped_bars_svg([c.stage.label for c in summary.stages], [
        (_("金额"), [c.amount for c in summary.stages]),
        (_("加权金额"), [c.weighted for c in summary.stages]),
    ], title=title, colors=("#c7d2e0", "#2e86de"), max_scale=MAX_SCALE)
