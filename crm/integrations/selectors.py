"""Read-side queries of the integrations. Everything here is the tenant admin's: the
``*_visible_to`` selectors return nothing for anyone without ``integrations.manage``, so an
unknown id and a forbidden one look alike (404) once a view has checked the permission.
Lists are keyset-paginated by id, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from .enums import ALL_EVENTS, EVENT_TYPES_STORED, DeliveryStatus, InboundKind, InboundStatus
from .models import (
    ErpClient,
    InboundMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from .permissions import can_manage_integrations

PAGE = 50
MAX_PAGE = 200


@dataclass
class Page:
    items: list = field(default_factory=list)
    next_cursor: int | None = None


def _visible(qs: QuerySet, actor) -> QuerySet:
    return qs if can_manage_integrations(actor) else qs.none()


def _int_param(value, name: str) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise ValidationError({name: _("请输入有效的编号。")})
    return int(text)


def _choice_param(value, name: str, choices) -> str:
    value = (value or "").strip()
    if value and value not in choices:
        raise ValidationError({name: _("%(name)s 必须是 %(choices)s 之一。") % {
            "name": name, "choices": ", ".join(choices)}})
    return value


def _page(qs: QuerySet, *, cursor, limit: int) -> Page:
    before = _int_param(cursor, "cursor")
    if before:
        qs = qs.filter(pk__lt=before)
    limit = max(1, min(int(limit or PAGE), MAX_PAGE))
    rows = list(qs.order_by("-id")[:limit + 1])
    return Page(items=rows[:limit], next_cursor=rows[limit - 1].pk if len(rows) > limit else None)


# -- endpoints ---------------------------------------------------------------------------------------
def webhook_endpoint_list_visible_to(*, actor) -> QuerySet[WebhookEndpoint]:
    return _visible(WebhookEndpoint.objects.all(), actor).order_by("-is_active", "id")


def webhook_endpoint_get(*, actor, endpoint_id) -> WebhookEndpoint:
    """WebhookEndpoint.DoesNotExist when there is none (a 404)."""
    return webhook_endpoint_list_visible_to(actor=actor).get(pk=endpoint_id)


def unscoped_endpoints_subscribed_to(*, event_type: str) -> list[WebhookEndpoint]:
    """The active endpoints that want ``event_type`` (for webhook_emit; no actor)."""
    return list(WebhookEndpoint.objects.filter(is_active=True)
                .filter(Q(events__contains=[event_type]) | Q(events__contains=[ALL_EVENTS])).order_by("id"))


# -- deliveries --------------------------------------------------------------------------------------
def webhook_delivery_list(*, actor, endpoint_id=None, event_type: str = "", status: str = "", cursor=None,
                          limit: int = PAGE) -> Page:
    """The delivery log, newest first, filtered by endpoint, event type and status; a
    malformed filter raises ValidationError naming the parameter."""
    qs = _visible(WebhookDelivery.objects.select_related("endpoint"), actor)
    endpoint = _int_param(endpoint_id, "endpoint")
    if endpoint:
        qs = qs.filter(endpoint_id=endpoint)
    event_type = _choice_param(event_type, "event_type", EVENT_TYPES_STORED)
    if event_type:
        qs = qs.filter(event_type=event_type)
    status = _choice_param(status, "status", DeliveryStatus.values)
    if status:
        qs = qs.filter(status=status)
    return _page(qs, cursor=cursor, limit=limit)


def webhook_delivery_get(*, actor, delivery_id) -> WebhookDelivery:
    """One delivery with its endpoint, event and attempts (WebhookDelivery.DoesNotExist: 404)."""
    attempts = WebhookAttempt.objects.select_related("requested_by").order_by("-number")
    return (_visible(WebhookDelivery.objects.select_related("endpoint", "event", "replay_requested_by"), actor)
            .prefetch_related(Prefetch("attempt_log", queryset=attempts)).get(pk=delivery_id))


def webhook_deliveries_recent_for(*, endpoint: WebhookEndpoint, limit: int = 10) -> list[WebhookDelivery]:
    return list(endpoint.deliveries.order_by("-id")[:limit])


def unscoped_delivery_ids_due(*, now, limit: int) -> list[int]:
    """Deliveries whose next attempt is due (or whose attempt in flight outlived its lease)."""
    return list(WebhookDelivery.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
                                               next_attempt_at__lte=now)
                .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def webhook_event_get(*, actor, event_id) -> WebhookEvent:
    return _visible(WebhookEvent.objects.all(), actor).get(pk=event_id)


# -- ERP clients and inbound messages ------------------------------------------------------------------
def erp_client_list_visible_to(*, actor) -> QuerySet[ErpClient]:
    return _visible(ErpClient.objects.select_related("created_by", "revoked_by"), actor).order_by(
        "-is_active", "name", "id")


def erp_client_get(*, actor, client_id) -> ErpClient:
    return erp_client_list_visible_to(actor=actor).get(pk=client_id)


def unscoped_erp_client_by_token_hash(*, token_hash: str) -> ErpClient | None:
    return ErpClient.objects.filter(token_hash=token_hash, is_active=True).first()


def inbound_message_list(*, actor, client_id=None, kind: str = "", status: str = "", cursor=None,
                         limit: int = PAGE) -> Page:
    qs = _visible(InboundMessage.objects.select_related("client"), actor)
    client = _int_param(client_id, "client")
    if client:
        qs = qs.filter(client_id=client)
    kind = _choice_param(kind, "kind", InboundKind.values)
    if kind:
        qs = qs.filter(kind=kind)
    status = _choice_param(status, "status", InboundStatus.values)
    if status:
        qs = qs.filter(status=status)
    return _page(qs, cursor=cursor, limit=limit)


def inbound_message_get(*, actor, message_id) -> InboundMessage:
    return _visible(InboundMessage.objects.select_related("client"), actor).get(pk=message_id)


def unscoped_inbound_messages(*, client_id: int, kind: str, external_ids: list[str]) -> dict[str, InboundMessage]:
    return {m.external_id: m for m in InboundMessage.objects.filter(client_id=client_id, kind=kind,
                                                                     external_id__in=external_ids)}


# -- the catalog, read for the ERP (no staff actor) ----------------------------------------------------
def unscoped_stock_target(*, sku: str, warehouse_code: str):
    """The product with this SKU and the warehouse with this code (either None when
    unknown), for stock levels posted by an ERP client: the catalog's own system lookup."""
    from crm.catalog.selectors import unscoped_stock_target as catalog_target

    return catalog_target(sku=sku, warehouse_code=warehouse_code)
