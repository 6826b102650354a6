"""The integrations API.

Staff (the tenant admin, ``integrations.manage``): webhook endpoints, the delivery log with
replay, ERP clients and the inbound message log. Anyone else gets 403; an unknown id, 404.

The ERP (``Authorization: Bearer qerp_...``, see authentication.py): ``erp/me``,
``erp/stock-levels``, ``erp/shipments``, ``erp/payments``. Every message carries an
``external_id``: the same id with the same data returns the first result (200, header
``Idempotent-Replayed: true``); with other data, 409. A message the business rules refuse is
422 (and may be sent again once fixed); a kind no app handles yet, 501."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.integrations import selectors, services
from crm.integrations.enums import (
    EVENT_TYPES_STORED,
    SCOPE_OF_KIND,
    DeliveryStatus,
    ErpScope,
    InboundKind,
    InboundStatus,
)
from crm.integrations.models import ErpClient
from crm.integrations.permissions import can_manage_integrations
from crm.integrations.stock import erp_stock_levels_receive
from crm.org.api.base import StaffApiView
from crm.org.api.base import validated as _valid
from crm.org.middleware import resolve_language

from .authentication import ErpTokenAuthentication
from .serializers import (
    ConflictSerializer,
    ErpClientSerializer,
    ErpClientWithTokenSerializer,
    ErpClientWriteSerializer,
    ErpMeSerializer,
    ErrorSerializer,
    InboundEnvelopeSerializer,
    InboundMessagePageSerializer,
    InboundResultSerializer,
    RotateSecretSerializer,
    StockLevelsResultSerializer,
    StockLevelsSerializer,
    WebhookDeliveryDetailSerializer,
    WebhookDeliveryPageSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
    WebhookEndpointWriteSerializer,
)

TAG_WEBHOOKS, TAG_ERP_ADMIN, TAG_ERP = ["webhooks"], ["erp clients"], ["erp"]
REPLAYED_HEADER = "Idempotent-Replayed"


def not_found_on_missing(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper



def _limit(request) -> int:
    raw = request.query_params.get("limit", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= selectors.MAX_PAGE else selectors.PAGE


class IntegrationsApiView(StaffApiView):
    """The tenant admin's part: every method needs ``integrations.manage``."""

    def check_permissions(self, request):
        super().check_permissions(request)
        if not can_manage_integrations(request.user):
            raise PermissionDenied(_("你没有管理系统集成的权限。"))


# -- webhook endpoints -------------------------------------------------------------------------------------
class WebhookEndpointListApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, responses={200: WebhookEndpointSerializer(many=True)})
    def get(self, request):
        endpoints = selectors.webhook_endpoint_list_visible_to(actor=request.user)[:500]
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(tags=TAG_WEBHOOKS, request=WebhookEndpointWriteSerializer,
                   responses={201: WebhookEndpointWithSecretSerializer},
                   description="The response carries the signing secret: it is never shown again.")
    def post(self, request):
        values = _valid(WebhookEndpointWriteSerializer, request.data)
        endpoint = services.webhook_endpoint_create(
            actor=request.user, url=values["url"], events=values["events"],
            description=values.get("description", ""), is_active=values.get("is_active", True))
        response = Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class WebhookEndpointDetailApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, responses={200: WebhookEndpointSerializer})
    @not_found_on_missing
    def get(self, request, endpoint_id: int):
        return Response(WebhookEndpointSerializer(
            selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)).data)

    @extend_schema(tags=TAG_WEBHOOKS, request=WebhookEndpointWriteSerializer,
                   responses={200: WebhookEndpointSerializer, 412: ErrorSerializer})
    @not_found_on_missing
    def patch(self, request, endpoint_id: int):
        selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
        values = _valid(WebhookEndpointWriteSerializer, request.data, partial=True)
        version = self.edited_version(request, values.pop("version", None))
        endpoint = services.webhook_endpoint_update(actor=request.user, endpoint_id=endpoint_id, data=values,
                                                    version=version)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(tags=TAG_WEBHOOKS, request=None, responses={200: WebhookEndpointSerializer},
                   description="Deactivates the endpoint (kept for the delivery log; deliveries still "
                               "waiting are given up).")
    @not_found_on_missing
    def delete(self, request, endpoint_id: int):
        selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
        endpoint = services.webhook_endpoint_deactivate(actor=request.user, endpoint_id=endpoint_id)
        return Response(WebhookEndpointSerializer(endpoint).data)


class WebhookEndpointRotateSecretApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, request=RotateSecretSerializer,
                   responses={200: WebhookEndpointWithSecretSerializer},
                   description="A new signing secret, shown only in this response. The old one also signs "
                               "(a second v1= in Qiao-Signature) for keep_previous_hours.")
    @not_found_on_missing
    def post(self, request, endpoint_id: int):
        selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
        values = _valid(RotateSecretSerializer, request.data)
        endpoint = services.webhook_endpoint_rotate_secret(actor=request.user, endpoint_id=endpoint_id,
                                                           keep_previous_hours=values.get("keep_previous_hours"))
        response = Response(WebhookEndpointWithSecretSerializer(endpoint).data)
        response["Cache-Control"] = "no-store"
        return response


class WebhookEndpointPingApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, request=None, responses={202: WebhookDeliverySerializer},
                   description="Sends a test event (type ping) to this endpoint now.")
    @not_found_on_missing
    def post(self, request, endpoint_id: int):
        selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
        delivery = services.webhook_endpoint_ping(actor=request.user, endpoint_id=endpoint_id)
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# -- deliveries -------------------------------------------------------------------------------------------------
class WebhookDeliveryListApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, operation_id="webhook_deliveries_list",
                   responses={200: WebhookDeliveryPageSerializer}, parameters=[
        OpenApiParameter("endpoint", int), OpenApiParameter("event_type", str, enum=EVENT_TYPES_STORED),
        OpenApiParameter("status", str, enum=DeliveryStatus.values),
        OpenApiParameter("cursor", int, description="next_cursor of the previous page"),
        OpenApiParameter("limit", int, description="1-200, default 50")])
    def get(self, request):
        params = request.query_params
        page = selectors.webhook_delivery_list(actor=request.user, endpoint_id=params.get("endpoint"),
                                               event_type=params.get("event_type", ""),
                                               status=params.get("status", ""), cursor=params.get("cursor"),
                                               limit=_limit(request))
        return Response(WebhookDeliveryPageSerializer({"results": page.items, "next_cursor": page.next_cursor}).data)


class WebhookDeliveryDetailApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, responses={200: WebhookDeliveryDetailSerializer})
    @not_found_on_missing
    def get(self, request, delivery_id: int):
        return Response(WebhookDeliveryDetailSerializer(
            selectors.webhook_delivery_get(actor=request.user, delivery_id=delivery_id)).data)


class WebhookDeliveryReplayApi(IntegrationsApiView):
    @extend_schema(tags=TAG_WEBHOOKS, request=None, responses={202: WebhookDeliveryDetailSerializer},
                   description="Sends the delivery again now (one more attempt, recorded with you as its author).")
    @not_found_on_missing
    def post(self, request, delivery_id: int):
        selectors.webhook_delivery_get(actor=request.user, delivery_id=delivery_id)
        services.webhook_delivery_replay(actor=request.user, delivery_id=delivery_id)
        return Response(WebhookDeliveryDetailSerializer(
            selectors.webhook_delivery_get(actor=request.user, delivery_id=delivery_id)).data,
            status=status.HTTP_202_ACCEPTED)


