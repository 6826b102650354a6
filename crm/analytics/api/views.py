"""Staff API of the sales dashboard: the series of a period (orders, shipments, collections
per month, region or salesperson) and the open pipeline by stage, in the caller's scope. A bad
parameter is a 400 naming it. The sales series carries an ETag: a client that polls sends
If-None-Match and gets 304 while nothing changed."""

from __future__ import annotations

import hashlib

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from crm.analytics import selectors
from crm.analytics.calc import money
from crm.analytics.enums import Breakdown, FactKind, Period
from crm.org.api.base import StaffApiView

from .serializers import DashboardPipelineSerializer, DashboardSalesSerializer

TAGS = ["dashboard"]


def _money(value) -> str:
    return str(money(value))


def _figures(figures: dict) -> dict:
    return {kind: {"amount": _money(figures[kind].amount), "count": figures[kind].count} for kind in FactKind.values}


def sales_data(result: selectors.SalesDashboard, version: str | None) -> dict:
    """The JSON of DashboardSalesSerializer, built directly (amounts as strings with two
    decimals, dates ISO): a series of 300 salespeople through nested serializers would cost
    more than reading the figures."""
    query = result.query
    return {
        "period": query.period, "from": query.date_from.isoformat(), "to": query.date_to.isoformat(),
        "by": query.by, "currency": query.currency,
        "previous": {"from": result.previous_from.isoformat(), "to": result.previous_to.isoformat()},
        "compared_to": result.compared_to.isoformat(),
        "kpis": [{"kind": k.kind, "label": k.label, "amount": _money(k.current.amount), "count": k.current.count,
                  "previous_amount": _money(k.previous.amount), "previous_count": k.previous.count,
                  "change_pct": None if k.change_pct is None else str(k.change_pct)} for k in result.kpis],
        "series": [{"key": row.key, "label": row.label, **_figures(row.figures)} for row in result.rows],
        "totals": _figures(result.totals),
        "other_currencies": [{"currency": code, **_figures(figures)} for code, figures in result.other_currencies],
        "version": version,
    }


def _etag(request, version: str | None) -> str | None:
    """Weak validator of what this caller gets for this query while nothing changes."""
    if version is None:
        return None
    raw = "|".join([version, str(request.user.pk), getattr(request, "LANGUAGE_CODE", ""),
                    request.META.get("QUERY_STRING", "")])
    return 'W/"' + hashlib.sha1(raw.encode(), usedforsecurity=False).hexdigest()[:20] + '"'


class DashboardSalesApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_dashboard_sales", responses={
        200: DashboardSalesSerializer, 304: OpenApiResponse(description="not modified (If-None-Match)"),
        400: OpenApiResponse(description="a bad parameter, named")}, parameters=[
        OpenApiParameter("period", str, enum=Period.values,
                         description="default this_year; custom when from is given"),
        OpenApiParameter("from", OpenApiTypes.DATE, description="first day (custom period)"),
        OpenApiParameter("to", OpenApiTypes.DATE, description="last day, inclusive (custom; default today)"),
        OpenApiParameter("by", str, enum=Breakdown.values, description="the series' breakdown; default month"),
        OpenApiParameter("currency", str, description="default CNY; other currencies are listed apart, never added"),
        OpenApiParameter("If-None-Match", str, OpenApiParameter.HEADER, description="the ETag of a previous answer")],
        description="Approved orders, shipments and collections you may see (your role's scope) in the period: "
                    "KPIs against the previous period, the series by month, region or salesperson, totals, "
                    "and the other currencies' totals. Read from the daily/monthly rollups.")
    def get(self, request):
        version = selectors.dashboard_version()
        query = selectors.dashboard_params(request.query_params)
        etag = _etag(request, version)
        if etag and etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
            response = Response(status=status.HTTP_304_NOT_MODIFIED)
            response["ETag"] = etag
            return response
        result = selectors.sales_dashboard(actor=request.user, query=query)
        response = Response(sales_data(result, version))
        if etag:
            response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


class DashboardPipelineApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_dashboard_pipeline", responses={
        200: DashboardPipelineSerializer, 400: OpenApiResponse(description="a bad parameter, named")}, parameters=[
        OpenApiParameter("pipeline", str, description="a pipeline (business mode) key; default the primary one"),
        OpenApiParameter("currency", str, description="default CNY")],
        description="Open opportunities you may see, per open stage of the pipeline: count, amount and "
                    "weighted amount (amount × probability).")
    def get(self, request):
        params = selectors.pipeline_params(request.query_params)
        summary = selectors.pipeline_summary(actor=request.user, **params)
        data = {
            "pipeline": summary.pipeline.key if summary.pipeline else None,
            "pipelines": [key for key, _label in summary.choices] or (
                [summary.pipeline.key] if summary.pipeline else []),
            "currency": summary.currency,
            "stages": [{"key": c.stage.key, "label": c.stage.label, "probability": c.stage.probability,
                        "count": c.count, "amount": c.amount, "weighted": c.weighted} for c in summary.stages],
            "total": {"count": summary.count, "amount": summary.amount, "weighted": summary.weighted},
        }
        return Response(DashboardPipelineSerializer(data).data)
