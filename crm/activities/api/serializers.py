from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from crm.activities.enums import (
    ActivityKind,
    ActivityStatus,
    NotificationKind,
    TaskPriority,
    TaskStatus,
)
from crm.activities.models import Activity, Notification, Task


# Choice fields with their values inlined in the schema: several resources have a "kind" or
# a "status" with different values, and named enum components would collide (the values
# sit under allOf, where drf-spectacular does not hoist them into shared components).
@extend_schema_field({"allOf": [{"type": "string", "enum": ActivityKind.values}],
                      "description": "visit, call, meeting, note, email"})
class ActivityKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=ActivityKind.choices, **kwargs)


@extend_schema_field({"allOf": [{"type": "string", "enum": TaskPriority.values}],
                      "description": "low, normal, high"})
class TaskPriorityField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=TaskPriority.choices, **kwargs)


@extend_schema_field({"allOf": [{"type": "string", "enum": TaskStatus.values}], "readOnly": True})
class TaskStatusField(serializers.CharField):
    pass


@extend_schema_field({"allOf": [{"type": "string", "enum": ActivityStatus.values}], "readOnly": True,
                      "description": "planned (still to do), done (a completed plan), cancelled (a "
                                     "cancelled plan), logged (recorded as it happened)"})
class ActivityStatusField(serializers.CharField):
    pass


@extend_schema_field({"allOf": [{"type": "string", "enum": NotificationKind.values}], "readOnly": True})
class NotificationKindField(serializers.CharField):
    pass


class TaskSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.full_name", read_only=True)
    assignee = serializers.IntegerField(source="assignee_id", required=False, allow_null=True)
    assignee_name = serializers.SerializerMethodField()
    customer = serializers.IntegerField(source="customer_id", required=False, allow_null=True)
    customer_name = serializers.SerializerMethodField()
    priority = TaskPriorityField(required=False)
    status = TaskStatusField(read_only=True)

    class Meta:
        model = Task
        fields = ["id", "title", "notes", "due_at", "status", "priority", "remind_at", "owner", "owner_name",
                  "assignee", "assignee_name", "customer", "customer_name", "department", "region",
                  "created_at", "completed_at"]
        read_only_fields = ["id", "status", "owner", "owner_name", "department", "region",
                            "created_at", "completed_at"]

    def get_assignee_name(self, task) -> str | None:
        return task.assignee.full_name if task.assignee_id else None

    def get_customer_name(self, task) -> str | None:
        return task.customer.name if task.customer_id else None


class ActivitySerializer(serializers.ModelSerializer):
    kind = ActivityKindField(read_only=True)
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    contact_name = serializers.SerializerMethodField()
    owner_name = serializers.CharField(source="owner.full_name", read_only=True)
    participants = serializers.SerializerMethodField()
    status = ActivityStatusField(read_only=True)
    cancelled_by_name = serializers.SerializerMethodField()

    class Meta:
        model = Activity
        fields = ["id", "kind", "kind_label", "status", "customer", "customer_name", "contact", "contact_name",
                  "subject", "body", "occurred_at", "duration_minutes", "participants", "outcome", "next_step",
                  "next_step_at", "follow_up_task", "planned", "planned_by", "completed_at", "cancelled_at",
                  "cancelled_by", "cancelled_by_name", "cancel_reason", "owner", "owner_name", "created_at",
                  "updated_at", "version"]
        read_only_fields = fields

    def get_contact_name(self, activity) -> str | None:
        return activity.contact.name if activity.contact_id else None

    @extend_schema_field(inline_serializer("ActivityParticipant", {
        "id": serializers.IntegerField(), "name": serializers.CharField()}, many=True))
    def get_participants(self, activity) -> list[dict]:
        return [{"id": u.pk, "name": u.full_name} for u in activity.participants.all()]

    def get_cancelled_by_name(self, activity) -> str | None:
        return activity.cancelled_by.full_name if activity.cancelled_by_id else None


class ActivityWriteSerializer(serializers.Serializer):
    kind = ActivityKindField()
    customer = serializers.IntegerField(min_value=1)
    contact = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    duration_minutes = serializers.IntegerField(min_value=0, max_value=1440, required=False, allow_null=True)
    participants = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    outcome = serializers.CharField(max_length=500, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)
    next_step_at = serializers.DateTimeField(required=False, allow_null=True)


class ActivityUpdateSerializer(serializers.Serializer):
    kind = ActivityKindField(required=False)
    contact = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    subject = serializers.CharField(max_length=200, required=False)
    body = serializers.CharField(required=False, allow_blank=True)
    occurred_at = serializers.DateTimeField(required=False)
    duration_minutes = serializers.IntegerField(min_value=0, max_value=1440, required=False, allow_null=True)
    participants = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)
    outcome = serializers.CharField(max_length=500, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)
    next_step_at = serializers.DateTimeField(required=False, allow_null=True)
    version = serializers.IntegerField(min_value=1, required=False,
                                       help_text=_("记录的当前版本；过期则返回 412"))


class PlanVisitSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1)
    owner = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    planned_at = serializers.DateTimeField()
    contact = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True)
    participants = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False)


class CompleteVisitSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField(required=False, allow_null=True)
    outcome = serializers.CharField(max_length=500, required=False, allow_blank=True)
    body = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    duration_minutes = serializers.IntegerField(min_value=0, max_value=1440, required=False, allow_null=True)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)
    next_step_at = serializers.DateTimeField(required=False, allow_null=True)


class CancelVisitSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, help_text=_("为什么取消这次拜访"))
    version = serializers.IntegerField(min_value=1, required=False,
                                       help_text=_("记录的当前版本；过期则返回 412"))


class NotificationSerializer(serializers.ModelSerializer):
    kind = NotificationKindField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "title", "body", "url", "read_at", "created_at"]
        read_only_fields = fields
