"""Staff API of opportunities, quotes and the forecast. Thin: every read starts from a
selector (``visible_to``), every write is one service call. A record that does not exist,
is in another tenant or is outside the actor's scope answers 404; bad input 400 naming the
field; a transition the current state does not allow 409 naming the current and the wanted
state; a stale version 412."""

from __future__ import annotations

import functools

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from crm.org.api.base import StaffApiView
from crm.org.api.base import validated as _valid
from crm.sales import selectors, services
from crm.sales.enums import (
    OPPORTUNITY_SORTS,
    QUOTE_SORTS,
    ForecastGroup,
    ForecastPeriod,
    OpportunityStatus,
    QuoteStatus,
)

from .serializers import (
    CloseLostSerializer,
    CloseWonSerializer,
    ForecastSerializer,
    NotFoundSerializer,
    OpportunityDetailSerializer,
    OpportunitySerializer,
    OpportunityUpdateSerializer,
    OpportunityWriteSerializer,
    QuoteDetailSerializer,
    QuoteRejectSerializer,
    QuoteSerializer,
    QuoteTransitionSerializer,
    QuoteUpdateSerializer,
    QuoteWriteSerializer,
    ReopenSerializer,
    StageMoveSerializer,
    TransitionConflictSerializer,
)

TAG_OPPORTUNITIES, TAG_QUOTES, TAG_FORECAST = ["opportunities"], ["quotes"], ["forecast"]
ERRORS = {400: None, 404: NotFoundSerializer, 409: TransitionConflictSerializer, 412: None}


