"""The sales dashboard (web, htmx): period picker, breakdown switch, currency, KPI tiles, the
charts (inline SVG) with their tables, the open pipeline by stage, CSV exports. The figures
refresh themselves: every POLL_SECONDS the page asks ``figures/`` with the version it shows;
the answer is 204 (no change, one Redis read) or the new figures. Thin: selectors in."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from crm.customers.exports import escape_cell
from crm.org.enums import Scope
from crm.org.web import validation_messages as _messages_of

from . import charts, selectors
from .enums import POLL_SECONDS, Breakdown, FactKind, Period


def _read(request):
    """The dashboard's query and the pipeline's parameters from the query string; a bad
    parameter is shown (naming it) and the defaults used instead."""
    errors: list[str] = []
    try:
        query = selectors.dashboard_params(request.GET)
    except ValidationError as exc:
        errors += _messages_of(exc)
        query = selectors.dashboard_params({})
    try:
        pipeline_key = selectors.pipeline_params(request.GET)["pipeline_key"]
    except ValidationError as exc:
        if "currency" not in exc.message_dict:  # the dashboard's check has named it already
            errors += _messages_of(exc)
        pipeline_key = None
    return query, pipeline_key, errors


def _link(params: dict, **changes) -> str:
    merged = {**params, **changes}
    if merged.get("period") != Period.CUSTOM:
        merged.pop("from", None)
        merged.pop("to", None)
    return "?" + urlencode({k: v for k, v in merged.items() if v not in (None, "")})


def _context(request, *, version: str | None) -> dict:
    query, pipeline_key, errors = _read(request)
    result = selectors.sales_dashboard(actor=request.user, query=query)
    pipeline = selectors.pipeline_summary(actor=request.user, pipeline_key=pipeline_key, currency=query.currency)
    params = {**query.as_params(), "pipeline": pipeline_key or ""}
    by_label = dict(Breakdown.choices)[query.by]
    labels, counts = selectors.kind_labels(), selectors.kind_count_labels()
    return {
        "result": result, "query": query, "pipeline": pipeline, "errors": errors, "version": version or "",
        "kinds": [(kind, labels[kind], counts[kind]) for kind in FactKind.values], "by_label": by_label,
        "sales_chart": None if result.empty else charts.sales_chart(
            result.rows, by=query.by, title=_("订单、发货与回款（%(by)s）") % {"by": by_label}),
        "pipeline_chart": None if pipeline.empty else charts.pipeline_chart(pipeline, title=_("进行中的商机（按阶段）")),
        "query_string": urlencode({k: v for k, v in params.items() if v}),
        "period_links": [(value, label, _link(params, period=value)) for value, label in Period.choices
                         if value != Period.CUSTOM],
        "by_links": [(value, label, _link(params, by=value)) for value, label in Breakdown.choices],
        "currency_links": [(code, _link(params, currency=code)) for code in result.currencies],
        "pipeline_links": [(key, _link(params, pipeline=key)) for key, _label in pipeline.choices],
        "total_cells": [result.totals[kind] for kind in FactKind.values],
        "other_rows": [(code, [figures[kind] for kind in FactKind.values], _link(params, currency=code))
                       for code, figures in result.other_currencies],
        "scope_label": dict(Scope.choices).get(request.user.effective_scope(), ""),
        "poll_seconds": POLL_SECONDS, "refreshed_at": timezone.localtime(),
    }


@login_required
@require_GET
def dashboard(request):
    version = selectors.dashboard_version()  # read before the figures: a change meanwhile shows next time
    return render(request, "analytics/dashboard.html", _context(request, version=version))


@require_GET
def figures(request):
    """The figures part of the page, for the page's poll: 204 when the version it shows
    (``v``) is still current, the new figures otherwise. A poll whose session ended sends the
    browser to sign in (HX-Redirect) instead of swapping the sign-in page into the figures."""
    if not request.user.is_authenticated:
        if getattr(request, "htmx", False):
            return HttpResponse(status=204, headers={"HX-Redirect": redirect_to_login(request.get_full_path(
                ).replace(reverse("analytics:figures"), reverse("analytics:dashboard"), 1)).url})
        return redirect_to_login(request.get_full_path())
    version = selectors.dashboard_version()
    if version is not None and request.GET.get("v") == version:
        return HttpResponse(status=204)
    return render(request, "analytics/_figures.html", _context(request, version=version))


class _Echo:
    def write(self, value):
        return value


def _csv_response(filename: str, rows: list[list]) -> HttpResponse:
    writer = csv.writer(_Echo())
    body = "\ufeff" + "".join(writer.writerow([escape_cell(v) for v in row]) for row in rows)
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def export(request, table: str):
    """The table under a chart as CSV (UTF-8 with a BOM for Excel; cells a spreadsheet would
    evaluate are escaped): ``sales`` (the breakdown) or ``pipeline`` (stages)."""
    if table not in ("sales", "pipeline"):
        raise Http404
    query, pipeline_key, errors = _read(request)
    if errors:
        return HttpResponse("\n".join(errors), status=400, content_type="text/plain; charset=utf-8")
    labels = selectors.kind_labels()
    if table == "pipeline":
        summary = selectors.pipeline_summary(actor=request.user, pipeline_key=pipeline_key, currency=query.currency)
        rows = [[_("阶段"), _("赢率（%）"), _("商机数"), _("金额"), _("加权金额"), _("币种")]]
        rows += [[c.stage.label, c.stage.probability, c.count, c.amount, c.weighted, query.currency]
                 for c in summary.stages]
        rows.append([_("合计"), "", summary.count, summary.amount, summary.weighted, query.currency])
        key = summary.pipeline.key if summary.pipeline else "none"
        return _csv_response(f"pipeline-{key}-{query.currency}.csv", rows)
    result = selectors.sales_dashboard(actor=request.user, query=query)
    counts = selectors.kind_count_labels()
    head = [dict(Breakdown.choices)[query.by]]
    for kind in FactKind.values:
        head += [labels[kind], counts[kind]]
    rows = [head + [_("币种")]]
    for row in result.rows:
        cells = [row.label]
        for kind in FactKind.values:
            cells += [row.figures[kind].amount, row.figures[kind].count]
        rows.append(cells + [query.currency])
    total = [_("合计")]
    for kind in FactKind.values:
        total += [result.totals[kind].amount, result.totals[kind].count]
    rows.append(total + [query.currency])
    name = f"sales-{query.date_from:%Y%m%d}-{query.date_to:%Y%m%d}-{query.by}-{query.currency}.csv"
    return _csv_response(name, rows)
