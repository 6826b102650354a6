"""Staff API of the approval engine: the inbox, a request's detail and its transitions,
my submissions, policies (tenant admins edit), delegations. Thin: selectors and services.
A request the actor cannot see answers 404; one they see but may not decide, 403; a state
that no longer allows the operation, 409."""

from __future__ import annotations

import functools

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.approvals import registry, selectors, services
from crm.approvals.enums import Decision, RequestStatus
from crm.approvals.permissions import actionable_assignment, can_recall_request
from crm.org.api.base import StaffApiView

from .serializers import (
    CountSerializer,
    DecisionSerializer,
    DelegationListSerializer,
    DelegationSerializer,
    DelegationWriteSerializer,
    InboxPageSerializer,
    PolicySerializer,
    PolicyWriteSerializer,
    RejectSerializer,
    RequestDetailSerializer,
    RequestPageSerializer,
)

CONFLICT = {409: inline_serializer("ApprovalConflict", {"detail": serializers.CharField(),
                                                       "code": serializers.CharField()})}


def approval_errors(func):
    """Missing or invisible records are 404; a state conflict is 409 (with a code)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except services.ApprovalConflict as exc:
            return Response({"detail": " ".join(str(m) for m in exc.messages), "code": exc.code or "conflict"},
                            status=status.HTTP_409_CONFLICT)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper


def _limit(request) -> int:
    raw = request.query_params.get("limit", "")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 200 else selectors.INBOX_PAGE


def _doc_type_param(request) -> str:
    value = request.query_params.get("doc_type", "")
    if value and len(value) > 40:
        raise serializers.ValidationError({"doc_type": _("未知的单据类型。")})
    return value


def detail_response(request, approval, *, code=status.HTTP_200_OK) -> Response:
    actor = request.user
    approval = selectors.approval_request_detail(request=approval)
    active = next((s for s in approval.steps.all() if s.position == approval.current_position), None)
    assignment = None
    if active is not None:
        delegators = selectors.delegator_ids_for(actor=actor, doc_type=approval.doc_type)
        assignment = actionable_assignment(actor, approval, list(active.assignments.all()), delegators)
    decided = any(a.status in ("approved", "rejected") for s in approval.steps.all() for a in s.assignments.all())
    data = RequestDetailSerializer(approval, context={
        "actionable": assignment, "actor_id": actor.pk,
        "can_recall": can_recall_request(actor, approval, decided=decided)}).data
    return Response(data, status=code)


class ApprovalInboxApi(StaffApiView):
    @extend_schema(tags=["approvals"], responses={200: InboxPageSerializer}, parameters=[
        OpenApiParameter("doc_type", str), OpenApiParameter("cursor", int, description="next_cursor of the last page"),
        OpenApiParameter("limit", int)])
    def get(self, request):
        page = selectors.approval_inbox_for(actor=request.user, doc_type=_doc_type_param(request),
                                            cursor=request.query_params.get("cursor"), limit=_limit(request))
        return Response(InboxPageSerializer({"results": page.items, "next_cursor": page.next_cursor}).data)


class ApprovalWaitingCountApi(StaffApiView):
    @extend_schema(tags=["approvals"], responses={200: CountSerializer})
    def get(self, request):
        return Response({"count": selectors.approvals_waiting_count(actor=request.user)})


class ApprovalSubmissionsApi(StaffApiView):
    @extend_schema(tags=["approvals"], responses={200: RequestPageSerializer}, parameters=[
        OpenApiParameter("status", str, enum=RequestStatus.values), OpenApiParameter("doc_type", str),
        OpenApiParameter("cursor", int), OpenApiParameter("limit", int)])
    def get(self, request):
        wanted = request.query_params.get("status", "")
        if wanted and wanted not in RequestStatus.values:
            raise serializers.ValidationError({"status": _("状态必须是 %(choices)s 之一。") % {
                "choices": ", ".join(RequestStatus.values)}})
        page = selectors.approval_submissions_for(actor=request.user, status=wanted,
                                                  doc_type=_doc_type_param(request),
                                                  cursor=request.query_params.get("cursor"), limit=_limit(request))
        page.items = [_with_submitter(r, request.user) for r in page.items]
        return Response(RequestPageSerializer({"results": page.items, "next_cursor": page.next_cursor}).data)


def _with_submitter(approval, user):
    approval.submitter = user  # my own submissions: no query per row
    return approval


class ApprovalDetailApi(StaffApiView):
    @extend_schema(tags=["approvals"], responses={200: RequestDetailSerializer})
    @approval_errors
    def get(self, request, request_id: int):
        return detail_response(request, selectors.approval_request_get_for_actor(actor=request.user,
                                                                                 request_id=request_id))


class _DecideApi(StaffApiView):
    decision = Decision.APPROVE
    input_serializer = DecisionSerializer

    @approval_errors
    def post(self, request, request_id: int):
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        approval = services.approval_decide(actor=request.user, request_id=request_id, decision=self.decision,
                                            comment=data.validated_data.get("comment", ""),
                                            step=data.validated_data.get("step"))
        return detail_response(request, approval)


class ApprovalApproveApi(_DecideApi):
    decision = Decision.APPROVE

    @extend_schema(tags=["approvals"], request=DecisionSerializer, responses={200: RequestDetailSerializer, **CONFLICT})
    def post(self, request, request_id: int):
        return super().post(request, request_id)


class ApprovalRejectApi(_DecideApi):
    decision = Decision.REJECT
    input_serializer = RejectSerializer

    @extend_schema(tags=["approvals"], request=RejectSerializer, responses={200: RequestDetailSerializer, **CONFLICT})
    def post(self, request, request_id: int):
        return super().post(request, request_id)


class ApprovalRecallApi(StaffApiView):
    @extend_schema(tags=["approvals"], request=None, responses={200: RequestDetailSerializer, **CONFLICT})
    @approval_errors
    def post(self, request, request_id: int):
        return detail_response(request, services.approval_recall(actor=request.user, request_id=request_id))


# -- policies --------------------------------------------------------------------------------
class ApprovalPolicyListApi(StaffApiView):
    @extend_schema(tags=["approval-policies"], responses={200: PolicySerializer(many=True)})
    def get(self, request):
        return Response(PolicySerializer(services.approval_policies_ensure(), many=True).data)


class ApprovalPolicyDetailApi(StaffApiView):
    def _policy(self, doc_type: str):
        if registry.get(doc_type) is None and selectors.approval_policy_get(doc_type=doc_type) is None:
            raise Http404
        if registry.get(doc_type) is not None:
            services.approval_policy_default_seed(doc_type=doc_type)
        return selectors.approval_policy_get(doc_type=doc_type)

    @extend_schema(tags=["approval-policies"], responses={200: PolicySerializer})
    def get(self, request, doc_type: str):
        return Response(PolicySerializer(self._policy(doc_type)).data)

    @extend_schema(tags=["approval-policies"], request=PolicyWriteSerializer, responses={200: PolicySerializer})
    def put(self, request, doc_type: str):
        data = PolicyWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        services.approval_policy_save(
            actor=request.user, doc_type=doc_type, steps=[dict(s) for s in values["steps"]],
            name=values.get("name"), active=values.get("active"),
            version=self.edited_version(request, values.get("version")))
        return Response(PolicySerializer(selectors.approval_policy_get(doc_type=doc_type)).data)

    @extend_schema(tags=["approval-policies"], request=PolicyWriteSerializer, responses={200: PolicySerializer})
    def post(self, request, doc_type: str):
        return self.put(request, doc_type)


# -- delegations -----------------------------------------------------------------------------
class DelegationListApi(StaffApiView):
    @extend_schema(tags=["delegations"], responses={200: DelegationListSerializer})
    def get(self, request):
        return Response(DelegationListSerializer(selectors.delegation_list_for(actor=request.user)).data)

    @extend_schema(tags=["delegations"], request=DelegationWriteSerializer, responses={201: DelegationSerializer})
    def post(self, request):
        data = DelegationWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        delegation = services.delegation_set(
            actor=request.user, to_user_id=values["to_user_id"], from_user_id=values.get("from_user_id"),
            starts_at=values.get("starts_at"), ends_at=values["ends_at"], doc_types=values.get("doc_types") or [],
            reason=values.get("reason", ""))
        return Response(DelegationSerializer(selectors.unscoped_delegation_get(delegation_id=delegation.pk)).data,
                        status=status.HTTP_201_CREATED)


class DelegationEndApi(StaffApiView):
    @extend_schema(tags=["delegations"], request=None, responses={200: DelegationSerializer})
    @approval_errors
    def post(self, request, delegation_id: int):
        delegation = services.delegation_end(actor=request.user, delegation_id=delegation_id)
        return Response(DelegationSerializer(selectors.unscoped_delegation_get(delegation_id=delegation.pk)).data)

