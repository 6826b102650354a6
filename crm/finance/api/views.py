"""Staff API of finance: invoices (list, read, issue with an Idempotency-Key, void), payments
(list, read, record with an Idempotency-Key, void) and the aged receivables report (JSON, CSV,
XLSX). Thin: selectors in, services out.

An invoice, payment, order or customer outside the actor's scope is 404; an operation the
actor may not do, 403; bad input, 400 naming the field; an amount over what is left to
invoice or still owed, 422 naming the field; a state that does not allow the operation (an
order not shipped, an invoice with payments), 409; a stale version, 412; a reused
Idempotency-Key with another body, 422."""

from __future__ import annotations

import functools

from django.core.exceptions import ObjectDoesNotExist
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from crm.finance import exports, selectors, services
from crm.finance.enums import (
    AGING_BUCKETS,
    INVOICE_SORTS,
    PAYMENT_SORTS,
    InvoiceStatus,
    PaymentMethod,
)
from crm.orders.idempotency import IDEMPOTENCY_HEADER, idempotent
from crm.org.api.base import StaffApiView
from crm.org.api.base import validated as _valid

from .serializers import (
    AgingReportSerializer,
    InvoiceDetailSerializer,
    InvoiceListSerializer,
    InvoiceWriteSerializer,
    PaymentDetailSerializer,
    PaymentListSerializer,
    PaymentWriteSerializer,
    VoidSerializer,
)

TAGS = ["finance"]
ERROR = inline_serializer("FinanceError", {"detail": serializers.CharField(), "code": serializers.CharField()})
CONFLICT = inline_serializer("FinanceConflict", {
    "detail": serializers.CharField(), "code": serializers.CharField(),
    "current_status": serializers.CharField(required=False)})
TOO_LARGE = OpenApiResponse(description="an amount over what is left to invoice or still owed: detail, code and "
                                        "the field (total, tax_amount or amount) with its message")
ERRORS = {400: OpenApiResponse(description="bad input, naming the field and the rule"), 403: ERROR, 404: ERROR,
          409: CONFLICT}
IF_MATCH = OpenApiParameter("If-Match", str, OpenApiParameter.HEADER,
                            description='the version seen, e.g. "3" (or the body\'s version)')


