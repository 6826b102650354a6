"""The portal API (/api/v1/portal/) for partners' own systems: the same scoping as the portal's
pages (PortalApiView). Thin: crm selectors in, crm services out."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.activities.selectors import notification_list_for
from crm.catalog.partner import portal_catalog, portal_products, portal_products_by_sku
from crm.finance.partner import (
    partner_invoices_visible_to,
    partner_payments_visible_to,
    partner_statement,
)
from crm.orders import partner as orders
from crm.orders.enums import OrderStatus
from crm.orders.idempotency import IDEMPOTENCY_HEADER, idempotent
from crm.org.services import token_issue
from crm.partners import services as partners
from crm.partners.selectors import members_of_partner, portal_member_active

from ..base import deals_enabled
from ..views import order_actions, order_page_data
from . import serializers as s
from .base import PortalApiView, validated

TAGS = ["portal"]
ERROR = inline_serializer("PortalApiError", {"detail": serializers.CharField(), "code": serializers.CharField()})
ERRORS = {400: OpenApiResponse(description="bad input, naming the field and the rule (each order line by its number)"),
          401: ERROR, 404: ERROR, 409: ERROR}


class PortalPage(PageNumberPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


class OrderCursor(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = ("-created_at", "-id")


def _page(view, request, qs, serializer_class, paginator_class=PortalPage):
    paginator = paginator_class()
    page = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True, context={"request": request}).data)


# -- auth -------------------------------------------------------------------------------------------------------
class PortalTokenApi(APIView):
    """Exchange a partner user's email and password for an API token. Staff accounts are refused
    (they use /api/v1/auth/token)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(tags=TAGS, operation_id="v1_portal_auth_token", request=s.PortalTokenRequestSerializer,
                   responses={200: s.PortalTokenResponseSerializer, 400: ERROR})
    def post(self, request):
        values = validated(s.PortalTokenRequestSerializer, request.data)
        user = authenticate(request, email=values["email"], password=values["password"])
        if user is None or not user.is_partner_user or portal_member_active(user) is None:
            return Response({"detail": _("邮箱或密码不正确，账号已停用，或所在渠道伙伴已暂停合作。"),
                             "code": "invalid_credentials"}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"token": token_issue(user=user).key})


class PortalMeApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_me", responses={200: s.PortalMeSerializer, 401: ERROR})
    def get(self, request):
        return Response(s.PortalMeSerializer(self.member).data)


# -- catalog --------------------------------------------------------------------------------------------------
class PortalCatalogApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_catalog", parameters=[
        OpenApiParameter("q", str, description="SKU, name or pinyin"),
        OpenApiParameter("category", int, description="with its sub-categories"),
        OpenApiParameter("page", int), OpenApiParameter("limit", int, description="at most 200 (default 50)")],
        responses={200: s.PortalCatalogItemSerializer(many=True), 400: ERROR})
    def get(self, request):
        qs = portal_catalog(actor=request.user, q=request.query_params.get("q", ""),
                            category_id=request.query_params.get("category") or None)
        paginator = PortalPage()
        page = paginator.paginate_queryset(qs, request, view=self)
        rows = portal_products(actor=request.user, products=page)
        return paginator.get_paginated_response(s.PortalCatalogItemSerializer(rows, many=True).data)


# -- orders ---------------------------------------------------------------------------------------------------
def order_lines(request, raw) -> list:
    """The request's lines for the order service: ``sku`` becomes ``product_id``; every other key
    goes through, so that the service refuses a unit price or a discount by name."""
    if raw is None or not isinstance(raw, list):
        raise ValidationError({"lines": _("请至少添加一行产品。")})
    skus = [line.get("sku") for line in raw if isinstance(line, dict) and line.get("sku")]
    products = portal_products_by_sku(actor=request.user, skus=skus) if skus else {}
    lines, errors = [], []
    for n, line in enumerate(raw, start=1):
        if isinstance(line, dict) and line.get("sku") and line.get("product_id") in (None, ""):
            product = products.get(str(line["sku"]).strip().upper())
            if product is None:
                errors.append(_("第 %(n)s 行：SKU “%(sku)s” 不存在。") % {"n": n, "sku": line["sku"]})
                continue
            line = {**line, "product_id": product.pk}
            line.pop("sku")
        lines.append(line)
    if errors:
        raise ValidationError({"lines": errors})
    return lines


HEADER_FIELDS = ("delivery_address", "delivery_contact", "delivery_phone", "delivery_date", "notes")


