from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.approvals import registry
from crm.approvals.enums import (
    ApproverKind,
    AssignmentStatus,
    RequestStatus,
    ScopeRestriction,
    StepMode,
    StepStatus,
)


# Choice fields with their values inlined in the schema (several resources have a "status"
# or a "mode" with different values; named enum components would collide).
def _choice_field(values: list[str], *, description: str = ""):
    # a sibling key keeps the allOf (a bare one-element allOf is collapsed, then hoisted)
    schema = {"allOf": [{"type": "string", "enum": values}], "description": description or ", ".join(values)}

    @extend_schema_field(schema)
    class _Field(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=values, **kwargs)

    return _Field


RequestStatusField = _choice_field(RequestStatus.values)
StepStatusField = _choice_field(StepStatus.values)
AssignmentStatusField = _choice_field(AssignmentStatus.values)
StepModeField = _choice_field(StepMode.values, description="any: one approval completes the step; all: everyone's")
ApproverKindField = _choice_field(ApproverKind.values)
ScopeRestrictionField = _choice_field(ScopeRestriction.values)


_DT = serializers.DateTimeField()
_MONEY = serializers.DecimalField(max_digits=16, decimal_places=2)


def _dt(value):
    return _DT.to_representation(value) if value else None


class UserBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class FactsSerializer(serializers.Serializer):
    amount = serializers.CharField()
    currency = serializers.CharField()
    discount_pct = serializers.CharField(allow_null=True)
    customer_is_new = serializers.BooleanField()
    partner_tier = serializers.CharField(allow_blank=True)
    credit_over_limit = serializers.BooleanField()
    department_id = serializers.IntegerField(allow_null=True)
    region_id = serializers.IntegerField(allow_null=True)


class ConditionsSerializer(serializers.Serializer):
    min_amount = serializers.CharField(allow_null=True)
    max_amount = serializers.CharField(allow_null=True)
    min_discount_pct = serializers.CharField(allow_null=True)
    customer_is_new = serializers.BooleanField(allow_null=True)
    partner_tiers = serializers.ListField(child=serializers.CharField())
    credit_over_limit = serializers.BooleanField(allow_null=True)


class ChainStepSerializer(serializers.Serializer):
    """A policy step as it was frozen onto the request at submission."""

    position = serializers.IntegerField()
    name_zh = serializers.CharField()
    name_en = serializers.CharField(allow_blank=True)
    mode = StepModeField()
    approver_kind = ApproverKindField()
    role_code = serializers.CharField(allow_blank=True)
    scope = ScopeRestrictionField()
    user_id = serializers.IntegerField(allow_null=True)
    conditions = ConditionsSerializer()
    applies = serializers.BooleanField()
    approver_ids = serializers.ListField(child=serializers.IntegerField())


class AssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    approver = UserBriefSerializer()
    status = AssignmentStatusField()
    decided_by = UserBriefSerializer(allow_null=True)
    on_behalf = serializers.BooleanField(help_text="decided by a delegate on the approver's behalf")
    comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, instance):
        return {
            "id": instance.pk,
            "approver": {"id": instance.approver_id, "full_name": instance.approver.full_name},
            "status": instance.status,
            "decided_by": ({"id": instance.decided_by_id, "full_name": instance.decided_by.full_name}
                           if instance.decided_by_id else None),
            "on_behalf": instance.on_behalf(),
            "comment": instance.comment,
            "created_at": _dt(instance.created_at),
            "decided_at": _dt(instance.decided_at),
        }


class StepSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    mode = StepModeField()
    status = StepStatusField()
    approver_ids = serializers.ListField(child=serializers.IntegerField())
    activated_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    assignments = AssignmentSerializer(many=True)

    def to_representation(self, instance):
        return {
            "position": instance.position,
            "name": instance.name(get_language() or ""),
            "mode": instance.mode,
            "status": instance.status,
            "approver_ids": list(instance.approver_ids),
            "activated_at": _dt(instance.activated_at),
            "decided_at": _dt(instance.decided_at),
            "assignments": AssignmentSerializer(instance.assignments.all(), many=True).data,
        }


class RequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    doc_type = serializers.CharField()
    doc_type_label = serializers.CharField()
    object_id = serializers.IntegerField()
    title = serializers.CharField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    status = RequestStatusField()
    status_label = serializers.CharField()
    submitter = UserBriefSerializer()
    current_position = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()
    document_url = serializers.CharField(allow_blank=True)

    def to_representation(self, instance):
        doc = registry.get(instance.doc_type)
        try:
            url = doc.url(instance.object_id) if doc else ""
        except Exception:  # the document app's link is a nicety; never a 500
            url = ""
        return {
            "id": instance.pk,
            "doc_type": instance.doc_type,
            "doc_type_label": registry.label_of(instance.doc_type),
            "object_id": instance.object_id,
            "title": instance.title,
            "amount": _MONEY.to_representation(instance.amount),
            "currency": instance.currency,
            "status": instance.status,
            "status_label": str(instance.get_status_display()),
            "submitter": {"id": instance.submitter_id, "full_name": instance.submitter.full_name},
            "current_position": instance.current_position,
            "created_at": _dt(instance.created_at),
            "decided_at": _dt(instance.decided_at),
            "version": instance.version,
            "document_url": url or "",
        }


class RequestDetailSerializer(RequestSerializer):
    facts = FactsSerializer()
    chain = ChainStepSerializer(many=True)
    steps = StepSerializer(many=True)
    can_approve = serializers.BooleanField()
    can_reject = serializers.BooleanField()
    can_recall = serializers.BooleanField()
    acting_for = UserBriefSerializer(allow_null=True, help_text="whose assignment the actor would decide as a delegate")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        ctx = self.context
        assignment = ctx.get("actionable")
        data.update({
            "facts": instance.facts,
            "chain": instance.chain,
            "steps": StepSerializer(instance.steps.all(), many=True).data,
            "can_approve": assignment is not None,
            "can_reject": assignment is not None,
            "can_recall": bool(ctx.get("can_recall")),
            "acting_for": ({"id": assignment.approver_id, "full_name": assignment.approver.full_name}
                           if assignment is not None and assignment.approver_id != ctx.get("actor_id") else None),
        })
        return data


class InboxItemSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    step = serializers.IntegerField()
    step_name = serializers.CharField()
    waiting_since = serializers.DateTimeField()
    on_behalf_of = UserBriefSerializer(allow_null=True)
    request = RequestSerializer()

    def to_representation(self, item):
        a = item.assignment
        return {
            "assignment_id": a.pk,
            "step": a.step.position,
            "step_name": a.step.name(get_language() or ""),
            "waiting_since": _dt(a.created_at),
            "on_behalf_of": ({"id": item.on_behalf_of.pk, "full_name": item.on_behalf_of.full_name}
                             if item.on_behalf_of else None),
            "request": RequestSerializer(a.request).data,
        }


class InboxPageSerializer(serializers.Serializer):
    results = InboxItemSerializer(many=True)
    next_cursor = serializers.IntegerField(allow_null=True, help_text="pass as ?cursor= for the next page")


class RequestPageSerializer(serializers.Serializer):
    results = RequestSerializer(many=True)
    next_cursor = serializers.IntegerField(allow_null=True)


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    step = serializers.IntegerField(required=False, min_value=1,
                                    help_text="the step position the approver saw; makes a repeated click safe")


class RejectSerializer(DecisionSerializer):
    comment = serializers.CharField(max_length=1000)