def finance_errors(func):
    """Missing or invisible records are 404; a state that does not allow the operation 409; an
    amount over what is left 422 naming the field."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except services.FinanceConflict as exc:
            return Response({"detail": " ".join(exc.messages), "code": exc.code or "conflict",
                             "current_status": exc.current}, status=status.HTTP_409_CONFLICT)
        except services.AmountTooLarge as exc:
            return Response({"detail": exc.message, "code": exc.code, exc.field: [exc.message]},
                            status=status.HTTP_422_UNPROCESSABLE_ENTITY)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper



def invoice_response(request, invoice_id, *, code=status.HTTP_200_OK) -> Response:
    invoice = selectors.invoice_detail(invoice=selectors.invoice_get_for_actor(actor=request.user,
                                                                               invoice_id=invoice_id))
    response = Response(InvoiceDetailSerializer(invoice).data, status=code)
    response["ETag"] = f'"{invoice.version}"'
    return response


def payment_response(request, payment_id, *, code=status.HTTP_200_OK) -> Response:
    payment = selectors.payment_get_for_actor(actor=request.user, payment_id=payment_id)
    response = Response(PaymentDetailSerializer(payment).data, status=code)
    response["ETag"] = f'"{payment.version}"'
    return response


class _Cursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"


INVOICE_PAGE = inline_serializer("InvoicePage", {
    "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
    "results": InvoiceListSerializer(many=True)})
PAYMENT_PAGE = inline_serializer("PaymentPage", {
    "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
    "results": PaymentListSerializer(many=True)})


class InvoiceListApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_invoices_list", responses={200: INVOICE_PAGE, 400: ERROR}, parameters=[
        OpenApiParameter("status", str, description="one or several, comma-separated: " + ", ".join(InvoiceStatus.values)),
        OpenApiParameter("customer", int), OpenApiParameter("owner", int), OpenApiParameter("order", int),
        OpenApiParameter("region", int, description="with its sub-regions"),
        OpenApiParameter("issued_from", OpenApiTypes.DATE), OpenApiParameter("issued_to", OpenApiTypes.DATE),
        OpenApiParameter("overdue", bool, description="unpaid and past the due date (sorted by due date)"),
        OpenApiParameter("bucket", str, enum=list(AGING_BUCKETS), description="unpaid invoices of that age on as_of"),
        OpenApiParameter("as_of", OpenApiTypes.DATE, description="for bucket; default today"),
        OpenApiParameter("q", str, description="our invoice number (or its beginning) or the tax invoice number"),
        OpenApiParameter("sort", str, enum=list(INVOICE_SORTS), description="default -issued_on (overdue: due_on)"),
        OpenApiParameter("cursor", str, description="from the next / previous links"),
        OpenApiParameter("limit", int, description="page size, at most 200 (default 50)")])
    def get(self, request):
        qs, sort = selectors.invoice_list(actor=request.user, params=request.query_params)
        paginator = _Cursor()
        paginator.ordering = INVOICE_SORTS[sort]
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(InvoiceListSerializer(page, many=True).data)

    @extend_schema(tags=TAGS, request=InvoiceWriteSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: InvoiceDetailSerializer, 422: TOO_LARGE, **ERRORS},
                   description="Finance: issue an invoice for a shipped order (several per order; together never "
                               "more than its total). When they cover it, the order becomes invoiced.")
    @idempotent
    @finance_errors
    def post(self, request):
        values = _valid(InvoiceWriteSerializer, request.data)
        order_id = values.pop("order_id")
        invoice = services.invoice_issue(actor=request.user, order_id=order_id, data=values)
        return invoice_response(request, invoice.pk, code=status.HTTP_201_CREATED)


class InvoiceDetailApi(StaffApiView):
    @extend_schema(tags=TAGS, responses={200: InvoiceDetailSerializer, 404: ERROR})
    @finance_errors
    def get(self, request, invoice_id: int):
        return invoice_response(request, invoice_id)


class InvoiceVoidApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, request=VoidSerializer, parameters=[IF_MATCH],
                   responses={200: InvoiceDetailSerializer, 412: ERROR, **ERRORS},
                   description="Finance: void the invoice (红冲) with a reason; only without live payments. "
                               "A fully invoiced order goes back to shipped.")
    @finance_errors
    def post(self, request, invoice_id: int):
        selectors.invoice_get_for_actor(actor=request.user, invoice_id=invoice_id)
        values = _valid(VoidSerializer, request.data or {})
        version = self.edited_version(request, values.get("version"))
        services.invoice_void(actor=request.user, invoice_id=invoice_id, reason=values.get("reason", ""),
                              version=version)
        return invoice_response(request, invoice_id)


class PaymentListApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_payments_list", responses={200: PAYMENT_PAGE, 400: ERROR}, parameters=[
        OpenApiParameter("customer", int), OpenApiParameter("owner", int), OpenApiParameter("invoice", int),
        OpenApiParameter("order", int), OpenApiParameter("region", int, description="with its sub-regions"),
        OpenApiParameter("method", str, enum=PaymentMethod.values), OpenApiParameter("source", str, enum=["staff", "erp"]),
        OpenApiParameter("received_from", OpenApiTypes.DATE), OpenApiParameter("received_to", OpenApiTypes.DATE),
        OpenApiParameter("void", str, enum=["0", "1"], description="1: only voided; 0: only live; default all"),
        OpenApiParameter("sort", str, enum=list(PAYMENT_SORTS), description="default -received_on"),
        OpenApiParameter("cursor", str), OpenApiParameter("limit", int, description="at most 200 (default 50)")])
    def get(self, request):
        qs, sort = selectors.payment_list(actor=request.user, params=request.query_params)
        paginator = _Cursor()
        paginator.ordering = PAYMENT_SORTS[sort]
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PaymentListSerializer(page, many=True).data)

    @extend_schema(tags=TAGS, request=PaymentWriteSerializer, parameters=[IDEMPOTENCY_HEADER],
                   responses={201: PaymentDetailSerializer, 422: TOO_LARGE, **ERRORS},
                   description="Finance: record money received against an invoice (partial allowed, several per "
                               "invoice). When every invoice of a fully invoiced order is paid, the order is paid.")
    @idempotent
    @finance_errors
    def post(self, request):
        values = _valid(PaymentWriteSerializer, request.data)
        invoice_id = values.pop("invoice_id")
        payment = services.payment_record(actor=request.user, invoice_id=invoice_id, data=values)
        return payment_response(request, payment.pk, code=status.HTTP_201_CREATED)


class PaymentDetailApi(StaffApiView):
    @extend_schema(tags=TAGS, responses={200: PaymentDetailSerializer, 404: ERROR})
    @finance_errors
    def get(self, request, payment_id: int):
        return payment_response(request, payment_id)


class PaymentVoidApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, request=VoidSerializer, parameters=[IF_MATCH],
                   responses={200: PaymentDetailSerializer, 412: ERROR, **ERRORS},
                   description="Finance: void the payment (冲销) with a reason; its invoice owes the amount again "
                               "and a paid order goes back to invoiced.")
    @finance_errors
    def post(self, request, payment_id: int):
        selectors.payment_get_for_actor(actor=request.user, payment_id=payment_id)
        values = _valid(VoidSerializer, request.data or {})
        version = self.edited_version(request, values.get("version"))
        services.payment_void(actor=request.user, payment_id=payment_id, reason=values.get("reason", ""),
                              version=version)
        return payment_response(request, payment_id)


def aging_buckets() -> list[dict]:
    return [{"key": key, "label": str(label), "days_from": low, "days_to": high}
            for key, (label, low, high) in AGING_BUCKETS.items()]


def aging_export(request, export: str):
    """The whole report (every customer the filters select) as CSV or XLSX."""
    filters, rows = selectors.aging_rows_all(actor=request.user, params=request.GET)
    if export == "xlsx":
        handle = exports.aging_xlsx_file(rows, currency=filters["currency"], as_of=filters["as_of"])
        return FileResponse(handle, as_attachment=True, filename=exports.aging_file_name("xlsx"),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = StreamingHttpResponse(exports.aging_csv_stream(rows, currency=filters["currency"],
                                                              as_of=filters["as_of"]),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.aging_file_name("csv")}"'
    return response


class AgingReportApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_receivables_aging", responses={
        200: AgingReportSerializer, (200, "text/csv"): OpenApiTypes.BINARY, 400: ERROR}, parameters=[
        OpenApiParameter("as_of", OpenApiTypes.DATE, description="default today; not in the future"),
        OpenApiParameter("owner", int), OpenApiParameter("customer", int),
        OpenApiParameter("region", int, description="with its sub-regions"),
        OpenApiParameter("currency", str, description="default CNY"),
        OpenApiParameter("cursor", str, description="next_cursor of the previous page"),
        OpenApiParameter("limit", int, description="customers per page, at most 200 (default 50)"),
        OpenApiParameter("export", str, enum=["csv", "xlsx"], description="the whole report as a file")],
        description="Aged receivables by customer: what each customer owed on as_of, by days past due "
                    "(not yet due, 0-30, 31-60, 61-90, 90+), the biggest debtors first, with the totals.")
    def get(self, request):
        export = (request.query_params.get("export") or "").strip()
        if export:
            if export not in ("csv", "xlsx"):
                raise serializers.ValidationError({"export": [_("导出格式必须是 csv 或 xlsx。")]})
            selectors.aging_params(request.query_params)  # a bad filter is a 400, not a broken download
            return aging_export(request._request, export)
        raw = str(request.query_params.get("limit") or "50")
        limit = min(max(int(raw), 1), 200) if raw.isdigit() else 50
        report = selectors.aging_report(actor=request.user, params=request.query_params, limit=limit)
        data = AgingReportSerializer({"as_of": report.as_of, "currency": report.currency, "buckets": aging_buckets(),
                                      "totals": report.totals, "rows": report.rows,
                                      "next_cursor": report.next_cursor}).data
        return Response(data)