def sales_errors(func):
    """NotInScope and missing records: 404 (naming the input when it came from the body);
    TransitionRefused: 409 with the current and the wanted state."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except services.TransitionRefused as exc:
            return Response({"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "conflict",
                             "current": exc.current, "wanted": exc.wanted}, status=status.HTTP_409_CONFLICT)
        except services.NotInScope as exc:
            return Response({"detail": exc.message, "code": "not_found", "field": exc.field},
                            status=status.HTTP_404_NOT_FOUND)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper



def _given(request, values: dict) -> dict:
    """The validated values the client actually sent (a PATCH leaves the rest alone)."""
    return {k: v for k, v in values.items() if k in request.data}


class _Cursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("-updated_at", "-id")


# -- opportunities -------------------------------------------------------------------------------------
def _opportunity_detail(request, opportunity_id, *, code=status.HTTP_200_OK) -> Response:
    opportunity = selectors.opportunity_get_for_actor(actor=request.user, opportunity_id=opportunity_id)
    opportunity.stage_history_rows = selectors.opportunity_stage_history(opportunity=opportunity)
    return Response(OpportunityDetailSerializer(opportunity).data, status=code)


class OpportunityListApi(StaffApiView):
    @extend_schema(tags=TAG_OPPORTUNITIES, operation_id="v1_opportunities_list",
                   responses={200: OpportunitySerializer(many=True), 400: None}, parameters=[
                       OpenApiParameter("owner", int), OpenApiParameter("stage", str),
                       OpenApiParameter("region", int, description="with its sub-regions"),
                       OpenApiParameter("customer", int), OpenApiParameter("pipeline", str),
                       OpenApiParameter("status", str, enum=OpportunityStatus.values),
                       OpenApiParameter("close_from", str, description="expected close date on or after (YYYY-MM-DD)"),
                       OpenApiParameter("close_to", str, description="expected close date on or before"),
                       OpenApiParameter("q", str, description="a fragment of the name or the customer's name"),
                       OpenApiParameter("sort", str, enum=list(OPPORTUNITY_SORTS), description="default -updated_at"),
                       OpenApiParameter("cursor", str), OpenApiParameter("limit", int, description="at most 200")])
    def get(self, request):
        ordering = selectors.opportunity_sort_get(request.query_params.get("sort"))
        qs = selectors.opportunity_list_filter(selectors.opportunity_list_visible_to(actor=request.user),
                                               request.query_params)
        paginator = _Cursor()
        paginator.ordering = ordering
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(OpportunitySerializer(page, many=True).data)

    @extend_schema(tags=TAG_OPPORTUNITIES, request=OpportunityWriteSerializer,
                   responses={201: OpportunityDetailSerializer, **ERRORS})
    @sales_errors
    def post(self, request):
        values = _valid(OpportunityWriteSerializer, request.data)
        values.pop("version", None)
        opportunity = services.opportunity_create(actor=request.user, data=values)
        return _opportunity_detail(request, opportunity.pk, code=status.HTTP_201_CREATED)


class OpportunityDetailApi(StaffApiView):
    @extend_schema(tags=TAG_OPPORTUNITIES, responses={200: OpportunityDetailSerializer, 404: NotFoundSerializer})
    @sales_errors
    def get(self, request, opportunity_id: int):
        return _opportunity_detail(request, opportunity_id)

    @extend_schema(tags=TAG_OPPORTUNITIES, request=OpportunityUpdateSerializer,
                   responses={200: OpportunityDetailSerializer, **ERRORS})
    @sales_errors
    def patch(self, request, opportunity_id: int):
        selectors.opportunity_get_for_actor(actor=request.user, opportunity_id=opportunity_id)
        values = _given(request, _valid(OpportunityUpdateSerializer, request.data, partial=True))
        values.update({k: request.data[k] for k in ("stage", "customer_id") if k in request.data})  # refused
        version = self.edited_version(request, values.pop("version", None))
        services.opportunity_update(actor=request.user, opportunity_id=opportunity_id, data=values,
                                    version=version)
        return _opportunity_detail(request, opportunity_id)


class OpportunityStageApi(StaffApiView):
    @extend_schema(tags=TAG_OPPORTUNITIES, request=StageMoveSerializer,
                   responses={200: OpportunityDetailSerializer, **ERRORS},
                   description="Move to a stage of the opportunity's pipeline; a won or lost stage closes it "
                               "(lost needs lost_reason), an open stage of a closed one reopens it.")
    @sales_errors
    def post(self, request, opportunity_id: int):
        selectors.opportunity_get_for_actor(actor=request.user, opportunity_id=opportunity_id)
        values = _valid(StageMoveSerializer, request.data)
        services.opportunity_move_stage(
            actor=request.user, opportunity_id=opportunity_id, stage=values["stage"],
            probability=values.get("probability"), lost_reason=values.get("lost_reason", ""),
            note=values.get("note", ""), version=self.edited_version(request, values.get("version")))
        return _opportunity_detail(request, opportunity_id)


class OpportunityWonApi(StaffApiView):
    @extend_schema(tags=TAG_OPPORTUNITIES, request=CloseWonSerializer,
                   responses={200: OpportunityDetailSerializer, **ERRORS})
    @sales_errors
    def post(self, request, opportunity_id: int):
        selectors.opportunity_get_for_actor(actor=request.user, opportunity_id=opportunity_id)
        values = _valid(CloseWonSerializer, request.data)
        services.opportunity_close_won(actor=request.user, opportunity_id=opportunity_id,
                                       note=values.get("note", ""),
                                       version=self.edited_version(request, values.get("version")))
        return _opportunity_detail(request, opportunity_id)


class OpportunityLostApi(StaffApiView):
    @extend_schema(tags=TAG_OPPORTUNITIES, request=CloseLostSerializer,
                   responses={200: OpportunityDetailSerializer, **ERRORS})
    @sales_errors
    def post(self, request, opportunity_id: int):
        selectors.opportunity_get_for_actor(actor=request.user, opportunity_id=opportunity_id)
        values = _valid(CloseLostSerializer, request.data)
        services.opportunity_close_lost(actor=request.user, opportunity_id=opportunity_id,
                                        lost_reason=values["lost_reason"], note=values.get("note", ""),
                                        version=self.edited_version(request, values.get("version")))
        return _opportunity_detail(request, opportunity_id)


class OpportunityReopenApi(StaffApiView):
    @extend_schema(tags=TAG_OPPORTUNITIES, request=ReopenSerializer,
                   responses={200: OpportunityDetailSerializer, **ERRORS})
    @sales_errors
    def post(self, request, opportunity_id: int):
        selectors.opportunity_get_for_actor(actor=request.user, opportunity_id=opportunity_id)
        values = _valid(ReopenSerializer, request.data)
        services.opportunity_reopen(actor=request.user, opportunity_id=opportunity_id,
                                    stage=values.get("stage") or None, note=values.get("note", ""),
                                    version=self.edited_version(request, values.get("version")))
        return _opportunity_detail(request, opportunity_id)


# -- quotes ------------------------------------------------------------------------------------------------
def _quote_detail(request, quote_id, *, code=status.HTTP_200_OK) -> Response:
    quote = selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
    quote.line_rows = selectors.quote_lines(quote=quote)
    return Response(QuoteDetailSerializer(quote).data, status=code)


def _lines(values: dict) -> list[dict] | None:
    lines = values.pop("lines", None)
    if lines is None:
        return None
    return [{k: v for k, v in dict(line).items() if v is not None} for line in lines]


class QuoteListApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, operation_id="v1_quotes_list",
                   responses={200: QuoteSerializer(many=True), 400: None}, parameters=[
                       OpenApiParameter("status", str, enum=QuoteStatus.values), OpenApiParameter("customer", int),
                       OpenApiParameter("opportunity", int), OpenApiParameter("owner", int),
                       OpenApiParameter("region", int, description="with its sub-regions"),
                       OpenApiParameter("valid_from", str, description="valid until on or after (YYYY-MM-DD)"),
                       OpenApiParameter("valid_to", str, description="valid until on or before"),
                       OpenApiParameter("q", str, description="a fragment of the number or the customer's name"),
                       OpenApiParameter("sort", str, enum=list(QUOTE_SORTS), description="default -created_at"),
                       OpenApiParameter("cursor", str), OpenApiParameter("limit", int, description="at most 200")])
    def get(self, request):
        ordering = selectors.quote_sort_get(request.query_params.get("sort"))
        qs = selectors.quote_list_filter(selectors.quote_list_visible_to(actor=request.user), request.query_params)
        paginator = _Cursor()
        paginator.ordering = ordering
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(QuoteSerializer(page, many=True).data)

    @extend_schema(tags=TAG_QUOTES, request=QuoteWriteSerializer, responses={201: QuoteDetailSerializer, **ERRORS})
    @sales_errors
    def post(self, request):
        values = _valid(QuoteWriteSerializer, request.data)
        values.pop("version", None)
        lines = _lines(values) or []
        quote = services.quote_create(actor=request.user, data=values, lines=lines)
        return _quote_detail(request, quote.pk, code=status.HTTP_201_CREATED)


class QuoteDetailApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, responses={200: QuoteDetailSerializer, 404: NotFoundSerializer})
    @sales_errors
    def get(self, request, quote_id: int):
        return _quote_detail(request, quote_id)

    @extend_schema(tags=TAG_QUOTES, request=QuoteUpdateSerializer, responses={200: QuoteDetailSerializer, **ERRORS},
                   description="Edit a draft; `lines` (when sent) replace every line. Not a draft: 409.")
    @sales_errors
    def patch(self, request, quote_id: int):
        selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
        values = _given(request, _valid(QuoteUpdateSerializer, request.data, partial=True))
        if "customer_id" in request.data:
            values["customer_id"] = request.data["customer_id"]  # refused by the service, with the reason
        version = self.edited_version(request, values.pop("version", None))
        lines = _lines(values)
        services.quote_update(actor=request.user, quote_id=quote_id, data=values, lines=lines, version=version)
        return _quote_detail(request, quote_id)


class QuoteSendApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, request=QuoteTransitionSerializer,
                   responses={200: QuoteDetailSerializer, **ERRORS},
                   description="draft -> sent, through the tenant's quote approval policy: when a step applies the "
                               "quote waits in approval (status in_approval) and is sent by calling this again once "
                               "approved; approved -> sent.")
    @sales_errors
    def post(self, request, quote_id: int):
        selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
        values = _valid(QuoteTransitionSerializer, request.data)
        services.quote_send(actor=request.user, quote_id=quote_id,
                            version=self.edited_version(request, values.get("version")))
        return _quote_detail(request, quote_id)


class QuoteRecallApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, request=None, responses={200: QuoteDetailSerializer, **ERRORS},
                   description="in_approval -> draft: its submitter takes it back before anyone decided.")
    @sales_errors
    def post(self, request, quote_id: int):
        selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
        services.quote_recall(actor=request.user, quote_id=quote_id)
        return _quote_detail(request, quote_id)


class QuoteReopenApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, request=QuoteTransitionSerializer,
                   responses={200: QuoteDetailSerializer, **ERRORS},
                   description="approved -> draft, to change it before sending (it needs approval again).")
    @sales_errors
    def post(self, request, quote_id: int):
        selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
        values = _valid(QuoteTransitionSerializer, request.data)
        services.quote_reopen(actor=request.user, quote_id=quote_id,
                              version=self.edited_version(request, values.get("version")))
        return _quote_detail(request, quote_id)


class QuoteAcceptApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, request=QuoteTransitionSerializer,
                   responses={200: QuoteDetailSerializer, **ERRORS}, description="sent -> accepted")
    @sales_errors
    def post(self, request, quote_id: int):
        selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
        values = _valid(QuoteTransitionSerializer, request.data)
        services.quote_accept(actor=request.user, quote_id=quote_id,
                              version=self.edited_version(request, values.get("version")))
        return _quote_detail(request, quote_id)


class QuoteRejectApi(StaffApiView):
    @extend_schema(tags=TAG_QUOTES, request=QuoteRejectSerializer,
                   responses={200: QuoteDetailSerializer, **ERRORS}, description="sent -> rejected")
    @sales_errors
    def post(self, request, quote_id: int):
        selectors.quote_get_for_actor(actor=request.user, quote_id=quote_id)
        values = _valid(QuoteRejectSerializer, request.data)
        services.quote_reject(actor=request.user, quote_id=quote_id, reason=values.get("reason", ""),
                              version=self.edited_version(request, values.get("version")))
        return _quote_detail(request, quote_id)


# -- the forecast ------------------------------------------------------------------------------------------
def forecast_data(result: selectors.Forecast) -> dict:
    """The forecast as the API (and the page's tests) see it."""
    def cells(by_period: dict) -> list[dict]:
        return [{"period": span.key, **by_period[span.key].as_dict()} for span in result.periods]

    return {
        "period": result.period, "group": result.group, "from": result.date_from, "to": result.date_to,
        "currency": result.currency,
        "periods": [{"key": s.key, "start": s.start, "end": s.end} for s in result.periods],
        "groups": [{"key": g.key, "label": g.label, "cells": cells(g.cells), "total": g.total.as_dict()}
                   for g in result.groups],
        "period_totals": cells(result.period_totals),
        "total": result.total.as_dict(),
    }


class ForecastApi(StaffApiView):
    @extend_schema(tags=TAG_FORECAST, responses={200: ForecastSerializer, 400: None}, parameters=[
        OpenApiParameter("period", str, enum=ForecastPeriod.values, description="default month"),
        OpenApiParameter("group", str, enum=ForecastGroup.values, description="default owner"),
        OpenApiParameter("from", str, description="first day (YYYY-MM-DD); default: the first day of this quarter"),
        OpenApiParameter("to", str, description="last day, inclusive; default: a year after the from quarter"),
        OpenApiParameter("currency", str, description="default CNY; other currencies are not mixed in")],
        description="Open opportunities you may see by the period of their expected close date (count, "
                    "amount, amount × probability), and won ones by the period they were won, per owner, "
                    "region or stage.")
    def get(self, request):
        params = selectors.forecast_params(request.query_params)
        result = selectors.forecast(actor=request.user, **params)
        return Response(ForecastSerializer(forecast_data(result)).data)
