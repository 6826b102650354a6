"""What the portal API shows partners: their own records only, and none of the tenant's internal
fields (no cost, margin, price list names, owners' details, internal approval comments or
approvers' names, no other customer's data)."""

from __future__ import annotations

from rest_framework import serializers

from crm.partners.enums import MemberRole

MONEY = {"max_digits": 16, "decimal_places": 2}
QTY = {"max_digits": 14, "decimal_places": 3}


# -- auth and me ---------------------------------------------------------------------------------------------
class PortalTokenRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False)


class PortalTokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class PortalPartnerBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    tier = serializers.CharField(source="tier.code")
    tier_name = serializers.CharField(source="tier.name_zh")
    payment_terms_days = serializers.IntegerField()
    sales_see_all = serializers.BooleanField()
    channel_manager = serializers.CharField(source="owner.full_name")


class PortalMeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="user.pk")
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    language = serializers.CharField(source="user.language")
    role = serializers.CharField()
    partner = PortalPartnerBriefSerializer()


# -- catalog -----------------------------------------------------------------------------------------------
class PortalCatalogItemSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(source="product.pk")
    sku = serializers.CharField(source="product.sku")
    name = serializers.CharField(source="product.name")
    spec = serializers.CharField(source="product.spec")
    unit = serializers.CharField(source="product.unit")
    category_id = serializers.IntegerField(source="product.category_id", allow_null=True)
    tax_rate = serializers.DecimalField(source="product.tax_rate", max_digits=5, decimal_places=4)
    unit_price = serializers.DecimalField(help_text="your tier's price (tax included) at the minimum quantity",
                                          **MONEY)
    currency = serializers.CharField(source="product.currency")
    min_quantity = serializers.DecimalField(**QTY)
    availability = serializers.ChoiceField(choices=["in_stock", "low", "out"])
    available = serializers.DecimalField(allow_null=True, help_text="only when the tenant shows exact stock", **QTY)


# -- orders ------------------------------------------------------------------------------------------------
class PortalLineWriteSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(required=False)
    sku = serializers.CharField(required=False, max_length=64, help_text="instead of product_id")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)


class PortalOrderWriteSerializer(serializers.Serializer):
    lines = PortalLineWriteSerializer(many=True, required=False)
    delivery_address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    delivery_contact = serializers.CharField(required=False, allow_blank=True, max_length=100)
    delivery_phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    delivery_date = serializers.DateField(required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    submit = serializers.BooleanField(required=False, default=True,
                                      help_text="create: submit into the approval at once (default) or keep a draft")
    version = serializers.IntegerField(required=False, help_text="PATCH: the version you edited (or If-Match)")


class PortalPreviewSerializer(serializers.Serializer):
    lines = PortalLineWriteSerializer(many=True)


class PortalVersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False)


class PortalCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class PortalOrderLineSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    product_name = serializers.CharField()
    spec = serializers.CharField()
    unit = serializers.CharField()
    quantity = serializers.DecimalField(**QTY)
    unit_price = serializers.DecimalField(**MONEY)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    net_amount = serializers.DecimalField(**MONEY)
    tax_amount = serializers.DecimalField(**MONEY)
    gross_amount = serializers.DecimalField(**MONEY)
    shipped_quantity = serializers.DecimalField(required=False, default=0, **QTY)


class PortalPreviewResponseSerializer(serializers.Serializer):
    lines = PortalOrderLineSerializer(many=True)
    net_total = serializers.DecimalField(**MONEY)
    tax_total = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


class PortalOrderListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    currency = serializers.CharField()
    net_total = serializers.DecimalField(**MONEY)
    tax_total = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    line_count = serializers.IntegerField()
    created_by_me = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()

    def get_created_by_me(self, order) -> bool:
        request = self.context.get("request")
        return bool(request and order.created_by_id == request.user.pk)


class PortalStepSerializer(serializers.Serializer):
    position = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField()


class PortalTimelineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    label = serializers.CharField()
    note = serializers.CharField()
    data = serializers.DictField(allow_null=True)
    by_partner = serializers.BooleanField()


class PortalShipmentLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="order_line.sku")
    product_name = serializers.CharField(source="order_line.product_name")
    quantity = serializers.DecimalField(**QTY)


class PortalShipmentSerializer(serializers.Serializer):
    number = serializers.CharField()
    shipped_at = serializers.DateTimeField()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    lines = PortalShipmentLineSerializer(many=True, source="lines.all")


class PortalInvoiceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    tax_number = serializers.CharField()
    kind = serializers.CharField()
    order_id = serializers.IntegerField()
    order_number = serializers.CharField(source="order.number")
    currency = serializers.CharField()
    net_amount = serializers.DecimalField(**MONEY)
    tax_amount = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    paid_amount = serializers.DecimalField(**MONEY)
    status = serializers.CharField()
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    settled_on = serializers.DateField(allow_null=True)


class PortalPaymentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    invoice_number = serializers.CharField(source="invoice.number")
    order_id = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    received_on = serializers.DateField()
    method = serializers.CharField()
    voided = serializers.SerializerMethodField()

    def get_voided(self, payment) -> bool:
        return payment.voided_at is not None


class PortalOrderDetailSerializer(PortalOrderListSerializer):
    delivery_address = serializers.CharField()
    delivery_contact = serializers.CharField()
    delivery_phone = serializers.CharField()
    delivery_date = serializers.DateField(allow_null=True)
    payment_terms_days = serializers.IntegerField()
    notes = serializers.CharField()
    rejection_note = serializers.CharField()
    cancel_reason = serializers.CharField()
    shipped_at = serializers.DateTimeField(allow_null=True)
    invoiced_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    lines = PortalOrderLineSerializer(many=True)
    steps = PortalStepSerializer(many=True)
    timeline = PortalTimelineSerializer(many=True)
    shipments = PortalShipmentSerializer(many=True)
    invoices = PortalInvoiceSerializer(many=True)
    payments = PortalPaymentSerializer(many=True)
    actions = serializers.ListField(child=serializers.CharField())


# -- statements --------------------------------------------------------------------------------------------
class PortalStatementSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    currency = serializers.CharField()
    invoiced = serializers.DecimalField(**MONEY)
    paid = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    overdue = serializers.DecimalField(**MONEY)
    open_count = serializers.IntegerField()
    overdue_count = serializers.IntegerField()
    credit_limit = serializers.DecimalField(allow_null=True, **MONEY)
    open_invoices = PortalInvoiceSerializer(many=True)


# -- end customers, deals, users ----------------------------------------------------------------------
class PortalEndCustomerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    credit_code = serializers.CharField()
    contact_name = serializers.CharField()
    phone = serializers.CharField()
    email = serializers.CharField()
    address = serializers.CharField()
    notes = serializers.CharField()
    possible_duplicate = serializers.BooleanField(source="tenant_match",
                                                  help_text="the tenant may already know this customer (flagged "
                                                            "for the channel manager; nothing more is told)")
    created_by_me = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_created_by_me(self, row) -> bool:
        request = self.context.get("request")
        return bool(request and row.created_by_id == request.user.pk)


class PortalEndCustomerWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    credit_code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=40)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    address = serializers.CharField(required=False, allow_blank=True, max_length=300)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class PortalDealSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    customer_name = serializers.CharField()
    credit_code = serializers.CharField()
    end_customer_id = serializers.IntegerField(allow_null=True)
    title = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    expected_close = serializers.DateField(allow_null=True)
    description = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    conflict_flagged = serializers.BooleanField()
    protected_until = serializers.DateField(allow_null=True)
    decision_note = serializers.CharField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)


class PortalDealWriteSerializer(serializers.Serializer):
    customer_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    end_customer_id = serializers.IntegerField(required=False, allow_null=True)
    credit_code = serializers.CharField(required=False, allow_blank=True, max_length=40)
    title = serializers.CharField(max_length=200)
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    expected_close = serializers.DateField(required=False, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)


class PortalMemberSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    full_name = serializers.CharField(source="user.full_name")
    phone = serializers.CharField(source="user.phone")
    role = serializers.CharField()
    is_active = serializers.BooleanField(source="user.is_active")
    created_at = serializers.DateTimeField()


class PortalMemberInviteSerializer(serializers.Serializer):
    email = serializers.EmailField()
    full_name = serializers.CharField(max_length=150)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32)
    role = serializers.ChoiceField(choices=MemberRole.choices, default=MemberRole.SALES)
    language = serializers.ChoiceField(choices=["", "zh-hans", "en"], required=False, default="")


class PortalMemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=MemberRole.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class PortalPartnerSettingsSerializer(serializers.Serializer):
    sales_see_all = serializers.BooleanField()


class PortalNotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)
