"""Staff API of orders: the list and creation (with Idempotency-Key), an order with its lines,
totals and timeline, edits of a draft (version / If-Match: a stale one is 412), the
transitions (submit, cancel, recall, retry the stock reservation), shipments, attachments and
customers' credit limits. Thin: selectors in, services out.

An order or customer outside the actor's scope is 404; an operation the actor may not do,
403; bad input, 400 naming the field (each order line by its number); a state that does not
allow the transition, 409 naming the current and the wanted state; a stale version, 412; a
reused Idempotency-Key with another body, 422; a file over the size limit, 413."""

from __future__ import annotations

import functools

from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404
from django.utils.translation import get_language
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.approvals.services import ApprovalConflict
from crm.customers.selectors import customer_get_for_actor
from crm.orders import selectors, services
from crm.orders.enums import ORDER_SORTS, OrderStatus
from crm.orders.idempotency import IDEMPOTENCY_HEADER, idempotent
from crm.org.api.base import StaffApiView
from crm.org.api.base import validated as _valid
from crm.sales.services import TransitionRefused as QuoteTransitionRefused

from .serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    CancelSerializer,
    CreditSerializer,
    CreditWriteSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
    OrderWriteSerializer,
    ShipmentSerializer,
    ShipmentWriteSerializer,
    VersionSerializer,
)

TAGS = ["orders"]
ERROR = inline_serializer("OrderError", {"detail": serializers.CharField(), "code": serializers.CharField()})
CONFLICT = inline_serializer("OrderConflict", {
    "detail": serializers.CharField(), "code": serializers.CharField(),
    "current_status": serializers.CharField(required=False), "wanted_status": serializers.CharField(required=False),
    "lines": serializers.ListField(child=serializers.CharField(), required=False)})
ERRORS = {400: OpenApiResponse(description="bad input, naming the field and the rule"),
          403: ERROR, 404: ERROR, 409: CONFLICT}


