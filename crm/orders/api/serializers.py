"""Serializers of the orders API. Write serializers check types only; the rules (quantities
above zero, at most two decimals on prices, products that exist and are active, a customer in
the actor's scope...) are the services', whose messages name the line and the rule."""

from __future__ import annotations

from rest_framework import serializers

from crm.orders.enums import OrderStatus, StockState, SubmittedVia


def _decimal(**kwargs) -> serializers.DecimalField:
    """Any decimal number (JSON number or string); the service checks the range and places."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, **kwargs)


# -- input ----------------------------------------------------------------------------------------
class OrderLineWriteSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    quantity = _decimal(help_text="> 0, at most 3 decimals")
    unit_price = _decimal(required=False, allow_null=True,
                          help_text="at most 2 decimals; empty: the price list's price for the customer's level")
    discount_pct = _decimal(required=False, allow_null=True, help_text="0-100, at most 2 decimals")
    warehouse_id = serializers.IntegerField(required=False, allow_null=True,
                                            help_text="empty: the order's warehouse, else the default warehouse")


class OrderWriteSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    lines = OrderLineWriteSerializer(many=True, allow_empty=True)
    currency = serializers.CharField(required=False, help_text="ISO code, default CNY")
    warehouse_id = serializers.IntegerField(required=False, allow_null=True)
    delivery_address = serializers.CharField(required=False, allow_blank=True)
    delivery_contact = serializers.CharField(required=False, allow_blank=True)
    delivery_phone = serializers.CharField(required=False, allow_blank=True)
    delivery_date = serializers.DateField(required=False, allow_null=True)
    payment_terms_days = serializers.IntegerField(required=False, help_text="0-365, default 30")
    notes = serializers.CharField(required=False, allow_blank=True)
    owner_id = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="create only: a colleague in your scope; default yourself")
    version = serializers.IntegerField(required=False, help_text="PATCH: the version you edited (or If-Match)")


class VersionSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, help_text="the version you saw (or If-Match); stale: 412")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500)


class ShipmentLineWriteSerializer(serializers.Serializer):
    order_line_id = serializers.IntegerField()
    quantity = _decimal(help_text="> 0, at most what is left to ship")


class ShipmentWriteSerializer(serializers.Serializer):
    lines = ShipmentLineWriteSerializer(many=True, required=False,
                                        help_text="empty: everything not yet shipped from the warehouse")
    warehouse_id = serializers.IntegerField(required=False, allow_null=True)
    carrier = serializers.CharField(required=False, allow_blank=True)
    tracking_number = serializers.CharField(required=False, allow_blank=True)
    shipped_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True)
    external_id = serializers.CharField(required=False, allow_blank=True,
                                        help_text="delivery note number; the same number again returns that shipment")


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField()


class CreditWriteSerializer(serializers.Serializer):
    limit = _decimal(allow_null=True, help_text="null removes the limit")
    currency = serializers.CharField(required=False, default="CNY")
    note = serializers.CharField(required=False, allow_blank=True)
    version = serializers.IntegerField(required=False, help_text="the version you edited (0: none yet)")


# -- output ---------------------------------------------------------------------------------------
class StatusLabelField(serializers.CharField):
    """The status's label in the request's language, by a dict lookup (``get_status_display``
    costs a quarter of a millisecond per row: it hashes the choices every call)."""

    def __init__(self, **kwargs):
        super().__init__(source="status", read_only=True, **kwargs)

    def to_representation(self, value):
        return str(_STATUS_LABELS.get(value, value))


_STATUS_LABELS = dict(OrderStatus.choices)


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


class NamedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class OrderListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    # a plain string in the schema: an enum named after the field would collide with the other
    # apps' "status" enums (drf-spectacular names enums by field name)
    status = serializers.CharField(help_text="one of: " + ", ".join(OrderStatus.values))
    status_label = StatusLabelField()
    customer = NamedSerializer()
    owner = PersonSerializer()
    currency = serializers.CharField()
    net_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax_total = serializers.DecimalField(max_digits=14, decimal_places=2)
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    line_count = serializers.IntegerField()
    stock_state = serializers.ChoiceField(choices=StockState.choices)
    submitted_via = serializers.ChoiceField(choices=SubmittedVia.choices)
    partner_id = serializers.IntegerField(allow_null=True, help_text="the partner (distributor) whose order this is")
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    version = serializers.IntegerField()


class OrderLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    product_name = serializers.CharField()
    spec = serializers.CharField()
    unit = serializers.CharField()
    warehouse_id = serializers.IntegerField(allow_null=True)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    price_source = serializers.CharField()
    price_manual = serializers.BooleanField()
    discount_pct = serializers.DecimalField(max_digits=5, decimal_places=2)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=4)
    net_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    tax_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    gross_amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    shipped_quantity = serializers.DecimalField(max_digits=14, decimal_places=3)


class ShipmentLineSerializer(serializers.Serializer):
    order_line_id = serializers.IntegerField()
    sku = serializers.CharField(source="order_line.sku")
    product_name = serializers.CharField(source="order_line.product_name")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)


class ShipmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    external_id = serializers.CharField()
    warehouse = NamedSerializer()
    carrier = serializers.CharField()
    tracking_number = serializers.CharField()
    shipped_at = serializers.DateTimeField()
    note = serializers.CharField()
    created_by = PersonSerializer(allow_null=True)
    lines = ShipmentLineSerializer(many=True, source="lines.all")


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    uploaded_by = PersonSerializer(allow_null=True)
    uploaded_at = serializers.DateTimeField()


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField(allow_null=True)
    kind = serializers.CharField()
    label = serializers.CharField()
    actor = serializers.CharField()
    note = serializers.CharField()
    data = serializers.JSONField()


class ApprovalRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    current_position = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class OrderDetailSerializer(OrderListSerializer):
    partner_id = serializers.IntegerField(allow_null=True)
    department = NamedSerializer(allow_null=True)
    region = NamedSerializer(allow_null=True)
    price_level = serializers.CharField()
    warehouse = NamedSerializer(allow_null=True)
    delivery_address = serializers.CharField()
    delivery_contact = serializers.CharField()
    delivery_phone = serializers.CharField()
    delivery_date = serializers.DateField(allow_null=True)
    payment_terms_days = serializers.IntegerField()
    notes = serializers.CharField()
    max_discount_pct = serializers.DecimalField(max_digits=5, decimal_places=2)
    stock_note = serializers.CharField()
    rejection_note = serializers.CharField()
    cancel_reason = serializers.CharField()
    updated_at = serializers.DateTimeField()
    rejected_at = serializers.DateTimeField(allow_null=True)
    shipped_at = serializers.DateTimeField(allow_null=True)
    invoiced_at = serializers.DateTimeField(allow_null=True)
    paid_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    lines = OrderLineSerializer(many=True, source="lines.all")
    shipments = ShipmentSerializer(many=True, source="shipments.all")
    attachments = AttachmentSerializer(many=True, source="attachments.all")
    timeline = TimelineEntrySerializer(many=True)
    approval = ApprovalRefSerializer(allow_null=True, help_text="the pending approval request, if any")
    actions = serializers.ListField(child=serializers.CharField(),
                                    help_text="what the viewer may do now: edit, submit, recall, cancel, ship, "
                                              "reserve_stock, approve, attach, issue_invoice, close")


class CreditSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField()
    limit = serializers.DecimalField(max_digits=14, decimal_places=2, allow_null=True)
    currency = serializers.CharField()
    open_receivables = serializers.DecimalField(max_digits=16, decimal_places=2)
    available = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    note = serializers.CharField()
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
