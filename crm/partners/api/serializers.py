"""Shapes of the staff partner API."""

from rest_framework import serializers

from ..enums import DealStatus, MemberRole, PartnerStatus, QuotaPeriod


class PartnerTierSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(max_length=32)
    name_zh = serializers.CharField(max_length=50)
    name_en = serializers.CharField(max_length=50, required=False, allow_blank=True)
    position = serializers.IntegerField(required=False, min_value=0, max_value=999)
    is_active = serializers.BooleanField(required=False, default=True)


class PartnerListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    tier = serializers.CharField(source="tier.code")
    status = serializers.CharField()
    owner_id = serializers.IntegerField()
    owner_name = serializers.CharField(source="owner.full_name")
    region_id = serializers.IntegerField(allow_null=True)
    credit_limit = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    version = serializers.IntegerField()


class PartnerDetailSerializer(PartnerListSerializer):
    customer_id = serializers.IntegerField()
    department_id = serializers.IntegerField(allow_null=True)
    regions_served = serializers.SerializerMethodField()
    payment_terms_days = serializers.IntegerField()
    contract_start = serializers.DateField(allow_null=True)
    contract_end = serializers.DateField(allow_null=True)
    contact_name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    address = serializers.CharField()
    sales_see_all = serializers.BooleanField()
    status_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_regions_served(self, obj) -> list[int]:
        return sorted(r.pk for r in obj.regions_served.all())


class PartnerWriteSerializer(serializers.Serializer):
    """Every field optional on update; ``name`` and ``tier`` required on create (checked by the
    service, which names the field)."""

    name = serializers.CharField(required=False, allow_blank=True)
    short_name = serializers.CharField(required=False, allow_blank=True)
    code = serializers.CharField(required=False, allow_blank=True)
    tier = serializers.CharField(required=False, help_text="tier code or id")
    owner_id = serializers.IntegerField(required=False)
    region_id = serializers.IntegerField(required=False, allow_null=True)
    regions_served = serializers.ListField(child=serializers.IntegerField(), required=False)
    credit_limit = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    payment_terms_days = serializers.IntegerField(required=False)
    contract_start = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    contract_end = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    contact_name = serializers.CharField(required=False, allow_blank=True)
    phone = serializers.CharField(required=False, allow_blank=True)
    email = serializers.CharField(required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True)
    sales_see_all = serializers.BooleanField(required=False)
    customer_id = serializers.IntegerField(required=False, help_text="create only: link an existing customer")
    credit_code = serializers.CharField(required=False, allow_blank=True, help_text="create only")
    duplicate_override = serializers.BooleanField(required=False, default=False)
    override_reason = serializers.CharField(required=False, allow_blank=True, default="")
    version = serializers.IntegerField(required=False)


class PartnerStatusSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="one of: " + ", ".join(PartnerStatus.values))
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PartnerMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    email = serializers.CharField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    role = serializers.CharField()
    is_active = serializers.BooleanField(source="user.is_active")
    created_at = serializers.DateTimeField()


class PartnerInviteSerializer(serializers.Serializer):
    email = serializers.CharField()
    full_name = serializers.CharField()
    role = serializers.CharField(default=MemberRole.SALES, help_text="one of: " + ", ".join(MemberRole.values))
    phone = serializers.CharField(required=False, allow_blank=True, default="")
    language = serializers.CharField(default="", allow_blank=True, help_text="zh-hans or en")


class PartnerRoleSerializer(serializers.Serializer):
    role = serializers.CharField(help_text="one of: " + ", ".join(MemberRole.values))


class PartnerActiveSerializer(serializers.Serializer):
    active = serializers.BooleanField()


class PartnerQuotaSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    category_id = serializers.IntegerField(allow_null=True)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    version = serializers.IntegerField()


class PartnerQuotaWriteSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="one of: " + ", ".join(QuotaPeriod.values))
    period_start = serializers.DateField(help_text="the first day of the month, quarter or year")
    amount = serializers.CharField()
    category_id = serializers.IntegerField(required=False, allow_null=True)


class PartnerAttainmentSerializer(serializers.Serializer):
    quota = PartnerQuotaSerializer()
    ordered = serializers.DecimalField(max_digits=20, decimal_places=2)
    shipped = serializers.DecimalField(max_digits=20, decimal_places=2)
    collected = serializers.DecimalField(max_digits=20, decimal_places=2)
    pct_ordered = serializers.DecimalField(max_digits=10, decimal_places=1)
    pct_shipped = serializers.DecimalField(max_digits=10, decimal_places=1)
    pct_collected = serializers.DecimalField(max_digits=10, decimal_places=1)


class PartnerDealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    partner_id = serializers.IntegerField()
    partner_name = serializers.CharField(source="partner.name")
    end_customer_id = serializers.IntegerField(allow_null=True)
    customer_name = serializers.CharField()
    credit_code = serializers.CharField()
    title = serializers.CharField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()
    expected_close = serializers.DateField(allow_null=True)
    description = serializers.CharField()
    status = serializers.CharField(help_text="one of: " + ", ".join(DealStatus.values))
    conflicts = serializers.ListField(child=serializers.DictField())
    protected_until = serializers.DateField(allow_null=True)
    decided_by_id = serializers.IntegerField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    decision_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class PartnerDecideSerializer(serializers.Serializer):
    decision = serializers.CharField(help_text="approve or reject")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class PartnerRankingSerializer(serializers.Serializer):
    partner_id = serializers.IntegerField(source="partner.pk")
    partner_code = serializers.CharField(source="partner.code")
    partner_name = serializers.CharField(source="partner.name")
    quota = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    ordered = serializers.DecimalField(max_digits=20, decimal_places=2)
    previous = serializers.DecimalField(max_digits=20, decimal_places=2)
    collected = serializers.DecimalField(max_digits=20, decimal_places=2)
    pct_attainment = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    growth_pct = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    collection_pct = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
