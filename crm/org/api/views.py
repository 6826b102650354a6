from django.contrib.auth import authenticate
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.audit.selectors import audit_trail_for
from crm.org import selectors, services
from crm.org.models import User
from crm.org.permissions import can_view_audit_of_staff

from .base import StaffApiView
from .serializers import (
    AuditEntrySerializer,
    MeSerializer,
    NodeSerializer,
    RoleSerializer,
    StaffInviteSerializer,
    StaffSerializer,
    StaffWriteSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)


class AuthTokenApi(APIView):
    """Exchange email and password for an API token of this tenant."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(tags=["auth"], request=TokenRequestSerializer,
                   responses={200: TokenResponseSerializer, 400: OpenApiResponse(description="bad credentials")})
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, email=data.validated_data["email"],
                            password=data.validated_data["password"])
        if user is not None and user.is_partner_user:  # partner users: POST /api/v1/portal/auth/token
            user = None
        if user is None:
            return Response({"detail": _("邮箱或密码不正确，或账号已停用。"), "code": "invalid_credentials"},
                            status=status.HTTP_400_BAD_REQUEST)
        return Response({"token": services.token_issue(user=user).key})


class AuthMeApi(StaffApiView):
    @extend_schema(tags=["auth"], responses={200: inline_serializer("Me", {
        "id": serializers.IntegerField(), "email": serializers.EmailField(),
        "full_name": serializers.CharField(), "roles": serializers.ListField(),
        "scope": serializers.CharField(), "tenant": serializers.DictField()})})
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class StaffListApi(StaffApiView):
    @extend_schema(tags=["staff"], responses={200: StaffSerializer(many=True)})
    def get(self, request):
        qs = selectors.staff_list(actor=request.user, search=request.query_params.get("search", ""),
                                  include_inactive=request.query_params.get("active") != "true")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(StaffSerializer(page, many=True).data)

    @extend_schema(tags=["staff"], request=StaffInviteSerializer, responses={201: StaffSerializer})
    def post(self, request):
        data = StaffInviteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        v.pop("version", None)
        user = services.staff_invite(actor=request.user, base_url=request.build_absolute_uri("/"), **v)
        return Response(StaffSerializer(selectors.staff_get(actor=request.user, user_id=user.pk)).data,
                        status=status.HTTP_201_CREATED)


def _staff_or_404(request, user_id):
    try:
        return selectors.staff_get(actor=request.user, user_id=user_id)
    except User.DoesNotExist:
        raise Http404 from None


class StaffDetailApi(StaffApiView):
    @extend_schema(tags=["staff"], responses={200: StaffSerializer})
    def get(self, request, user_id: int):
        return Response(StaffSerializer(_staff_or_404(request, user_id)).data)

    @extend_schema(tags=["staff"], request=StaffWriteSerializer, responses={200: StaffSerializer})
    def patch(self, request, user_id: int):
        _staff_or_404(request, user_id)
        data = StaffWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        version = self.edited_version(request, fields.pop("version", None))
        services.staff_update(actor=request.user, user_id=user_id, version=version, **fields)
        return Response(StaffSerializer(selectors.staff_get(actor=request.user, user_id=user_id)).data)


class StaffDeactivateApi(StaffApiView):
    @extend_schema(tags=["staff"], request=inline_serializer("Deactivate", {
        "reason": serializers.CharField(required=False)}), responses={200: StaffSerializer})
    def post(self, request, user_id: int):
        _staff_or_404(request, user_id)
        services.staff_deactivate(actor=request.user, user_id=user_id,
                                  reason=str(request.data.get("reason", ""))[:500])
        return Response(StaffSerializer(selectors.staff_get(actor=request.user, user_id=user_id)).data)


class StaffReactivateApi(StaffApiView):
    @extend_schema(tags=["staff"], request=None, responses={200: StaffSerializer})
    def post(self, request, user_id: int):
        _staff_or_404(request, user_id)
        services.staff_reactivate(actor=request.user, user_id=user_id)
        return Response(StaffSerializer(selectors.staff_get(actor=request.user, user_id=user_id)).data)


class StaffAuditApi(StaffApiView):
    @extend_schema(tags=["staff", "audit"], responses={200: AuditEntrySerializer(many=True)})
    def get(self, request, user_id: int):
        staff = _staff_or_404(request, user_id)
        if not can_view_audit_of_staff(request.user, staff):
            raise Http404
        return Response(AuditEntrySerializer(audit_trail_for(instance=staff), many=True).data)


class RoleListApi(StaffApiView):
    @extend_schema(tags=["staff"], responses={200: RoleSerializer(many=True)})
    def get(self, request):
        return Response(RoleSerializer(selectors.role_list(), many=True).data)

    @extend_schema(tags=["staff"], request=RoleSerializer, responses={201: RoleSerializer})
    def post(self, request):
        data = RoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        role = services.role_create(actor=request.user, code=v["code"], name_zh=v["name_zh"],
                                    name_en=v["name_en"], scope=v.get("scope", "own"),
                                    permissions=v.get("permissions", []))
        return Response(RoleSerializer(role).data, status=status.HTTP_201_CREATED)


class DepartmentListApi(StaffApiView):
    @extend_schema(tags=["staff"], responses={200: NodeSerializer(many=True)})
    def get(self, request):
        return Response(NodeSerializer(selectors.department_tree(), many=True).data)

    @extend_schema(tags=["staff"], request=NodeSerializer, responses={201: NodeSerializer})
    def post(self, request):
        data = NodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dept = services.department_create(actor=request.user, name=data.validated_data["name"],
                                          parent_id=data.validated_data.get("parent_id"))
        return Response(NodeSerializer(dept).data, status=status.HTTP_201_CREATED)


class RegionListApi(StaffApiView):
    @extend_schema(tags=["staff"], responses={200: NodeSerializer(many=True)})
    def get(self, request):
        return Response(NodeSerializer(selectors.region_tree(), many=True).data)

    @extend_schema(tags=["staff"], request=NodeSerializer, responses={201: NodeSerializer})
    def post(self, request):
        data = NodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        region = services.region_create(actor=request.user, name=data.validated_data["name"],
                                        parent_id=data.validated_data.get("parent_id"))
        return Response(NodeSerializer(region).data, status=status.HTTP_201_CREATED)