# -- ERP clients (admin) -------------------------------------------------------------------------------------------
class ErpClientListApi(IntegrationsApiView):
    @extend_schema(tags=TAG_ERP_ADMIN, responses={200: ErpClientSerializer(many=True)})
    def get(self, request):
        return Response(ErpClientSerializer(selectors.erp_client_list_visible_to(actor=request.user)[:500],
                                            many=True).data)

    @extend_schema(tags=TAG_ERP_ADMIN, request=ErpClientWriteSerializer, responses={201: ErpClientWithTokenSerializer},
                   description="The response carries the client's token: it is never shown again.")
    def post(self, request):
        values = _valid(ErpClientWriteSerializer, request.data)
        client, token = services.erp_client_create(actor=request.user, name=values["name"], scopes=values["scopes"])
        data = ErpClientWithTokenSerializer({**ErpClientSerializer(client).data, "token": token}).data
        response = Response(data, status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class ErpClientDetailApi(IntegrationsApiView):
    @extend_schema(tags=TAG_ERP_ADMIN, responses={200: ErpClientSerializer})
    @not_found_on_missing
    def get(self, request, client_id: int):
        return Response(ErpClientSerializer(selectors.erp_client_get(actor=request.user, client_id=client_id)).data)


class ErpClientRevokeApi(IntegrationsApiView):
    @extend_schema(tags=TAG_ERP_ADMIN, request=None, responses={200: ErpClientSerializer},
                   description="The client's token stops working at once.")
    @not_found_on_missing
    def post(self, request, client_id: int):
        selectors.erp_client_get(actor=request.user, client_id=client_id)
        return Response(ErpClientSerializer(services.erp_client_revoke(actor=request.user, client_id=client_id)).data)


class InboundMessageListApi(IntegrationsApiView):
    @extend_schema(tags=TAG_ERP_ADMIN, operation_id="inbound_messages_list",
                   responses={200: InboundMessagePageSerializer}, parameters=[
        OpenApiParameter("client", int), OpenApiParameter("kind", str, enum=InboundKind.values),
        OpenApiParameter("status", str, enum=InboundStatus.values), OpenApiParameter("cursor", int),
        OpenApiParameter("limit", int)])
    def get(self, request):
        params = request.query_params
        page = selectors.inbound_message_list(actor=request.user, client_id=params.get("client"),
                                              kind=params.get("kind", ""), status=params.get("status", ""),
                                              cursor=params.get("cursor"), limit=_limit(request))
        return Response(InboundMessagePageSerializer({"results": page.items, "next_cursor": page.next_cursor}).data)


# -- the ERP's endpoints -------------------------------------------------------------------------------------------
class IsErpClient(BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.auth, ErpClient) and request.auth.is_active


class ErpApiView(APIView):
    """Authenticated only by an ERP client token; ``request.auth`` is the ErpClient."""

    authentication_classes = [ErpTokenAuthentication]
    permission_classes = [IsErpClient]
    parser_classes = [JSONParser]
    scope: str | None = None

    def perform_authentication(self, request):
        super().perform_authentication(request)
        language = resolve_language(request, user=None)
        translation.activate(language)
        request.LANGUAGE_CODE = language

    def permission_denied(self, request, message=None, code=None):
        if not isinstance(request.auth, ErpClient):
            raise NotAuthenticated(_("这个接口只接受 ERP 令牌：Authorization: Bearer qerp_…（员工令牌不能用于 ERP 接口）。"))
        super().permission_denied(request, message=message, code=code)

    def check_permissions(self, request):
        super().check_permissions(request)
        if self.scope and not request.auth.has_scope(self.scope):
            raise PermissionDenied(_("这个 ERP 客户端没有“%(scope)s”权限。") % {"scope": ErpScope(self.scope).label})

    @property
    def client(self) -> ErpClient:
        return self.request.auth


def _inbound_response(message, replayed: bool) -> Response:
    code = {InboundStatus.APPLIED: status.HTTP_200_OK, InboundStatus.ACCEPTED: status.HTTP_202_ACCEPTED,
            InboundStatus.REJECTED: status.HTTP_422_UNPROCESSABLE_ENTITY}[message.status]
    response = Response(InboundResultSerializer({
        "message_id": message.pk, "external_id": message.external_id, "status": message.status,
        "replayed": replayed, "result": message.result}).data, status=code)
    if replayed:
        response[REPLAYED_HEADER] = "true"
    return response


def _conflict(exc: services.InboundConflict) -> Response:
    return Response({"detail": _("外部编号 %(ids)s 已用于内容不同的消息；同一编号只能对应同一份数据。") % {
        "ids": ", ".join(exc.external_ids)}, "code": "conflict", "external_ids": exc.external_ids},
        status=status.HTTP_409_CONFLICT)


def _not_handled(kind: str) -> Response:
    return Response({"detail": _("暂不支持回传“%(kind)s”：处理它的模块尚未启用，消息没有保存，请稍后重发。") % {
        "kind": InboundKind(kind).label}, "code": "not_implemented"}, status=status.HTTP_501_NOT_IMPLEMENTED)


INBOUND_RESPONSES = {
    200: InboundResultSerializer, 202: OpenApiResponse(InboundResultSerializer, description="accepted, applied later"),
    400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 409: ConflictSerializer,
    422: OpenApiResponse(InboundResultSerializer, description="refused: result.errors names the fields"),
    501: ErrorSerializer,
}


class ErpMeApi(ErpApiView):
    @extend_schema(tags=TAG_ERP, responses={200: ErpMeSerializer, 401: ErrorSerializer},
                   description="Who this token is: to check the set-up.")
    def get(self, request):
        return Response(ErpMeSerializer(self.client).data)


class ErpStockLevelsApi(ErpApiView):
    scope = ErpScope.STOCK_LEVELS

    @extend_schema(tags=TAG_ERP, request=StockLevelsSerializer, responses={
        200: StockLevelsResultSerializer, 400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer,
        409: ConflictSerializer},
        description="Sets on-hand stock per SKU and warehouse code (up to 500 rows). Each row is idempotent by "
                    "its external_id and applied on its own: a refused row (unknown SKU...) is reported with "
                    "status rejected and does not hold up the others. If any row's external_id was used "
                    "before with other data, nothing is applied (409).")
    def post(self, request):
        _valid(StockLevelsSerializer, request.data)  # shape and types; the raw rows are what is stored
        rows = [dict(row) for row in request.data["items"]]
        try:
            outcomes = erp_stock_levels_receive(client=self.client, rows=rows)
        except services.InboundConflict as exc:
            return _conflict(exc)
        results = [{"message_id": m.pk, "external_id": m.external_id, "status": m.status, "replayed": replayed,
                    "result": m.result} for m, replayed in outcomes]
        return Response(StockLevelsResultSerializer({
            "applied": sum(1 for m, _r in outcomes if m.status == InboundStatus.APPLIED),
            "rejected": sum(1 for m, _r in outcomes if m.status == InboundStatus.REJECTED),
            "results": results}).data)


class _ErpMessageApi(ErpApiView):
    kind: str = ""

    def post(self, request):
        if not isinstance(request.data, dict):
            raise serializers.ValidationError({"non_field_errors": [_("请求体应为一个 JSON 对象。")]})
        try:
            message, replayed = services.inbound_receive(client=self.client, kind=self.kind,
                                                         external_id=request.data.get("external_id"),
                                                         payload=dict(request.data))
        except services.InboundNotHandled as exc:
            return _not_handled(exc.kind)
        except services.InboundConflict as exc:
            return _conflict(exc)
        return _inbound_response(message, replayed)


class ErpShipmentsApi(_ErpMessageApi):
    kind = InboundKind.SHIPMENT
    scope = SCOPE_OF_KIND[InboundKind.SHIPMENT]

    @extend_schema(tags=TAG_ERP, request=InboundEnvelopeSerializer, responses=INBOUND_RESPONSES,
                   description="A shipment made in the ERP (applied by the orders module; 501 until it is "
                               "installed). Idempotent by external_id.")
    def post(self, request):
        return super().post(request)


class ErpPaymentsApi(_ErpMessageApi):
    kind = InboundKind.PAYMENT
    scope = SCOPE_OF_KIND[InboundKind.PAYMENT]

    @extend_schema(tags=TAG_ERP, request=InboundEnvelopeSerializer, responses=INBOUND_RESPONSES,
                   description="A payment received in the ERP (applied by the finance module; 501 until it is "
                               "installed). Idempotent by external_id.")
    def post(self, request):
        return super().post(request)
