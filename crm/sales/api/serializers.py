"""Serializers of the sales API: read shapes of opportunities, quotes and the forecast, and
the write shapes that the views translate into service calls. The rules themselves (scope,
stages, prices, totals, transitions) live in crm.sales.services."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.sales.calc import rmb_upper
from crm.sales.enums import ForecastGroup, ForecastPeriod, OpportunityStatus, QuoteStatus
from crm.sales.models import Opportunity, OpportunityStageChange, Quote, QuoteLine
from crm.sales.pipeline import pipelines


# Choice fields with their values inlined in the schema: opportunities and quotes both have a
# "status" with different values, and named enum components would collide.
def _choice_field(values: list[str], *, description: str = ""):
    schema = {"allOf": [{"type": "string", "enum": values}], "description": description or ", ".join(values)}

    @extend_schema_field(schema)
    class _Field(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=values, **kwargs)

    return _Field


OpportunityStatusField = _choice_field(OpportunityStatus.values)
QuoteStatusField = _choice_field(QuoteStatus.values)
ForecastPeriodField = _choice_field(ForecastPeriod.values)
ForecastGroupField = _choice_field(ForecastGroup.values)


def _stage_labels(context: dict) -> dict[tuple[str, str], str]:
    """(pipeline, stage) -> label, read once per response (kept in the serializer context)."""
    labels = context.get("_stage_labels")
    if labels is None:
        labels = {(p.key, s.key): s.label for p in pipelines().values() for s in p.stages}
        context["_stage_labels"] = labels
    return labels


# -- opportunities -------------------------------------------------------------------------------------
class OpportunitySerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    contact_name = serializers.CharField(source="contact.name", read_only=True, default=None)
    owner_name = serializers.CharField(source="owner.full_name", read_only=True)
    region_name = serializers.CharField(source="region.name", read_only=True, default=None)
    status = OpportunityStatusField(read_only=True)
    stage_label = serializers.SerializerMethodField()
    weighted_amount = serializers.SerializerMethodField()

    class Meta:
        model = Opportunity
        fields = ["id", "name", "customer", "customer_name", "contact", "contact_name", "pipeline", "stage",
                  "stage_label", "status", "amount", "currency", "expected_close_date", "probability",
                  "weighted_amount", "owner", "owner_name", "department", "region", "region_name", "source",
                  "next_step", "lost_reason", "won_at", "lost_at", "notes", "created_at", "updated_at", "version"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_stage_label(self, opportunity) -> str:
        return _stage_labels(self.context).get((opportunity.pipeline, opportunity.stage), opportunity.stage)

    @extend_schema_field(serializers.DecimalField(max_digits=14, decimal_places=2))
    def get_weighted_amount(self, opportunity) -> str:
        return str(opportunity.weighted_amount())


class StageChangeSerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.full_name", read_only=True, default=None)
    to_status = OpportunityStatusField(read_only=True)

    class Meta:
        model = OpportunityStageChange
        fields = ["id", "from_stage", "to_stage", "to_status", "probability", "amount", "actor", "actor_name",
                  "note", "at"]
        read_only_fields = fields


class OpportunityDetailSerializer(OpportunitySerializer):
    stage_history = StageChangeSerializer(many=True, read_only=True, source="stage_history_rows")

    class Meta(OpportunitySerializer.Meta):
        fields = [*OpportunitySerializer.Meta.fields, "stage_history"]
        read_only_fields = fields


class OpportunityWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    customer_id = serializers.IntegerField(help_text="a customer you may see (404 otherwise)")
    contact_id = serializers.IntegerField(required=False, allow_null=True, help_text="a contact of the customer")
    pipeline = serializers.CharField(max_length=32, required=False,
                                     help_text="business mode key of the pipeline; default: the primary one")
    stage = serializers.CharField(max_length=32, required=False, help_text="default: the first open stage")
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    currency = serializers.CharField(max_length=3, required=False, help_text="ISO 4217, default CNY")
    expected_close_date = serializers.DateField()
    probability = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100,
                                           help_text="percent; default: the stage's")
    owner_id = serializers.IntegerField(required=False, allow_null=True,
                                        help_text="a colleague within your scope; default: you")
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)
    lost_reason = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        help_text="required when the stage is a lost stage")
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False, help_text="the version you edited; 412 if stale")


class OpportunityUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    contact_id = serializers.IntegerField(required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    currency = serializers.CharField(max_length=3, required=False)
    expected_close_date = serializers.DateField(required=False)
    probability = serializers.IntegerField(required=False, min_value=0, max_value=100)
    owner_id = serializers.IntegerField(required=False)
    source = serializers.CharField(max_length=50, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False, help_text="the version you edited; 412 if stale")


class StageMoveSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=32)
    probability = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100,
                                           help_text="for open stages; default: the stage's")
    lost_reason = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        help_text="required for a lost stage")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


class CloseWonSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


class CloseLostSerializer(serializers.Serializer):
    lost_reason = serializers.CharField(max_length=500)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


class ReopenSerializer(serializers.Serializer):
    stage = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                  help_text="an open stage; default: the stage it was closed from")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


# -- quotes ------------------------------------------------------------------------------------------------
class QuoteLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = QuoteLine
        fields = ["id", "position", "product", "sku", "description", "unit", "quantity", "unit_price",
                  "price_source", "discount_percent", "tax_rate", "net_amount", "tax_amount", "gross_amount"]
        read_only_fields = fields


class QuoteSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    opportunity_name = serializers.CharField(source="opportunity.name", read_only=True, default=None)
    owner_name = serializers.CharField(source="owner.full_name", read_only=True)
    status = QuoteStatusField(read_only=True)

    class Meta:
        model = Quote
        fields = ["id", "number", "customer", "customer_name", "opportunity", "opportunity_name", "contact",
                  "status", "currency", "valid_until", "price_level", "net_total", "tax_total", "total", "owner",
                  "owner_name", "department", "region", "approval_submitted_at", "approved_at", "approval_note",
                  "sent_at", "accepted_at", "rejected_at", "reject_reason", "expired_at", "converted_at", "order_ref",
                  "created_at", "updated_at", "version"]
        read_only_fields = fields


class QuoteDetailSerializer(QuoteSerializer):
    contact_name = serializers.CharField(source="contact.name", read_only=True, default=None)
    total_in_words = serializers.SerializerMethodField(help_text="the total in Chinese upper-case numerals (CNY)")
    lines = QuoteLineSerializer(many=True, read_only=True, source="line_rows")

    class Meta(QuoteSerializer.Meta):
        fields = [*QuoteSerializer.Meta.fields, "contact_name", "notes", "total_in_words", "lines"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_total_in_words(self, quote) -> str | None:
        return rmb_upper(quote.total) if quote.currency == "CNY" else None


class QuoteLineWriteSerializer(serializers.Serializer):
    # Loose number types on purpose: the service checks each value and names the line in
    # its message ("第 2 行：单价最多保留 2 位小数。" under lines[1].unit_price).
    product_id = serializers.IntegerField(help_text="an active product of the catalog")
    quantity = serializers.DecimalField(max_digits=24, decimal_places=8, help_text="> 0, at most 3 decimals")
    unit_price = serializers.DecimalField(max_digits=24, decimal_places=8, required=False, allow_null=True,
                                          help_text="at most 2 decimals; default: the catalog price for "
                                                    "the customer's level")
    discount_percent = serializers.DecimalField(max_digits=24, decimal_places=8, required=False, allow_null=True,
                                                help_text="0-100, at most 2 decimals")
    description = serializers.CharField(max_length=500, required=False, allow_blank=True,
                                        help_text="default: the product's name and spec")


class QuoteWriteSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(required=False, help_text="default: the opportunity's customer")
    opportunity_id = serializers.IntegerField(required=False, allow_null=True)
    contact_id = serializers.IntegerField(required=False, allow_null=True)
    currency = serializers.CharField(max_length=3, required=False)
    valid_until = serializers.DateField(help_text="today or later")
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    owner_id = serializers.IntegerField(required=False, allow_null=True)
    lines = QuoteLineWriteSerializer(many=True, required=False)
    version = serializers.IntegerField(required=False)


class QuoteUpdateSerializer(serializers.Serializer):
    opportunity_id = serializers.IntegerField(required=False, allow_null=True)
    contact_id = serializers.IntegerField(required=False, allow_null=True)
    currency = serializers.CharField(max_length=3, required=False, help_text="only together with lines")
    valid_until = serializers.DateField(required=False)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    lines = QuoteLineWriteSerializer(many=True, required=False, help_text="replaces every line")
    version = serializers.IntegerField(required=False, help_text="the version you edited; 412 if stale")


class QuoteTransitionSerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False)


class QuoteRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    version = serializers.IntegerField(required=False)


# -- errors -------------------------------------------------------------------------------------------------
class TransitionConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    current = serializers.CharField(help_text="the state the record is in")
    wanted = serializers.CharField(help_text="the state that was asked for")


class NotFoundSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    field = serializers.CharField(required=False, help_text="the input that named the record")


# -- the forecast -------------------------------------------------------------------------------------------
class ForecastCellSerializer(serializers.Serializer):
    open_count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="open, unweighted")
    weighted = serializers.DecimalField(max_digits=16, decimal_places=2, help_text="open, amount × probability")
    won_count = serializers.IntegerField()
    won_amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class ForecastPeriodCellSerializer(ForecastCellSerializer):
    period = serializers.CharField()


class ForecastPeriodSpanSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="2026-03 (month) or 2026-Q1 (quarter)")
    start = serializers.DateField()
    end = serializers.DateField(help_text="inclusive")


class ForecastGroupSerializer(serializers.Serializer):
    key = serializers.CharField(allow_blank=True, help_text="owner id, region id or stage key ('' for none)")
    label = serializers.CharField()
    cells = ForecastPeriodCellSerializer(many=True)
    total = ForecastCellSerializer()


class ForecastSerializer(serializers.Serializer):
    period = ForecastPeriodField()
    group = ForecastGroupField()
    locals()["from"] = serializers.DateField()
    to = serializers.DateField()
    currency = serializers.CharField()
    periods = ForecastPeriodSpanSerializer(many=True)
    groups = ForecastGroupSerializer(many=True)
    period_totals = ForecastPeriodCellSerializer(many=True)
    total = ForecastCellSerializer()
