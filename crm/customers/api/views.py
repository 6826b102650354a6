"""Staff API for customers, contacts, ownership, the shared pool and one-click search."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from crm.customers import search, selectors, services
from crm.customers.models import Contact, Customer
from crm.org.api.base import StaffApiView

from .serializers import (
    ContactSerializer,
    ContactWriteSerializer,
    CustomerSerializer,
    CustomerWriteSerializer,
    HandoverSerializer,
    OwnershipChangeSerializer,
    TransferSerializer,
)


class CustomerCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("-updated_at", "-id")


def _page_size(request) -> int:
    raw = request.query_params.get(CustomerCursor.page_size_query_param, "")
    if raw.isdigit() and int(raw) > 0:
        return min(int(raw), CustomerCursor.max_page_size)
    return CustomerCursor.page_size


def _sorted_page(request, qs, *, sort) -> Response:
    """A keyset page of ``qs`` in the ``?sort=`` order, shaped like DRF's cursor pages
    (``next``, ``previous``, ``results``); ``?cursor=`` comes from those links."""
    page = selectors.customer_list_page(qs, sort=sort, cursor=request.query_params.get("cursor") or None,
                                        limit=_page_size(request))
    url = request.build_absolute_uri()
    return Response({
        "next": replace_query_param(url, "cursor", page.next_cursor) if page.next_cursor else None,
        "previous": replace_query_param(url, "cursor", page.previous_cursor) if page.previous_cursor else None,
        "sort": sort.value,
        "results": CustomerSerializer(page.rows, many=True).data,
    })


CUSTOMER_PAGE = inline_serializer("CustomerPage", {
    "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
    "sort": serializers.ChoiceField(choices=list(selectors.CUSTOMER_SORTS)),
    "results": CustomerSerializer(many=True)})


def _conflict(exc) -> Response:
    if isinstance(exc, services.CreditCodeTaken):
        existing = exc.existing
        return Response({
            "detail": _("统一社会信用代码 %(code)s 已属于客户“%(name)s”，不能重复创建。") % {
                "code": existing.credit_code, "name": existing.name},
            "code": "duplicate_credit_code",
            "existing": {"id": existing.pk, "name": existing.name,
                         "owner": existing.owner.full_name if existing.owner else None},
        }, status=status.HTTP_409_CONFLICT)
    return Response({
        "detail": _("可能与已有客户重复。确认不是同一客户后，带上 duplicate_override=true 再次提交。"),
        "code": "possible_duplicates",
        "candidates": exc.candidates,
    }, status=status.HTTP_409_CONFLICT)


class CustomerListApi(StaffApiView):
    @extend_schema(tags=["customers"], operation_id="v1_customers_list", responses={200: CUSTOMER_PAGE}, parameters=[
        OpenApiParameter("owner", int), OpenApiParameter("region", int), OpenApiParameter("stage", str),
        OpenApiParameter("level", str), OpenApiParameter("tag", str, many=True),
        OpenApiParameter("idle_days", int), OpenApiParameter("updated_after", str),
        OpenApiParameter("sort", str, enum=list(selectors.CUSTOMER_SORTS), description=(
            "-updated_at (default), updated_at, -created_at, created_at, last_activity_at (oldest "
            "follow-up first: about to be released; never followed up counts as oldest), "
            "-last_activity_at, name (pinyin order), -name")),
        OpenApiParameter("cursor", str, description="from the next / previous links"),
        OpenApiParameter("limit", int, description="page size, at most 200 (default 50)")])
    def get(self, request):
        sort = selectors.customer_sort_get(request.query_params.get("sort"))
        qs = selectors.customer_list_filter(selectors.customer_list_visible_to(actor=request.user), request.query_params)
        return _sorted_page(request, qs, sort=sort)

    @extend_schema(tags=["customers"], request=CustomerWriteSerializer,
                   responses={201: CustomerSerializer, 409: None})
    def post(self, request):
        data = CustomerWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        override = values.pop("duplicate_override", False)
        reason = values.pop("override_reason", "")
        values.pop("version", None)
        try:
            customer = services.customer_create(actor=request.user, data=values,
                                                duplicate_override=override, override_reason=reason)
        except (services.CreditCodeTaken, services.PossibleDuplicates) as exc:
            return _conflict(exc)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)


def _customer_or_404(request, customer_id) -> Customer:
    try:
        return selectors.customer_get_for_actor(actor=request.user, customer_id=customer_id)
    except Customer.DoesNotExist:
        raise Http404 from None


class CustomerDetailApi(StaffApiView):
    @extend_schema(tags=["customers"], responses={200: CustomerSerializer})
    def get(self, request, customer_id: int):
        return Response(CustomerSerializer(_customer_or_404(request, customer_id)).data)

    @extend_schema(tags=["customers"], request=CustomerWriteSerializer, responses={200: CustomerSerializer})
    def patch(self, request, customer_id: int):
        _customer_or_404(request, customer_id)
        data = CustomerWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        override = values.pop("duplicate_override", False)
        reason = values.pop("override_reason", "")
        version = self.edited_version(request, values.pop("version", None))
        values.pop("owner_id", None)  # ownership moves only through transfer, handover, pool
        try:
            customer = services.customer_update(actor=request.user, customer_id=customer_id, data=values,
                                                version=version, duplicate_override=override,
                                                override_reason=reason)
        except (services.CreditCodeTaken, services.PossibleDuplicates) as exc:
            return _conflict(exc)
        return Response(CustomerSerializer(customer).data)


class CustomerOwnersApi(StaffApiView):
    @extend_schema(tags=["customers"], responses={200: OwnershipChangeSerializer(many=True)})
    def get(self, request, customer_id: int):
        customer = _customer_or_404(request, customer_id)
        return Response(OwnershipChangeSerializer(selectors.customer_owner_history(customer=customer)[:200],
                                                  many=True).data)


class CustomerTransferApi(StaffApiView):
    @extend_schema(tags=["customers"], request=TransferSerializer,
                   responses={200: inline_serializer("Moved", {"moved": serializers.IntegerField()})})
    def post(self, request):
        data = TransferSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        moved = services.customers_transfer(actor=request.user, customer_ids=data.validated_data["customer_ids"],
                                            to_owner_id=data.validated_data["to_owner_id"],
                                            note=data.validated_data.get("note", ""))
        return Response({"moved": moved})


class CustomerHandoverApi(StaffApiView):
    @extend_schema(tags=["customers"], request=HandoverSerializer,
                   responses={200: inline_serializer("HandedOver", {"moved": serializers.IntegerField()})})
    def post(self, request):
        data = HandoverSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        moved = services.customers_handover(actor=request.user, from_owner_id=data.validated_data["from_owner_id"],
                                            to_owner_ids=data.validated_data["to_owner_ids"],
                                            note=data.validated_data.get("note", ""))
        return Response({"moved": moved})


class CustomerReleaseApi(StaffApiView):
    @extend_schema(tags=["customers"], request=None, responses={200: CustomerSerializer})
    def post(self, request, customer_id: int):
        _customer_or_404(request, customer_id)
        customer = services.customer_release(actor=request.user, customer_id=customer_id,
                                             note=str(request.data.get("note", ""))[:500])
        return Response(CustomerSerializer(customer).data)


class PoolListApi(StaffApiView):
    @extend_schema(tags=["customers"], responses={200: CustomerSerializer(many=True)})
    def get(self, request):
        qs = selectors.customer_list_filter(selectors.pool_visible_to(actor=request.user), request.query_params)
        paginator = CustomerCursor()
        paginator.ordering = ("-released_at", "-id")
        page = paginator.paginate_queryset(qs.select_related("owner", "region", "department"), request, view=self)
        return paginator.get_paginated_response(CustomerSerializer(page, many=True).data)


class PoolClaimApi(StaffApiView):
    @extend_schema(tags=["customers"], request=None, responses={200: CustomerSerializer})
    def post(self, request, customer_id: int):
        try:
            customer = services.customer_claim(actor=request.user, customer_id=customer_id)
        except Customer.DoesNotExist:
            raise Http404 from None
        return Response(CustomerSerializer(customer).data)


class ContactListApi(StaffApiView):
    @extend_schema(tags=["contacts"], responses={200: ContactSerializer(many=True)},
                   parameters=[OpenApiParameter("customer", int)])
    def get(self, request):
        qs = selectors.contact_list_visible_to(actor=request.user)
        if request.query_params.get("customer"):
            value = request.query_params["customer"]
            qs = qs.filter(customer_id=value) if value.isdigit() else qs.none()
        paginator = CustomerCursor()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ContactSerializer(page, many=True).data)

    @extend_schema(tags=["contacts"], request=ContactWriteSerializer, responses={201: ContactSerializer})
    def post(self, request):
        data = ContactWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        customer_id = values.pop("customer_id", None)
        if customer_id is None:
            raise serializers.ValidationError({"customer_id": _("请指定联系人所属的客户。")})
        values.pop("version", None)
        try:
            contact = services.contact_create(actor=request.user, customer_id=customer_id, data=values)
        except Customer.DoesNotExist:
            raise serializers.ValidationError({"customer_id": _("客户不存在或不在你的可见范围内。")}) from None
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)


class ContactDetailApi(StaffApiView):
    def _get(self, request, contact_id):
        try:
            return selectors.contact_get_for_actor(actor=request.user, contact_id=contact_id)
        except Contact.DoesNotExist:
            raise Http404 from None

    @extend_schema(tags=["contacts"], responses={200: ContactSerializer})
    def get(self, request, contact_id: int):
        return Response(ContactSerializer(self._get(request, contact_id)).data)

    @extend_schema(tags=["contacts"], request=ContactWriteSerializer, responses={200: ContactSerializer})
    def patch(self, request, contact_id: int):
        self._get(request, contact_id)
        data = ContactWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        version = values.pop("version", None)
        try:
            contact = services.contact_update(actor=request.user, contact_id=contact_id, data=values,
                                              version=version)
        except Customer.DoesNotExist:
            raise serializers.ValidationError({"customer_id": _("客户不存在或不在你的可见范围内。")}) from None
        return Response(ContactSerializer(contact).data)


class SearchApi(StaffApiView):
    """One box: customers and contacts by name (one or two Chinese characters too), pinyin
    spelling or initials, any 4+ digits of a phone, e-mail or credit code."""

    @extend_schema(tags=["search"], parameters=[OpenApiParameter("q", str, required=True),
                                                OpenApiParameter("limit", int)],
                   responses={200: inline_serializer("SearchResults", {
                       "query": serializers.CharField(), "kind": serializers.CharField(),
                       "customers": serializers.ListField(child=serializers.DictField()),
                       "contacts": serializers.ListField(child=serializers.DictField())})})
    def get(self, request):
        q = request.query_params.get("q", "")
        if len(q) > 100:
            raise serializers.ValidationError({"q": _("搜索内容最长 100 个字符。")})
        limit = request.query_params.get("limit", "10")
        limit = min(int(limit), 50) if limit.isdigit() and int(limit) > 0 else 10
        parsed = search.parse_query(q)
        if parsed is None:
            return Response({"query": q, "kind": None, "customers": [], "contacts": []})
        customers = search.search_customers(
            qs=selectors.customer_list_visible_to(actor=request.user), parsed=parsed, limit=limit, actor=request.user)
        contacts = search.search_contacts(
            qs=selectors.contact_list_visible_to(actor=request.user), parsed=parsed, limit=limit, actor=request.user)
        return Response({
            "query": q, "kind": parsed.kind,
            "customers": [{"id": c.pk, "name": c.name, "phone": c.phone, "owner": c.owner.full_name if c.owner else None,
                           "stage": c.stage} for c in customers],
            "contacts": [{"id": c.pk, "name": c.name, "title": c.title, "customer": c.customer_id,
                          "customer_name": c.customer.name, "phones": c.phones} for c in contacts],
        })
