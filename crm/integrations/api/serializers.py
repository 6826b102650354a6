from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.integrations.enums import (
    ALL_EVENTS,
    EVENT_TYPES_STORED,
    MAX_STOCK_ROWS,
    AttemptTrigger,
    DeliveryStatus,
    ErpScope,
    InboundKind,
    InboundStatus,
    WebhookEventType,
)


# Choice fields with their values inlined in the schema (several resources have a "status"
# with different values; named enum components would collide).
def _choice_field(values: list[str], *, description: str = ""):
    schema = {"allOf": [{"type": "string", "enum": values}], "description": description or ", ".join(values)}

    @extend_schema_field(schema)
    class _Field(serializers.ChoiceField):
        def __init__(self, **kwargs):
            super().__init__(choices=values, **kwargs)

    return _Field


SubscribableEventField = _choice_field([ALL_EVENTS, *WebhookEventType.values],
                                       description="an event type, or * for every event")
EventTypeField = _choice_field(EVENT_TYPES_STORED)
DeliveryStatusField = _choice_field(DeliveryStatus.values)
AttemptTriggerField = _choice_field(AttemptTrigger.values)
ErpScopeField = _choice_field(ErpScope.values)
InboundKindField = _choice_field(InboundKind.values)
InboundStatusField = _choice_field(InboundStatus.values)

ANY_JSON = {"type": "object", "additionalProperties": True}


@extend_schema_field(ANY_JSON)
class JsonObjectField(serializers.JSONField):
    pass


class AttemptRequesterSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    full_name = serializers.CharField()


# -- endpoints ---------------------------------------------------------------------------------------------
class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    description = serializers.CharField()
    events = serializers.ListField(child=SubscribableEventField())
    is_active = serializers.BooleanField()
    secret_rotated_at = serializers.DateTimeField(allow_null=True)
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True,
                                                           help_text="the old secret signs too until then")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="shown only now (on creation and rotation): store it to verify "
                                             "the Qiao-Signature header")


class WebhookEndpointWriteSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(child=SubscribableEventField(), allow_empty=False)
    is_active = serializers.BooleanField(required=False)
    version = serializers.IntegerField(required=False, help_text="the version you edited (or If-Match); "
                                                                 "a stale one gets 412")


class RotateSecretSerializer(serializers.Serializer):
    keep_previous_hours = serializers.IntegerField(required=False, min_value=0, max_value=168,
                                                   help_text="how long the old secret still signs (default 24)")


# -- deliveries ----------------------------------------------------------------------------------------------
class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint_id = serializers.IntegerField()
    endpoint_url = serializers.CharField(source="endpoint.url")
    event_id = serializers.UUIDField()
    event_type = EventTypeField()
    status = DeliveryStatusField()
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    last_response_excerpt = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    trigger = AttemptTriggerField()
    requested_by = AttemptRequesterSerializer(allow_null=True)
    url = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    succeeded = serializers.BooleanField()
    status_code = serializers.IntegerField(allow_null=True)
    error = serializers.CharField()
    duration_ms = serializers.IntegerField(allow_null=True)
    response_excerpt = serializers.CharField()


class WebhookEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = EventTypeField()
    occurred_at = serializers.DateTimeField()
    payload = JsonObjectField()


class WebhookDeliveryDetailSerializer(WebhookDeliverySerializer):
    event = WebhookEventSerializer()
    attempt_log = WebhookAttemptSerializer(many=True, source="attempt_log.all")


class WebhookDeliveryPageSerializer(serializers.Serializer):
    results = WebhookDeliverySerializer(many=True)
    next_cursor = serializers.IntegerField(allow_null=True, help_text="pass as ?cursor= for the next page")


# -- ERP clients and messages ---------------------------------------------------------------------------------------
class ErpClientSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    token_prefix = serializers.CharField(help_text="the first characters of the token, to recognise it")
    scopes = serializers.ListField(child=ErpScopeField())
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class ErpClientWithTokenSerializer(ErpClientSerializer):
    token = serializers.CharField(help_text="shown only now: the ERP sends it as Authorization: Bearer <token>")


class ErpClientWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=ErpScopeField(), allow_empty=False)


class InboundMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.IntegerField()
    client_name = serializers.CharField(source="client.name")
    kind = InboundKindField()
    external_id = serializers.CharField()
    status = InboundStatusField()
    payload = JsonObjectField()
    result = JsonObjectField()
    received_at = serializers.DateTimeField()
    last_received_at = serializers.DateTimeField()
    receipts = serializers.IntegerField()
    applied_at = serializers.DateTimeField(allow_null=True)


class InboundMessagePageSerializer(serializers.Serializer):
    results = InboundMessageSerializer(many=True)
    next_cursor = serializers.IntegerField(allow_null=True)


# -- the ERP's own endpoints ------------------------------------------------------------------------------------------
class ErpMeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    scopes = serializers.ListField(child=ErpScopeField())


class StockLevelRowSerializer(serializers.Serializer):
    external_id = serializers.CharField(max_length=100, help_text="unique per row in the ERP (e.g. count line id)")
    sku = serializers.CharField(max_length=64)
    warehouse = serializers.CharField(max_length=32, help_text="the warehouse code")
    on_hand = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=0)
    note = serializers.CharField(max_length=200, required=False, allow_blank=True)


class StockLevelsSerializer(serializers.Serializer):
    items = StockLevelRowSerializer(many=True, allow_empty=False, max_length=MAX_STOCK_ROWS)


class InboundResultSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    external_id = serializers.CharField()
    status = InboundStatusField()
    replayed = serializers.BooleanField(help_text="true: this external id was seen before; the first result")
    result = JsonObjectField(help_text="what was done; on rejection {\"errors\": {field: [message]}}")


class StockLevelsResultSerializer(serializers.Serializer):
    applied = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = InboundResultSerializer(many=True)


class InboundEnvelopeSerializer(serializers.Serializer):
    """A shipment or a payment: any JSON object with an ``external_id``; the fields it needs
    beyond that are checked by the app that applies it (orders, finance)."""

    external_id = serializers.CharField(max_length=100)


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ConflictSerializer(ErrorSerializer):
    external_ids = serializers.ListField(child=serializers.CharField())