def _order_data(request, partial: bool) -> tuple[dict, dict]:
    values = validated(s.PortalOrderWriteSerializer, {k: v for k, v in (request.data or {}).items() if k != "lines"},
                       partial=partial)
    data = {k: values[k] for k in HEADER_FIELDS if k in values}
    if data.get("delivery_date") is not None:
        data["delivery_date"] = data["delivery_date"].isoformat()
    if "lines" in (request.data or {}) or not partial:
        data["lines"] = order_lines(request, (request.data or {}).get("lines"))
    return data, values


class OrderView:
    """The order with what its page shows (lines, steps, timeline...) for the serializer."""

    def __init__(self, order, extra: dict):
        self._order, self._extra = order, extra

    def __getattr__(self, name):
        extra = self.__dict__.get("_extra", {})
        return extra[name] if name in extra else getattr(self._order, name)


def detail_response(request, order_id, *, code=status.HTTP_200_OK) -> Response:
    order = orders.partner_order_get(actor=request.user, order_id=order_id)
    data = order_page_data(request.user, order)
    data["actions"] = order_actions(request.user, order)
    response = Response(s.PortalOrderDetailSerializer(OrderView(order, data), context={"request": request}).data,
                        status=code)
    response["ETag"] = f'"{order.version}"'
    return response


class PortalOrderListApi(PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_list", parameters=[
        OpenApiParameter("status", str, enum=list(OrderStatus.values)),
        OpenApiParameter("number", str, description="the order number or its beginning"),
        OpenApiParameter("cursor", str), OpenApiParameter("limit", int, description="at most 200 (default 50)")],
        responses={200: s.PortalOrderListSerializer(many=True), 400: ERROR})
    def get(self, request):
        qs = orders.partner_order_list(actor=request.user, status=request.query_params.get("status", ""),
                                       number=request.query_params.get("number", "")[:30])
        return _page(self, request, qs, s.PortalOrderListSerializer, OrderCursor)

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_create", request=s.PortalOrderWriteSerializer,
                   parameters=[IDEMPOTENCY_HEADER], responses={201: s.PortalOrderDetailSerializer, 422: ERROR, **ERRORS},
                   description="A partner order from your tier's price list (product_id or sku, and quantity; "
                               "no prices or discounts), submitted into the approval at once unless submit=false. "
                               "Send an Idempotency-Key so that a retry never places a second order.")
    @idempotent
    def post(self, request):
        data, values = _order_data(request, partial=False)
        order = orders.partner_order_create(actor=request.user, data=data, submit=values.get("submit", True))
        return detail_response(request, order.pk, code=status.HTTP_201_CREATED)


class PortalOrderPreviewApi(PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_preview", request=s.PortalPreviewSerializer,
                   responses={200: s.PortalPreviewResponseSerializer, **ERRORS},
                   description="The lines and totals an order would have, without saving it.")
    def post(self, request):
        priced = orders.partner_order_preview(actor=request.user,
                                              data={"lines": order_lines(request, (request.data or {}).get("lines"))})
        return Response(s.PortalPreviewResponseSerializer(priced).data)


class PortalOrderDetailApi(PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_retrieve",
                   responses={200: s.PortalOrderDetailSerializer, 404: ERROR},
                   description="The order with its approval steps, timeline, shipments, invoices and payments.")
    def get(self, request, order_id: int):
        return detail_response(request, order_id)

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_update", request=s.PortalOrderWriteSerializer,
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER)],
                   responses={200: s.PortalOrderDetailSerializer, 412: ERROR, **ERRORS},
                   description="Edit a draft: the delivery fields, and lines (replacing every line).")
    def patch(self, request, order_id: int):
        order = orders.partner_order_get(actor=request.user, order_id=order_id)
        data, values = _order_data(request, partial=True)
        version = self.edited_version(request, values.get("version"))
        orders.partner_order_update(actor=request.user, order_id=order.pk, data=data, version=version)
        return detail_response(request, order.pk)


class PortalOrderSubmitApi(PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_submit", request=s.PortalVersionSerializer,
                   parameters=[IDEMPOTENCY_HEADER], responses={200: s.PortalOrderDetailSerializer, 412: ERROR, **ERRORS},
                   description="draft -> in approval. Submitting again changes nothing.")
    @idempotent
    def post(self, request, order_id: int):
        order = orders.partner_order_get(actor=request.user, order_id=order_id)
        values = validated(s.PortalVersionSerializer, request.data or {})
        orders.partner_order_submit(actor=request.user, order_id=order.pk,
                                    version=self.edited_version(request, values.get("version")))
        return detail_response(request, order.pk)


class PortalOrderRecallApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_recall", request=None,
                   responses={200: s.PortalOrderDetailSerializer, **ERRORS},
                   description="in approval -> draft, by its submitter before anyone decided.")
    def post(self, request, order_id: int):
        order = orders.partner_order_get(actor=request.user, order_id=order_id)
        orders.partner_order_recall(actor=request.user, order_id=order.pk)
        return detail_response(request, order.pk)


class PortalOrderCancelApi(PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_orders_cancel", request=s.PortalCancelSerializer,
                   responses={200: s.PortalOrderDetailSerializer, **ERRORS},
                   description="A draft -> cancelled (recall an order in approval first).")
    def post(self, request, order_id: int):
        order = orders.partner_order_get(actor=request.user, order_id=order_id)
        values = validated(s.PortalCancelSerializer, request.data or {})
        orders.partner_order_cancel(actor=request.user, order_id=order.pk, reason=values.get("reason", ""))
        return detail_response(request, order.pk)


# -- statements -------------------------------------------------------------------------------------------------
class PortalStatementApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_statement", responses={200: s.PortalStatementSerializer},
                   description="Invoiced, paid, outstanding and overdue amounts, and the open invoices.")
    def get(self, request):
        return Response(s.PortalStatementSerializer(partner_statement(actor=request.user, open_limit=200)).data)


class PortalInvoiceListApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_invoices_list", parameters=[OpenApiParameter("page", int)],
                   responses={200: s.PortalInvoiceSerializer(many=True)})
    def get(self, request):
        return _page(self, request, partner_invoices_visible_to(actor=request.user), s.PortalInvoiceSerializer)


class PortalPaymentListApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_payments_list", parameters=[OpenApiParameter("page", int)],
                   responses={200: s.PortalPaymentSerializer(many=True)})
    def get(self, request):
        return _page(self, request, partner_payments_visible_to(actor=request.user), s.PortalPaymentSerializer)


# -- end customers ---------------------------------------------------------------------------------------------
class PortalEndCustomerListApi(PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_end_customers_list", parameters=[OpenApiParameter("page", int)],
                   responses={200: s.PortalEndCustomerSerializer(many=True)})
    def get(self, request):
        from crm.partners.end_customers import end_customers_visible_to

        return _page(self, request, end_customers_visible_to(actor=request.user).order_by("-created_at", "-id"),
                     s.PortalEndCustomerSerializer)

    @extend_schema(tags=TAGS, operation_id="v1_portal_end_customers_create", request=s.PortalEndCustomerWriteSerializer,
                   responses={201: s.PortalEndCustomerSerializer, **ERRORS},
                   description="Register an end customer. possible_duplicate says whether the tenant may already "
                               "know it (nothing more); your own existing one is a 400 naming it.")
    def post(self, request):
        from crm.partners.end_customers import end_customer_register

        values = validated(s.PortalEndCustomerWriteSerializer, request.data)
        row, _dup = end_customer_register(actor=request.user, data=values)
        return Response(s.PortalEndCustomerSerializer(row, context={"request": request}).data, status=status.HTTP_201_CREATED)


class PortalEndCustomerDetailApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_end_customers_retrieve",
                   responses={200: s.PortalEndCustomerSerializer, 404: ERROR})
    def get(self, request, end_customer_id: int):
        from crm.partners.end_customers import end_customers_visible_to

        row = end_customers_visible_to(actor=request.user).get(pk=end_customer_id)
        return Response(s.PortalEndCustomerSerializer(row, context={"request": request}).data)


# -- deals ----------------------------------------------------------------------------------------------------
class DealsApiMixin:
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not deals_enabled():
            from rest_framework.exceptions import NotFound

            raise NotFound(_("项目报备仅适用于复杂项目销售模式的企业，本企业未启用。"))


class PortalDealListApi(DealsApiMixin, PortalApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_deals_list", parameters=[OpenApiParameter("page", int)],
                   responses={200: s.PortalDealSerializer(many=True), 404: ERROR})
    def get(self, request):
        from crm.partners.deals import deal_partner_view, deals_visible_to

        paginator = PortalPage()
        page = paginator.paginate_queryset(deals_visible_to(actor=request.user).order_by("-created_at", "-id"),
                                           request, view=self)
        return paginator.get_paginated_response(s.PortalDealSerializer([deal_partner_view(d) for d in page], many=True).data)

    @extend_schema(tags=TAGS, operation_id="v1_portal_deals_create", request=s.PortalDealWriteSerializer,
                   responses={201: s.PortalDealSerializer, **ERRORS},
                   description="Register a deal for protection; conflict_flagged says whether it conflicts with "
                               "another registration or an opportunity (the channel manager decides).")
    def post(self, request):
        from crm.partners.deals import deal_partner_view, deal_register

        values = validated(s.PortalDealWriteSerializer, request.data)
        deal = deal_register(actor=request.user, data=values)
        return Response(s.PortalDealSerializer(deal_partner_view(deal)).data, status=status.HTTP_201_CREATED)