def order_errors(func):
    """Missing or invisible records are 404; a transition the state does not allow, an
    approval conflict or a stock shortage 409; a file too large 413."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (services.TransitionRefused, QuoteTransitionRefused) as exc:
            return Response({"detail": " ".join(exc.messages), "code": exc.code or "transition_not_allowed",
                             "current_status": exc.current, "wanted_status": exc.wanted},
                            status=status.HTTP_409_CONFLICT)
        except services.StockShort as exc:
            return Response({"detail": " ".join(exc.messages), "code": "stock_short", "lines": exc.messages},
                            status=status.HTTP_409_CONFLICT)
        except ApprovalConflict as exc:
            return Response({"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "conflict"},
                            status=status.HTTP_409_CONFLICT)
        except services.AttachmentTooLarge as exc:
            return Response({"detail": " ".join(exc.messages), "code": "too_large"},
                            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper



def _lines_of(values: dict) -> None:
    if "lines" in values:
        values["lines"] = [dict(line) for line in values["lines"]]


def _order(request, order_id):
    return selectors.order_get_for_actor(actor=request.user, order_id=order_id)


def detail_response(request, order_id, *, code=status.HTTP_200_OK) -> Response:
    order = selectors.order_detail(order=_order(request, order_id))
    history = selectors.order_approval_history(order=order)
    order.timeline = selectors.order_timeline(order=order, history=history, language=get_language() or "")
    order.approval = next((r for r in history if r.status == "pending"), None)
    order.actions = selectors.order_actions_for(actor=request.user, order=order, history=history)
    response = Response(OrderDetailSerializer(order).data, status=code)
    response["ETag"] = f'"{order.version}"'
    return response


class OrderCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ORDER_SORTS["-created_at"]


ORDER_PAGE = inline_serializer("OrderPage", {
    "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
    "results": OrderListSerializer(many=True)})


class OrderListApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_orders_list", responses={200: ORDER_PAGE, 400: ERROR}, parameters=[
        OpenApiParameter("status", str, description="one or several, comma-separated: " + ", ".join(OrderStatus.values)),
        OpenApiParameter("customer", int), OpenApiParameter("owner", int),
        OpenApiParameter("region", int, description="with its sub-regions"),
        OpenApiParameter("created_from", OpenApiTypes.DATE), OpenApiParameter("created_to", OpenApiTypes.DATE),
        OpenApiParameter("submitted_from", OpenApiTypes.DATE), OpenApiParameter("submitted_to", OpenApiTypes.DATE),
        OpenApiParameter("q", str, description="order number or its beginning, e.g. SO2026-0001"),
        OpenApiParameter("sort", str, enum=list(ORDER_SORTS), description="default -created_at"),
        OpenApiParameter("cursor", str, description="from the next / previous links"),
        OpenApiParameter("limit", int, description="page size, at most 200 (default 50)")])
    def get(self, request):
        sort = selectors.order_sort_get(request.query_params.get("sort"))
        qs = selectors.order_list(actor=request.user, params=request.query_params)
        paginator = OrderCursor()
        paginator.ordering = ORDER_SORTS[sort]
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(OrderListSerializer(page, many=True).data)

    @extend_schema(tags=TAGS, request=OrderWriteSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: OrderDetailSerializer, 422: ERROR, **ERRORS})
    @idempotent
    @order_errors
    def post(self, request):
        values = _valid(OrderWriteSerializer, request.data)
        values.pop("version", None)
        _lines_of(values)
        order = services.order_create(actor=request.user, data=values)
        return detail_response(request, order.pk, code=status.HTTP_201_CREATED)


class OrderFromQuoteApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, request=inline_serializer("OrderFromQuote", {"quote_id": serializers.IntegerField()}),
                   responses={201: OrderDetailSerializer, **ERRORS},
                   description="A draft order from an accepted quote (the quote becomes converted); "
                               "again for the same quote: its order.")
    @order_errors
    def post(self, request):
        order = services.order_create_from_quote(actor=request.user, quote_id=(request.data or {}).get("quote_id"))
        return detail_response(request, order.pk, code=status.HTTP_201_CREATED)


class OrderDetailApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, responses={200: OrderDetailSerializer, 404: ERROR})
    @order_errors
    def get(self, request, order_id: int):
        return detail_response(request, order_id)

    @extend_schema(tags=TAGS, request=OrderWriteSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER,
                                                description='the version edited, e.g. "3" (or the body\'s version)')],
                   responses={200: OrderDetailSerializer, 412: ERROR, **ERRORS})
    @order_errors
    def patch(self, request, order_id: int):
        _order(request, order_id)
        values = _valid(OrderWriteSerializer, request.data, partial=True)
        version = self.edited_version(request, values.pop("version", None))
        values.pop("owner_id", None)
        _lines_of(values)
        services.order_update(actor=request.user, order_id=order_id, data=values, version=version)
        return detail_response(request, order_id)


class OrderSubmitApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, request=VersionSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={200: OrderDetailSerializer, 412: ERROR, 422: ERROR, **ERRORS},
                   description="draft -> submitted -> in approval (or approved when no approval step applies).")
    @idempotent
    @order_errors
    def post(self, request, order_id: int):
        _order(request, order_id)
        values = _valid(VersionSerializer, request.data or {})
        version = self.edited_version(request, values.get("version"))
        services.order_submit(actor=request.user, order_id=order_id, version=version)
        return detail_response(request, order_id)


class OrderCancelApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, request=CancelSerializer, responses={200: OrderDetailSerializer, **ERRORS},
                   description="draft, submitted, approved (and in approval, recalled first by its submitter) "
                               "-> cancelled; the stock it holds is released.")
    @order_errors
    def post(self, request, order_id: int):
        _order(request, order_id)
        values = _valid(CancelSerializer, request.data or {})
        services.order_cancel(actor=request.user, order_id=order_id, reason=values.get("reason", ""))
        return detail_response(request, order_id)


class OrderRecallApi(StaffApiView):
    @extend_schema(tags=TAGS, request=None, responses={200: OrderDetailSerializer, **ERRORS},
                   description="in approval -> draft, by the submitter before anyone decided.")
    @order_errors
    def post(self, request, order_id: int):
        _order(request, order_id)
        services.order_recall(actor=request.user, order_id=order_id)
        return detail_response(request, order_id)


class OrderStockReserveApi(StaffApiView):
    @extend_schema(tags=TAGS, request=None, responses={200: OrderDetailSerializer, **ERRORS},
                   description="Retry the stock reservation of an approved order whose stock was short.")
    @order_errors
    def post(self, request, order_id: int):
        _order(request, order_id)
        services.order_stock_reserve(actor=request.user, order_id=order_id)
        return detail_response(request, order_id)


class OrderShipmentListApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, responses={200: ShipmentSerializer(many=True), 404: ERROR})
    @order_errors
    def get(self, request, order_id: int):
        order = _order(request, order_id)
        return Response(ShipmentSerializer(selectors.shipments_for_order(order=order), many=True).data)

    @extend_schema(tags=TAGS, request=ShipmentWriteSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: ShipmentSerializer, 422: ERROR, **ERRORS},
                   description="Warehouse staff: goods out (partial allowed) from one warehouse. The same "
                               "external_id again returns the shipment it made.")
    @idempotent
    @order_errors
    def post(self, request, order_id: int):
        order = _order(request, order_id)
        values = _valid(ShipmentWriteSerializer, request.data)
        if "lines" in values:
            values["lines"] = [dict(line) for line in values["lines"]]
        shipment = services.shipment_create(actor=request.user, order_id=order.pk, data=values)
        made = next(s for s in selectors.shipments_for_order(order=order) if s.pk == shipment.pk)
        return Response(ShipmentSerializer(made).data, status=status.HTTP_201_CREATED)


class OrderAttachmentListApi(StaffApiView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(tags=TAGS, responses={200: AttachmentSerializer(many=True), 404: ERROR})
    @order_errors
    def get(self, request, order_id: int):
        order = selectors.order_detail(order=_order(request, order_id))
        return Response(AttachmentSerializer(order.attachments.all(), many=True).data)

    @extend_schema(tags=TAGS, request={"multipart/form-data": AttachmentUploadSerializer},
                   responses={201: AttachmentSerializer, 413: ERROR, **ERRORS},
                   description="pdf, jpg, png, xlsx, xls, docx, doc, txt, csv; at most 10 MB.")
    @order_errors
    def post(self, request, order_id: int):
        order = _order(request, order_id)
        attachment = services.attachment_add(actor=request.user, order_id=order.pk, upload=request.FILES.get("file"))
        attachment = selectors.order_attachment_get(order=order, attachment_id=attachment.pk)
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class OrderAttachmentDetailApi(StaffApiView):
    @extend_schema(tags=TAGS, responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: ERROR})
    @order_errors
    def get(self, request, order_id: int, attachment_id: int):
        order = _order(request, order_id)
        attachment = selectors.order_attachment_get(order=order, attachment_id=attachment_id)
        try:
            handle = attachment.file.open("rb")
        except FileNotFoundError:
            raise Http404 from None
        return FileResponse(handle, as_attachment=True, filename=attachment.name, content_type=attachment.content_type)

    @extend_schema(tags=TAGS, responses={204: None, 403: ERROR, 404: ERROR})
    @order_errors
    def delete(self, request, order_id: int, attachment_id: int):
        order = _order(request, order_id)
        services.attachment_remove(actor=request.user, order_id=order.pk, attachment_id=attachment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# -- credit limits --------------------------------------------------------------------------------
def _credit_payload(customer_id: int) -> dict:
    credit = selectors.customer_credit_get(customer_id=customer_id)
    state = selectors.credit_status_for_customer(customer_id=customer_id)
    return {"customer_id": customer_id, "limit": credit.limit if credit else None, "currency": state.currency,
            "open_receivables": state.open_receivables, "available": state.available,
            "note": credit.note if credit else "", "version": credit.version if credit else 0,
            "updated_at": credit.updated_at if credit else None}


class CustomerCreditApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_customers_credit_retrieve", responses={200: CreditSerializer, 404: ERROR},
                   description="The customer's credit limit and its open receivables (approved, unpaid orders).")
    @order_errors
    def get(self, request, customer_id: int):
        customer = customer_get_for_actor(actor=request.user, customer_id=customer_id)
        return Response(CreditSerializer(_credit_payload(customer.pk)).data)

    @extend_schema(tags=TAGS, operation_id="v1_customers_credit_update", request=CreditWriteSerializer,
                   responses={200: CreditSerializer, 412: ERROR, **ERRORS},
                   description="Finance: set (or, with limit null, remove) the credit limit.")
    @order_errors
    def put(self, request, customer_id: int):
        customer = customer_get_for_actor(actor=request.user, customer_id=customer_id)
        values = _valid(CreditWriteSerializer, request.data)
        version = self.edited_version(request, values.get("version"))
        services.customer_credit_set(actor=request.user, customer_id=customer.pk, limit=values.get("limit"),
                                     currency=values.get("currency") or "CNY", note=values.get("note", ""),
                                     version=version)
        return Response(CreditSerializer(_credit_payload(customer.pk)).data)