class PolicyStepSerializer(serializers.Serializer):
    position = serializers.IntegerField(required=False, min_value=1)
    name_zh = serializers.CharField(max_length=100)
    name_en = serializers.CharField(max_length=100, required=False, allow_blank=True)
    mode = StepModeField(required=False)
    approver_kind = ApproverKindField(required=False)
    role_code = serializers.CharField(max_length=50, required=False, allow_blank=True)
    scope = ScopeRestrictionField(required=False)
    user_id = serializers.IntegerField(required=False, allow_null=True)
    min_amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    max_amount = serializers.DecimalField(max_digits=16, decimal_places=2, required=False, allow_null=True)
    min_discount_pct = serializers.DecimalField(max_digits=5, decimal_places=2, required=False, allow_null=True)
    customer_is_new = serializers.BooleanField(required=False, allow_null=True, default=None)
    partner_tiers = serializers.ListField(child=serializers.CharField(max_length=20), required=False)
    credit_over_limit = serializers.BooleanField(required=False, allow_null=True, default=None)


class PolicySerializer(serializers.Serializer):
    doc_type = serializers.CharField()
    doc_type_label = serializers.CharField()
    name = serializers.CharField()
    active = serializers.BooleanField()
    version = serializers.IntegerField()
    updated_by = UserBriefSerializer(allow_null=True)
    updated_at = serializers.DateTimeField()
    steps = PolicyStepSerializer(many=True)

    def to_representation(self, policy):
        return {
            "doc_type": policy.doc_type,
            "doc_type_label": registry.label_of(policy.doc_type),
            "name": policy.name,
            "active": policy.active,
            "version": policy.version,
            "updated_by": ({"id": policy.updated_by_id, "full_name": policy.updated_by.full_name}
                           if policy.updated_by_id else None),
            "updated_at": _dt(policy.updated_at),
            "steps": [{
                "position": s.position, "name_zh": s.name_zh, "name_en": s.name_en, "mode": s.mode,
                "approver_kind": s.approver_kind, "role_code": s.role_code, "scope": s.scope,
                "user_id": s.user_id,
                "min_amount": None if s.min_amount is None else f"{s.min_amount:.2f}",
                "max_amount": None if s.max_amount is None else f"{s.max_amount:.2f}",
                "min_discount_pct": None if s.min_discount_pct is None else f"{s.min_discount_pct:.2f}",
                "customer_is_new": s.customer_is_new, "partner_tiers": list(s.partner_tiers or []),
                "credit_over_limit": s.credit_over_limit,
            } for s in policy.steps.all()],
        }


class PolicyWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    active = serializers.BooleanField(required=False)
    version = serializers.IntegerField(required=False, help_text="the version edited (or send If-Match)")
    steps = PolicyStepSerializer(many=True)


class DelegationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    from_user = UserBriefSerializer()
    to_user = UserBriefSerializer()
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    doc_types = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField()
    in_force = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True)
    ended_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, d):
        from django.utils import timezone

        now = timezone.now()
        return {
            "id": d.pk,
            "from_user": {"id": d.from_user_id, "full_name": d.from_user.full_name},
            "to_user": {"id": d.to_user_id, "full_name": d.to_user.full_name},
            "starts_at": _dt(d.starts_at),
            "ends_at": _dt(d.ends_at),
            "doc_types": list(d.doc_types or []),
            "active": d.active,
            "in_force": d.active and d.starts_at <= now < d.ends_at,
            "reason": d.reason,
            "ended_at": _dt(d.ended_at),
        }


class DelegationListSerializer(serializers.Serializer):
    given = DelegationSerializer(many=True)
    received = DelegationSerializer(many=True)


class DelegationWriteSerializer(serializers.Serializer):
    to_user_id = serializers.IntegerField()
    from_user_id = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="admins only: set someone else's delegation")
    starts_at = serializers.DateTimeField(required=False, allow_null=True)
    ends_at = serializers.DateTimeField()
    doc_types = serializers.ListField(child=serializers.CharField(max_length=40), required=False)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True)


class CountSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="at most 999 (show 999+)")
