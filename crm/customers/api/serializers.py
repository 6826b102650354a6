from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.customers.enums import ContactRole, CustomerKind, CustomerLevel
from crm.customers.models import Contact, Customer, OwnershipChange


class CustomerSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.full_name", read_only=True, default=None)
    region_name = serializers.CharField(source="region.name", read_only=True, default=None)
    in_pool = serializers.BooleanField(read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "kind", "name", "short_name", "credit_code", "phone", "email", "industry",
                  "region", "region_name", "address", "source", "stage", "level", "tags", "owner",
                  "owner_name", "department", "custom", "notes", "last_activity_at", "in_pool",
                  "created_at", "updated_at", "version"]
        read_only_fields = fields


class CustomerWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=CustomerKind.choices, required=False)
    name = serializers.CharField(max_length=200)
    short_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    credit_code = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    email = serializers.CharField(max_length=254, required=False, allow_blank=True)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    region_id = serializers.IntegerField(required=False, allow_null=True)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    stage = serializers.CharField(max_length=32, required=False)
    level = serializers.ChoiceField(choices=[("", "-"), *CustomerLevel.choices], required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=32), required=False, max_length=30)
    owner_id = serializers.IntegerField(required=False)
    custom = serializers.DictField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    duplicate_override = serializers.BooleanField(required=False, default=False,
                                                  help_text="save although possible duplicates were found")
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=300)
    version = serializers.IntegerField(required=False, help_text="the version you edited; 412 if stale")


class ContactSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    employments = serializers.SerializerMethodField()

    class Meta:
        model = Contact
        fields = ["id", "customer", "customer_name", "name", "title", "department", "role", "phones",
                  "emails", "wechat", "birthday", "notes", "is_active", "employments", "created_at",
                  "updated_at", "version"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_employments(self, contact) -> list[dict]:
        return [{"customer": e.customer_id, "title": e.title, "department": e.department, "role": e.role,
                 "started_at": e.started_at, "ended_at": e.ended_at}
                for e in contact.employments.all()]


class ContactWriteSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(required=False)
    name = serializers.CharField(max_length=100)
    title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    department = serializers.CharField(max_length=100, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=[("", "-"), *ContactRole.choices], required=False)
    phones = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=10)
    emails = serializers.ListField(child=serializers.CharField(max_length=254), required=False, max_length=10)
    wechat = serializers.CharField(max_length=64, required=False, allow_blank=True)
    birthday = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    is_active = serializers.BooleanField(required=False)
    version = serializers.IntegerField(required=False)


class OwnershipChangeSerializer(serializers.ModelSerializer):
    from_owner_name = serializers.CharField(source="from_owner.full_name", read_only=True, default=None)
    to_owner_name = serializers.CharField(source="to_owner.full_name", read_only=True, default=None)

    class Meta:
        model = OwnershipChange
        fields = ["at", "reason", "from_owner", "from_owner_name", "to_owner", "to_owner_name",
                  "actor", "batch", "note"]


class TransferSerializer(serializers.Serializer):
    customer_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, max_length=5000)
    to_owner_id = serializers.IntegerField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class HandoverSerializer(serializers.Serializer):
    from_owner_id = serializers.IntegerField()
    to_owner_ids = serializers.ListField(child=serializers.IntegerField(), allow_empty=False, max_length=50)
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