class PortalDealDetailApi(DealsApiMixin, PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_deals_retrieve", responses={200: s.PortalDealSerializer, 404: ERROR})
    def get(self, request, deal_id: int):
        from crm.partners.deals import deal_partner_view, deals_visible_to

        return Response(s.PortalDealSerializer(deal_partner_view(deals_visible_to(actor=request.user).get(pk=deal_id))).data)


class PortalDealWithdrawApi(DealsApiMixin, PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_deals_withdraw", request=None,
                   responses={200: s.PortalDealSerializer, **ERRORS})
    def post(self, request, deal_id: int):
        from crm.partners.deals import deal_partner_view, deal_withdraw, deals_visible_to

        deal = deals_visible_to(actor=request.user).get(pk=deal_id)
        return Response(s.PortalDealSerializer(deal_partner_view(deal_withdraw(actor=request.user, deal_id=deal.pk))).data)


# -- users (partner admin) -------------------------------------------------------------------------------------
class PortalUserListApi(PortalApiView):
    admin_only = True
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_users_list", responses={200: s.PortalMemberSerializer(many=True)},
                   description="Partner admins only.")
    def get(self, request):
        return Response(s.PortalMemberSerializer(members_of_partner(partner_id=self.member.partner_id), many=True).data)

    @extend_schema(tags=TAGS, operation_id="v1_portal_users_invite", request=s.PortalMemberInviteSerializer,
                   responses={201: s.PortalMemberSerializer, **ERRORS},
                   description="Invite a user of your company: they get an email to set their password.")
    def post(self, request):
        values = validated(s.PortalMemberInviteSerializer, request.data)
        member = partners.member_invite(actor=request.user, partner_id=self.member.partner_id,
                                        base_url=request.build_absolute_uri("/"), **values)
        return Response(s.PortalMemberSerializer(member).data, status=status.HTTP_201_CREATED)


class PortalUserDetailApi(PortalApiView):
    admin_only = True
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_users_retrieve", responses={200: s.PortalMemberSerializer, 404: ERROR})
    def get(self, request, member_id: int):
        return Response(s.PortalMemberSerializer(members_of_partner(partner_id=self.member.partner_id).get(pk=member_id)).data)

    @extend_schema(tags=TAGS, operation_id="v1_portal_users_update", request=s.PortalMemberUpdateSerializer,
                   responses={200: s.PortalMemberSerializer, **ERRORS},
                   description="Change a user's role, or deactivate (is_active=false) / reactivate them.")
    def patch(self, request, member_id: int):
        member = members_of_partner(partner_id=self.member.partner_id).get(pk=member_id)
        values = validated(s.PortalMemberUpdateSerializer, request.data)
        if "role" in values:
            partners.member_role_set(actor=request.user, partner_id=member.partner_id, member_id=member.pk,
                                     role=values["role"])
        if "is_active" in values:
            partners.member_active_set(actor=request.user, partner_id=member.partner_id, member_id=member.pk,
                                       active=values["is_active"])
        return Response(s.PortalMemberSerializer(members_of_partner(partner_id=member.partner_id).get(pk=member.pk)).data)


class PortalPartnerSettingsApi(PortalApiView):
    admin_only = True
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_portal_users_settings", request=s.PortalPartnerSettingsSerializer,
                   responses={200: s.PortalPartnerSettingsSerializer, **ERRORS},
                   description="Whether your partner sales users see all of your company's orders, end "
                               "customers and deals (else only what they created).")
    def put(self, request):
        values = validated(s.PortalPartnerSettingsSerializer, request.data)
        partner = partners.partner_sales_visibility_set(actor=request.user, partner_id=self.member.partner_id,
                                                        see_all=values["sales_see_all"])
        return Response({"sales_see_all": partner.sales_see_all})


# -- notifications ---------------------------------------------------------------------------------------------
class PortalNotificationListApi(PortalApiView):
    @extend_schema(tags=TAGS, operation_id="v1_portal_notifications_list", parameters=[OpenApiParameter("page", int)],
                   responses={200: s.PortalNotificationSerializer(many=True)})
    def get(self, request):
        return _page(self, request, notification_list_for(actor=request.user), s.PortalNotificationSerializer)

