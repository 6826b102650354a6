from django.db import connection
from rest_framework import serializers

from crm.org.models import Department, Region, Role, User


class RoleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Role
        fields = ["id", "code", "name_zh", "name_en", "scope", "permissions", "is_system"]
        read_only_fields = ["id", "is_system"]


class NodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    parent = serializers.IntegerField(source="parent_id", allow_null=True, required=False)
    path = serializers.CharField(read_only=True)
    depth = serializers.IntegerField(read_only=True)


class StaffSerializer(serializers.ModelSerializer):
    roles = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    department = serializers.PrimaryKeyRelatedField(read_only=True)
    department_name = serializers.CharField(source="department.name", read_only=True, default=None)
    region = serializers.PrimaryKeyRelatedField(read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True, default=None)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "phone", "title", "language", "department",
                  "department_name", "region", "region_name", "roles", "is_active",
                  "date_joined", "deactivated_at", "version"]
        read_only_fields = fields


class StaffWriteSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False)
    full_name = serializers.CharField(max_length=150, required=False)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    language = serializers.CharField(max_length=10, required=False, allow_blank=True)
    department_id = serializers.IntegerField(required=False, allow_null=True)
    region_id = serializers.IntegerField(required=False, allow_null=True)
    role_codes = serializers.ListField(child=serializers.CharField(max_length=50), required=False)
    version = serializers.IntegerField(required=False, help_text="the version you edited; 412 if stale")


class StaffInviteSerializer(StaffWriteSerializer):
    email = serializers.EmailField()
    full_name = serializers.CharField(max_length=150)
    role_codes = serializers.ListField(child=serializers.CharField(max_length=50), allow_empty=False)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class MeSerializer(serializers.Serializer):
    def to_representation(self, user):
        tenant = connection.tenant
        return {
            "id": user.pk,
            "email": user.email,
            "full_name": user.full_name,
            "language": user.language or tenant.language,
            "roles": sorted(user.role_codes()),
            "scope": user.effective_scope(),
            "permissions": sorted(user.permission_codes()),
            "department": user.department_id,
            "region": user.region_id,
            "tenant": {
                "name": tenant.name,
                "slug": tenant.slug,
                "modes": list(tenant.modes),
                "status": tenant.status,
                "language": tenant.language,
                "time_zone": tenant.time_zone,
                "currency": tenant.currency,
            },
        }


class AuditEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    actor_label = serializers.CharField()
    via = serializers.CharField()
    action = serializers.CharField()
    changes = serializers.JSONField()
    note = serializers.CharField()


__all__ = ["RoleSerializer", "NodeSerializer", "StaffSerializer", "StaffWriteSerializer",
           "StaffInviteSerializer", "TokenRequestSerializer", "TokenResponseSerializer",
           "MeSerializer", "AuditEntrySerializer", "Department", "Region"]
