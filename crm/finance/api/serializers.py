"""Serializers of the finance API. Write serializers check types only; the rules (amounts above
zero with at most two decimals, no more than is left, dates not in the future, records in the
actor's scope) are the services', whose messages name the field."""

from __future__ import annotations

from rest_framework import serializers

from crm.finance.enums import (
    AGING_BUCKETS,
    InvoiceKind,
    InvoiceStatus,
    PaymentMethod,
    PaymentSource,
)
from crm.orders.api.serializers import (  # one schema component each
    NamedSerializer,
    PersonSerializer,
)

MONEY = {"max_digits": 16, "decimal_places": 2}


def _decimal(**kwargs) -> serializers.DecimalField:
    """Any decimal number (JSON number or string); the service checks the range and places."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, **kwargs)


# -- input ----------------------------------------------------------------------------------------------
class InvoiceWriteSerializer(serializers.Serializer):
    order_id = serializers.IntegerField()
    total = _decimal(required=False, allow_null=True,
                     help_text="价税合计, at most 2 decimals; empty: everything not invoiced yet")
    tax_amount = _decimal(required=False, allow_null=True,
                          help_text="empty: in the proportion of the order's tax to what is left")
    kind = serializers.CharField(required=False, allow_blank=True, help_text="one of: " + ", ".join(InvoiceKind.values))
    tax_number = serializers.CharField(required=False, allow_blank=True, help_text="发票号码 (optional, unique)")
    issued_on = serializers.CharField(required=False, allow_blank=True, help_text="YYYY-MM-DD, default today")
    note = serializers.CharField(required=False, allow_blank=True)


class VoidSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, help_text="required by the service")
    version = serializers.IntegerField(required=False, help_text="the version you saw (or If-Match); stale: 412")


class PaymentWriteSerializer(serializers.Serializer):
    invoice_id = serializers.IntegerField()
    amount = _decimal(help_text="> 0, at most 2 decimals, at most what the invoice still owes (else 422)")
    received_on = serializers.CharField(required=False, allow_blank=True, help_text="YYYY-MM-DD, default today")
    method = serializers.CharField(required=False, allow_blank=True,
                                   help_text="one of: " + ", ".join(PaymentMethod.values))
    reference = serializers.CharField(required=False, allow_blank=True, help_text="the bank's serial number")
    note = serializers.CharField(required=False, allow_blank=True)
    currency = serializers.CharField(required=False, allow_blank=True, help_text="must be the invoice's")


# -- output ---------------------------------------------------------------------------------------------
class NumberedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()


class InvoiceListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    order = NumberedSerializer()
    customer = NamedSerializer()
    owner = PersonSerializer()
    # plain strings in the schema: enums named after the field would collide with other apps'
    status = serializers.CharField(help_text="one of: " + ", ".join(InvoiceStatus.values))
    status_label = serializers.CharField(source="get_status_display")
    kind = serializers.CharField(help_text="one of: " + ", ".join(InvoiceKind.values))
    tax_number = serializers.CharField()
    currency = serializers.CharField()
    net_amount = serializers.DecimalField(**MONEY)
    tax_amount = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)
    paid_amount = serializers.DecimalField(**MONEY)
    outstanding = serializers.DecimalField(**MONEY)
    issued_on = serializers.DateField()
    due_on = serializers.DateField()
    settled_on = serializers.DateField(allow_null=True)
    version = serializers.IntegerField()


class PaymentListSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    invoice = NumberedSerializer()
    order_id = serializers.IntegerField()
    customer = NamedSerializer()
    owner = PersonSerializer()
    amount = serializers.DecimalField(**MONEY)
    currency = serializers.CharField()
    received_on = serializers.DateField()
    method = serializers.CharField(help_text="one of: " + ", ".join(PaymentMethod.values))
    method_label = serializers.CharField(source="get_method_display")
    reference = serializers.CharField()
    source = serializers.CharField(help_text="one of: " + ", ".join(PaymentSource.values))
    external_id = serializers.CharField(allow_null=True)
    recorded_by = PersonSerializer(allow_null=True)
    voided_at = serializers.DateTimeField(allow_null=True)
    void_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class PaymentDetailSerializer(PaymentListSerializer):
    note = serializers.CharField()
    voided_by = PersonSerializer(allow_null=True)


class InvoiceDetailSerializer(InvoiceListSerializer):
    department = NamedSerializer(allow_null=True)
    region = NamedSerializer(allow_null=True)
    buyer_name = serializers.CharField()
    buyer_tax_id = serializers.CharField()
    note = serializers.CharField()
    void_reason = serializers.CharField()
    voided_at = serializers.DateTimeField(allow_null=True)
    voided_by = PersonSerializer(allow_null=True)
    created_by = PersonSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    payments = PaymentListSerializer(many=True, source="payments.all")


class AgingAmountsSerializer(serializers.Serializer):
    not_due = serializers.DecimalField(**MONEY)
    d0_30 = serializers.DecimalField(**MONEY)
    d31_60 = serializers.DecimalField(**MONEY)
    d61_90 = serializers.DecimalField(**MONEY)
    d90_plus = serializers.DecimalField(**MONEY)


class AgingRowSerializer(serializers.Serializer):
    customer = NamedSerializer(allow_null=True)
    invoices = serializers.IntegerField(help_text="unpaid invoices")
    buckets = AgingAmountsSerializer(source="amounts")
    overdue = serializers.DecimalField(**MONEY)
    total = serializers.DecimalField(**MONEY)


class AgingBucketSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    days_from = serializers.IntegerField(allow_null=True)
    days_to = serializers.IntegerField(allow_null=True)


class AgingReportSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    currency = serializers.CharField()
    buckets = AgingBucketSerializer(many=True, help_text="days past due = as_of - due date; "
                                                         + ", ".join(AGING_BUCKETS))
    totals = AgingRowSerializer()
    results = AgingRowSerializer(many=True, source="rows")
    next_cursor = serializers.CharField(allow_null=True)
