"""Staff API of partners (/api/v1/partners/...): partners (list, create, detail, update, status),
their users (invite, role, active), quotas and attainment, deal registrations (list, decide),
tiers and the ranking. Thin: selectors in, services out.

A partner, user, quota or deal outside the actor's scope is 404; an operation the actor may not
do 403; bad input 400 naming the field; a possible duplicate customer on create, or a decision
the registration's state does not allow, 409; a stale version 412."""

from __future__ import annotations

import functools

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError as ApiValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from crm.customers.services import CreditCodeTaken, PossibleDuplicates
from crm.inputs import param_date
from crm.org.api.base import StaffApiView
from crm.org.api.base import validated as _valid

from .. import deals, quotas, selectors, services
from ..models import PartnerMember
from ..views import partner_list_filter
from .serializers import (
    PartnerActiveSerializer,
    PartnerAttainmentSerializer,
    PartnerDealSerializer,
    PartnerDecideSerializer,
    PartnerDetailSerializer,
    PartnerInviteSerializer,
    PartnerListSerializer,
    PartnerMemberSerializer,
    PartnerQuotaSerializer,
    PartnerQuotaWriteSerializer,
    PartnerRankingSerializer,
    PartnerRoleSerializer,
    PartnerStatusSerializer,
    PartnerTierSerializer,
    PartnerWriteSerializer,
)

TAGS = ["partners"]
ERROR = inline_serializer("PartnerError", {"detail": serializers.CharField(), "code": serializers.CharField()})
ERRORS = {400: OpenApiResponse(description="bad input, naming the field and the rule"), 403: ERROR, 404: ERROR,
          409: ERROR}


def partner_errors(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except PossibleDuplicates as exc:
            return Response({"detail": _("可能与已有客户重复；确认后以 duplicate_override 和 override_reason 再次提交。"),
                             "code": "possible_duplicates", "candidates": exc.candidates},
                            status=status.HTTP_409_CONFLICT)
        except CreditCodeTaken:
            return Response({"detail": _("统一社会信用代码已被另一个客户使用。"), "code": "credit_code_taken"},
                            status=status.HTTP_409_CONFLICT)
        except deals.DealTransitionRefused as exc:
            return Response({"detail": " ".join(exc.messages), "code": "transition_not_allowed",
                             "current_status": exc.current, "wanted_status": exc.wanted},
                            status=status.HTTP_409_CONFLICT)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper


def _partner(request, partner_id):
    return selectors.partner_get_for_actor(actor=request.user, partner_id=partner_id)


class PartnerCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("code",)


PARTNER_PAGE = inline_serializer("PartnerPage", {
    "next": serializers.URLField(allow_null=True), "previous": serializers.URLField(allow_null=True),
    "results": PartnerListSerializer(many=True)})


def _detail(request, partner_id, code=status.HTTP_200_OK) -> Response:
    partner = _partner(request, partner_id)
    response = Response(PartnerDetailSerializer(partner).data, status=code)
    response["ETag"] = f'"{partner.version}"'
    return response


class PartnerListApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_list", responses={200: PARTNER_PAGE, 400: ERROR}, parameters=[
        OpenApiParameter("status", str), OpenApiParameter("tier", str, description="tier code"),
        OpenApiParameter("owner", int, description="channel manager"),
        OpenApiParameter("region", int, description="with its sub-regions"),
        OpenApiParameter("q", str, description="name, short name or code prefix"),
        OpenApiParameter("cursor", str), OpenApiParameter("limit", int)])
    def get(self, request):
        qs, errors = partner_list_filter(selectors.partner_list_visible_to(actor=request.user), request.query_params)
        if errors:
            raise ApiValidationError({"filter": errors})
        paginator = PartnerCursor()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PartnerListSerializer(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="v1_partners_create", request=PartnerWriteSerializer,
                   responses={201: PartnerDetailSerializer, **ERRORS})
    @partner_errors
    def post(self, request):
        data = _valid(PartnerWriteSerializer, request.data)
        override = data.pop("duplicate_override", False)
        reason = data.pop("override_reason", "")
        data.pop("version", None)
        partner = services.partner_create(actor=request.user, data=data, duplicate_override=override and bool(reason),
                                          override_reason=reason)
        return _detail(request, partner.pk, code=status.HTTP_201_CREATED)


class PartnerDetailApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_retrieve", responses={200: PartnerDetailSerializer, 404: ERROR})
    @partner_errors
    def get(self, request, partner_id):
        return _detail(request, partner_id)

    @extend_schema(tags=TAGS, operation_id="v1_partners_update", request=PartnerWriteSerializer,
                   responses={200: PartnerDetailSerializer, 412: ERROR, **ERRORS})
    @partner_errors
    def patch(self, request, partner_id):
        data = _valid(PartnerWriteSerializer, request.data, partial=True)
        for key in ("duplicate_override", "override_reason", "customer_id", "credit_code"):
            data.pop(key, None)
        version = self.edited_version(request, data.pop("version", None))
        services.partner_update(actor=request.user, partner_id=_partner(request, partner_id).pk, data=data,
                                version=version)
        return _detail(request, partner_id)


class PartnerStatusApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_status", request=PartnerStatusSerializer,
                   responses={200: PartnerDetailSerializer, **ERRORS},
                   description="active <-> suspended, either -> terminated (final); a reason is required to "
                               "suspend or terminate. Suspending locks the partner's users out at once.")
    @partner_errors
    def post(self, request, partner_id):
        data = _valid(PartnerStatusSerializer, request.data)
        services.partner_status_set(actor=request.user, partner_id=_partner(request, partner_id).pk, **data)
        return _detail(request, partner_id)


class PartnerUsersApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_users_list", responses={200: PartnerMemberSerializer(many=True),
                                                                                 404: ERROR})
    @partner_errors
    def get(self, request, partner_id):
        partner = _partner(request, partner_id)
        return Response(PartnerMemberSerializer(selectors.members_of_partner(partner_id=partner.pk), many=True).data)

    @extend_schema(tags=TAGS, operation_id="v1_partners_users_invite", request=PartnerInviteSerializer,
                   responses={201: PartnerMemberSerializer, **ERRORS},
                   description="Creates the portal user and emails them a link to set their password.")
    @partner_errors
    def post(self, request, partner_id):
        data = _valid(PartnerInviteSerializer, request.data)
        member = services.member_invite(actor=request.user, partner_id=_partner(request, partner_id).pk,
                                        base_url=request.build_absolute_uri("/"), **data)
        return Response(PartnerMemberSerializer(member).data, status=status.HTTP_201_CREATED)


def _member(request, partner_id, member_id) -> PartnerMember:
    partner = _partner(request, partner_id)
    return selectors.members_of_partner(partner_id=partner.pk).get(pk=member_id)


class PartnerUserRoleApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_users_role", request=PartnerRoleSerializer,
                   responses={200: PartnerMemberSerializer, **ERRORS})
    @partner_errors
    def post(self, request, partner_id, member_id):
        data = _valid(PartnerRoleSerializer, request.data)
        member = _member(request, partner_id, member_id)
        services.member_role_set(actor=request.user, partner_id=member.partner_id, member_id=member.pk, **data)
        return Response(PartnerMemberSerializer(_member(request, partner_id, member_id)).data)


class PartnerUserActiveApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_users_active", request=PartnerActiveSerializer,
                   responses={200: PartnerMemberSerializer, **ERRORS},
                   description="Deactivate (locks the user out at once, revoking their tokens) or reactivate.")
    @partner_errors
    def post(self, request, partner_id, member_id):
        data = _valid(PartnerActiveSerializer, request.data)
        member = _member(request, partner_id, member_id)
        services.member_active_set(actor=request.user, partner_id=member.partner_id, member_id=member.pk, **data)
        return Response(PartnerMemberSerializer(_member(request, partner_id, member_id)).data)


class PartnerQuotasApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_quotas_list", responses={200: PartnerQuotaSerializer(many=True),
                                                                                  404: ERROR})
    @partner_errors
    def get(self, request, partner_id):
        partner = _partner(request, partner_id)
        return Response(PartnerQuotaSerializer(quotas.quotas_of_partner(partner_id=partner.pk), many=True).data)

    @extend_schema(tags=TAGS, operation_id="v1_partners_quotas_set", request=PartnerQuotaWriteSerializer,
                   responses={200: PartnerQuotaSerializer, **ERRORS},
                   description="Create or replace the quota of one period (and category).")
    @partner_errors
    def post(self, request, partner_id):
        data = _valid(PartnerQuotaWriteSerializer, request.data)
        quota = quotas.quota_set(actor=request.user, partner_id=_partner(request, partner_id).pk, **data)
        return Response(PartnerQuotaSerializer(quota).data)


class PartnerQuotaDetailApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_partners_quotas_delete", responses={204: None, 403: ERROR, 404: ERROR})
    @partner_errors
    def delete(self, request, partner_id, quota_id):
        partner = _partner(request, partner_id)
        quotas.quota_delete(actor=request.user, quota_id=quota_id, partner_id=partner.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PartnerAttainmentApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_partners_attainment", responses={200: PartnerAttainmentSerializer(many=True),
                                                                                 400: ERROR, 404: ERROR},
                   parameters=[OpenApiParameter("on", OpenApiTypes.DATE, description="quotas whose period contains "
                                                                                     "this day (default today)"),
                               OpenApiParameter("period", str, enum=["month", "quarter", "year"]),
                               OpenApiParameter("all", bool, description="every quota, whatever its period")])
    @partner_errors
    def get(self, request, partner_id):
        partner = _partner(request, partner_id)
        period = request.query_params.get("period") or None
        if period and period not in ("month", "quarter", "year"):
            raise ApiValidationError({"period": [_("周期只能是 month、quarter 或 year。")]})
        on = None if request.query_params.get("all") in ("1", "true") else (
            param_date(request.query_params, "on") or timezone.localdate())
        rows = quotas.quota_attainment(partner_id=partner.pk, on=on, period=period)
        return Response(PartnerAttainmentSerializer(rows, many=True).data)


class DealListApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_partners_deals_list", responses={200: PartnerDealSerializer(many=True),
                                                                                 400: ERROR},
                   parameters=[OpenApiParameter("status", str), OpenApiParameter("partner", int),
                               OpenApiParameter("limit", int, description="at most 200 (default 50)")])
    def get(self, request):
        partner = request.query_params.get("partner") or None
        if partner is not None and not str(partner).isdigit():
            raise ApiValidationError({"partner": [_("应为伙伴编号。")]})
        try:
            limit = max(1, min(int(request.query_params.get("limit") or 50), 200))
        except ValueError:
            raise ApiValidationError({"limit": [_("应为整数。")]}) from None
        qs = deals.deals_for_staff(actor=request.user, status=request.query_params.get("status") or None,
                                   partner_id=int(partner) if partner else None)
        return Response(PartnerDealSerializer(qs[:limit], many=True).data)


class DealDecideApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_deals_decide", request=PartnerDecideSerializer,
                   responses={200: PartnerDealSerializer, **ERRORS},
                   description="approve (protected for the tenant's protection days) or reject (note required).")
    @partner_errors
    def post(self, request, deal_id):
        data = _valid(PartnerDecideSerializer, request.data)
        deal = deals.deal_decide(actor=request.user, deal_id=deal_id, **data)
        return Response(PartnerDealSerializer(deals.deal_get_for_staff(actor=request.user, deal_id=deal.pk)).data)


class TierListApi(StaffApiView):
    parser_classes = [JSONParser]

    @extend_schema(tags=TAGS, operation_id="v1_partners_tiers_list", responses={200: PartnerTierSerializer(many=True)})
    def get(self, request):
        return Response(PartnerTierSerializer(selectors.tier_list(include_inactive=True), many=True).data)

    @extend_schema(tags=TAGS, operation_id="v1_partners_tiers_create", request=PartnerTierSerializer,
                   responses={201: PartnerTierSerializer, **ERRORS})
    def post(self, request):
        data = _valid(PartnerTierSerializer, request.data)
        tier = services.tier_save(actor=request.user, data=data)
        return Response(PartnerTierSerializer(tier).data, status=status.HTTP_201_CREATED)


class RankingApi(StaffApiView):
    @extend_schema(tags=TAGS, operation_id="v1_partners_ranking", responses={200: PartnerRankingSerializer(many=True),
                                                                             400: ERROR},
                   parameters=[OpenApiParameter("period", str, enum=["month", "quarter", "year"]),
                               OpenApiParameter("on", OpenApiTypes.DATE, description="a day of the period"),
                               OpenApiParameter("sort", str, enum=list(quotas.RANK_SORTS))])
    def get(self, request):
        rows = quotas.partner_ranking(partners=selectors.partner_list_visible_to(actor=request.user),
                                      period=request.query_params.get("period") or "month",
                                      period_start=param_date(request.query_params, "on") or timezone.localdate(),
                                      sort=request.query_params.get("sort") or "attainment")
        return Response(PartnerRankingSerializer(rows, many=True).data)
