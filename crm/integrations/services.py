"""Write-side operations of the integrations. Keyword-only, transactional, audited.

Outbound webhooks
-----------------
Other apps call one function, inside the transaction of their business change::

    from crm.integrations.services import webhook_emit
    webhook_emit(event_type=WebhookEventType.ORDER_APPROVED,        # crm.integrations.enums
                 payload={"id": order.pk, "number": ..., ...},       # JSON-able (Decimal, dates ok)
                 idempotency_key=f"order:{order.pk}:approved")       # optional: once per key

It stores the event and one delivery per active endpoint subscribed to the type (nothing at
all when nobody subscribes), and queues the deliveries with ``transaction.on_commit``: a
business change that rolls back sends nothing. ``webhook_emit_many`` does the same for many
events of one type at once (bulk changes).

A delivery (task ``integrations.deliver``) claims its row under a short lease, POSTs the
signed event (see crm.integrations.signing), and records the attempt: 2xx succeeded;
anything else failed with the next attempt after a back-off with jitter (conf.retry_schedule),
dead after conf.max_attempts(). Retries and the attempts of workers that stopped are picked up
by the sweep (``integrations.sweep``, every minute per tenant). The tenant admin may replay
any delivery (one more attempt, recorded) and send a ping to an endpoint.

Inbound (the ERP)
-----------------
``inbound_receive`` stores a message under (client, kind, external_id) and applies it with
the handler registered for its kind (crm.integrations.inbound); the same external id with the
same payload returns the first result, with another payload raises InboundConflict.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import logging
import random
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.inputs import clean_text
from crm.org.services import StaleVersion

from . import conf, outbound
from .enums import (
    ALL_EVENTS,
    DUE_STATUSES,
    ERP_TOKEN_PREFIX,
    PING,
    SCOPE_OF_KIND,
    WEBHOOK_SECRET_PREFIX,
    AttemptTrigger,
    DeliveryStatus,
    ErpScope,
    InboundStatus,
    WebhookEventType,
    can_transition,
)
from .inbound import InboundContext, inbound_handler_get
from .models import (
    ErpClient,
    InboundMessage,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from .permissions import can_manage_integrations
from .selectors import (
    unscoped_delivery_ids_due,
    unscoped_endpoints_subscribed_to,
    unscoped_erp_client_by_token_hash,
)
from .signing import webhook_signature, webhook_signature_header, webhook_verify

__all__ = [
    "StaleVersion", "webhook_emit", "webhook_emit_many", "webhook_signature", "webhook_verify",
]

log = logging.getLogger(__name__)

ENDPOINT_FIELDS = ("url", "description", "events", "is_active")
CLIENT_FIELDS = ("name", "scopes", "is_active")
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_EXTERNAL_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/#")
_random = random.Random()


class InboundNotHandled(Exception):
    """No app has registered a handler for this inbound kind yet (501)."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


class InboundConflict(Exception):
    """An external id already used with another payload (409)."""

    def __init__(self, external_ids: Sequence[str]):
        super().__init__(", ".join(external_ids))
        self.external_ids = list(external_ids)


# -- checks ------------------------------------------------------------------------------------------
def _manager(actor) -> None:
    if not can_manage_integrations(actor):
        raise PermissionDenied(_("你没有管理系统集成的权限。"))


def _text(value, *, field_name: str, max_length: int, label: str, required: bool = False) -> str:
    return clean_text(value, field=field_name, label=label, max_length=max_length, required=required)


def _clean_url(value) -> str:
    """An https URL of a public host; plain http only to localhost / 127.0.0.1 where the
    deployment allows it (development, tests). No credentials in the URL, no literal private
    or link-local address."""
    url = _text(value, field_name="url", max_length=500, label=_("接收地址"), required=True)
    invalid = ValidationError({"url": _("接收地址必须是完整的网址，例如 https://erp.example.com/qiao/webhooks。")})
    try:
        URLValidator(schemes=["http", "https"])(url)
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises ValueError for a bad port)
    except (ValidationError, ValueError):
        raise invalid from None
    if not host:
        raise invalid
    if parts.username or parts.password:
        raise ValidationError({"url": _("接收地址不能包含用户名或密码；请用签名校验请求来源。")})
    local = host in LOCAL_HOSTS
    if parts.scheme != "https" and not (local and conf.allow_local_http()):
        raise ValidationError({"url": _("接收地址必须使用 https（仅开发和测试环境可用 http://localhost 或 http://127.0.0.1）。")})
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    internal = host == "localhost" or host.endswith(".localhost") or (address is not None and (
        address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
        or address.is_multicast or address.is_unspecified))
    if internal and not (local and conf.allow_local_http()):
        raise ValidationError({"url": _("接收地址不能是本机或内网地址。")})
    return url


def _clean_events(values) -> list[str]:
    if isinstance(values, str):
        values = [values]
    chosen = list(dict.fromkeys(str(v).strip() for v in (values or []) if str(v).strip()))
    if not chosen:
        raise ValidationError({"events": _("请至少订阅一种事件。")})
    unknown = [v for v in chosen if v != ALL_EVENTS and v not in WebhookEventType.values]
    if unknown:
        raise ValidationError({"events": _("未知的事件类型：%(unknown)s；可选：%(choices)s，或 * 表示全部。") % {
            "unknown": ", ".join(unknown), "choices": ", ".join(WebhookEventType.values)}})
    if ALL_EVENTS in chosen:
        return [ALL_EVENTS]
    return [v for v in WebhookEventType.values if v in chosen]  # in the enum's order


def _new_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + secrets.token_urlsafe(32)


def _jsonable(value) -> dict:
    """A JSON object as it will be stored and sent (Decimal and dates as strings)."""
    if not isinstance(value, dict):
        raise TypeError("a webhook payload is a dict")
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


# -- endpoints ----------------------------------------------------------------------------------------
@transaction.atomic
def webhook_endpoint_create(*, actor, url: str, events, description: str = "", is_active: bool = True
                            ) -> WebhookEndpoint:
    """A new endpoint with a secret made here (``endpoint.secret``: show it once)."""
    _manager(actor)
    endpoint = WebhookEndpoint(
        url=_clean_url(url), events=_clean_events(events),
        description=_text(description, field_name="description", max_length=200, label=_("说明")),
        is_active=bool(is_active), secret=_new_secret(), created_by=actor)
    endpoint.save()
    _subscriptions_changed()
    audit_record(actor=actor, instance=endpoint, action="create",
                 changes=audit_diff({}, audit_snapshot(endpoint, ENDPOINT_FIELDS)))
    return endpoint


@transaction.atomic
def webhook_endpoint_update(*, actor, endpoint_id: int, data: dict, version: int | None = None
                            ) -> WebhookEndpoint:
    """Change url, description, events and/or is_active (deactivating gives up the
    deliveries still waiting)."""
    _manager(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if version is not None and version != endpoint.version:
        raise StaleVersion(current=endpoint.version)
    clean: dict = {}
    errors: dict = {}
    cleaners = {
        "url": lambda v: _clean_url(v),
        "events": lambda v: _clean_events(v),
        "description": lambda v: _text(v, field_name="description", max_length=200, label=_("说明")),
        "is_active": lambda v: bool(v),
    }
    for name, cleaner in cleaners.items():
        if name in data:
            try:
                clean[name] = cleaner(data[name])
            except ValidationError as exc:
                errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    changed = [k for k, v in clean.items() if getattr(endpoint, k) != v]
    if not changed:
        return endpoint
    before = audit_snapshot(endpoint, ENDPOINT_FIELDS)
    for key in changed:
        setattr(endpoint, key, clean[key])
    endpoint.version = F("version") + 1
    endpoint.save(update_fields=[*changed, "version", "updated_at"])
    endpoint.refresh_from_db()
    if {"events", "is_active"} & set(changed):
        _subscriptions_changed()
    if "is_active" in changed and not endpoint.is_active:
        _give_up_waiting(endpoint)
    action = "update"
    if changed == ["is_active"]:
        action = "activate" if endpoint.is_active else "deactivate"
    audit_record(actor=actor, instance=endpoint, action=action,
                 changes=audit_diff(before, audit_snapshot(endpoint, ENDPOINT_FIELDS)))
    return endpoint


def _give_up_waiting(endpoint: WebhookEndpoint) -> int:
    return WebhookDelivery.objects.filter(endpoint=endpoint, status__in=DUE_STATUSES).update(
        status=DeliveryStatus.DEAD, next_attempt_at=None, lease=None,
        last_error=_("接收地址已停用，不再投递。"), updated_at=timezone.now())


def webhook_endpoint_deactivate(*, actor, endpoint_id: int) -> WebhookEndpoint:
    return webhook_endpoint_update(actor=actor, endpoint_id=endpoint_id, data={"is_active": False})


def webhook_endpoint_activate(*, actor, endpoint_id: int) -> WebhookEndpoint:
    return webhook_endpoint_update(actor=actor, endpoint_id=endpoint_id, data={"is_active": True})


@transaction.atomic
def webhook_endpoint_rotate_secret(*, actor, endpoint_id: int, keep_previous_hours: int | None = None,
                                   now: datetime.datetime | None = None) -> WebhookEndpoint:
    """A new secret (``endpoint.secret``: show it once). The old one keeps signing, as a
    second ``v1`` of the signature header, for ``keep_previous_hours`` (default
    conf.secret_grace_hours(); 0 ends it now) so the receiver can switch without losing
    deliveries."""
    _manager(actor)
    now = _now(now)
    hours = conf.secret_grace_hours() if keep_previous_hours is None else int(keep_previous_hours)
    if hours < 0 or hours > 168:
        raise ValidationError({"keep_previous_hours": _("旧密钥保留时间应在 0 到 168 小时之间。")})
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.previous_secret = endpoint.secret if hours else ""
    endpoint.previous_secret_expires_at = now + datetime.timedelta(hours=hours) if hours else None
    endpoint.secret = _new_secret()
    endpoint.secret_rotated_at = now
    endpoint.version = F("version") + 1
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "secret_rotated_at",
                                 "version", "updated_at"])
    endpoint.refresh_from_db()
    audit_record(actor=actor, instance=endpoint, action="rotate_secret",
                 changes={"secret": {"old": "***", "new": "***"}},
                 note=_("更换签名密钥；旧密钥继续有效 %(hours)s 小时") % {"hours": hours})
    return endpoint


@transaction.atomic
def webhook_endpoint_ping(*, actor, endpoint_id: int, now: datetime.datetime | None = None) -> WebhookDelivery:
    """Send a test event (type ``ping``) to one endpoint, now."""
    _manager(actor)
    now = _now(now)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if not endpoint.is_active:
        raise ValidationError({"endpoint": _("接收地址已停用，请先启用。")})
    event = WebhookEvent.objects.create(type=PING, occurred_at=now, payload={
        "endpoint_id": endpoint.pk, "message": "ping", "requested_by": getattr(actor, "email", "")})
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event=event, event_type=PING, next_attempt_at=now,
                                              replay_requested_by=actor, replay_requested_at=now)
    audit_record(actor=actor, instance=endpoint, action="ping", note=_("发送测试事件（投递 %(id)s）") % {
        "id": delivery.pk})
    _queue([delivery.pk])
    return delivery


# -- which event types have subscribers (cached) ----------------------------------------------------------
# Every business change asks whether anyone subscribes to its event; most tenants have no
# endpoint at all. The answer (the event types the tenant's active endpoints want) is cached in
# Redis under the schema's keys, tagged with a generation that the endpoint services bump after
# each commit that changes what is subscribed: a value read before that commit carries the old
# generation and is never used after it. The transaction that makes the change asks the
# database itself until it commits. Redis down: the database answers.
SUBSCRIBED_KEY = "integrations:webhook-subscribed"
SUBSCRIBED_GENERATION_KEY = "integrations:webhook-subscribed-generation"
SUBSCRIBED_SECONDS = 600
_PENDING_BUMP = "_qiao_webhook_subscriptions_bump"  # on the connection: the bump its transaction will run


def _redis(key: str):
    return cache._cache.get_client(key, write=True)  # the Redis client behind the cache


def _subscribed_types_read() -> frozenset[str]:
    return frozenset(t for events in WebhookEndpoint.objects.filter(is_active=True).values_list("events", flat=True)
                     for t in events)


def _changed_in_this_transaction() -> bool:
    """Whether this connection's open transaction changed the subscriptions: its bump is
    still waiting for the commit (a rollback, also to a savepoint, drops it)."""
    bump = getattr(connection, _PENDING_BUMP, None)
    return bump is not None and any(entry[1] is bump for entry in connection.run_on_commit)


def _subscribed_types() -> frozenset[str]:
    """The event types some active endpoint wants (ALL_EVENTS: every one)."""
    if _changed_in_this_transaction():  # not committed yet: only the database knows
        return _subscribed_types_read()
    generation_key, value_key = cache.make_key(SUBSCRIBED_GENERATION_KEY), cache.make_key(SUBSCRIBED_KEY)
    try:
        client = _redis(value_key)
        generation, value = client.mget([generation_key, value_key])
    except Exception:  # noqa: BLE001 - Redis down: the database answers
        log.warning("integrations: webhook subscriptions not cached (Redis)", exc_info=True)
        return _subscribed_types_read()
    generation = int(generation or 0)
    if value is not None:
        tagged, _sep, types = value.decode().partition("|")
        if tagged == str(generation):
            return frozenset(t for t in types.split(",") if t)
    types = _subscribed_types_read()
    try:
        client.set(value_key, f"{generation}|{','.join(sorted(types))}", ex=SUBSCRIBED_SECONDS)
    except Exception:  # noqa: BLE001 - not cached this time
        log.warning("integrations: webhook subscriptions not cached (Redis)", exc_info=True)
    return types


def _subscriptions_changed() -> None:
    """An endpoint was created, or its events or active flag changed, in this transaction:
    until it commits this connection asks the database; after the commit every process does
    once (a new generation)."""
    if _changed_in_this_transaction():
        return
    generation_key, value_key = cache.make_key(SUBSCRIBED_GENERATION_KEY), cache.make_key(SUBSCRIBED_KEY)

    def bump():
        try:
            client = _redis(value_key)
            client.incr(generation_key)
            client.delete(value_key)
        except Exception:  # noqa: BLE001 - the cached answer expires within SUBSCRIBED_SECONDS
            log.warning("integrations: could not renew the cached webhook subscriptions", exc_info=True)

    transaction.on_commit(bump, robust=True)
    setattr(connection, _PENDING_BUMP, bump)


# -- emitting events ---------------------------------------------------------------------------------------
def webhook_is_subscribed(*, event_type: str) -> bool:
    """Whether any active endpoint wants ``event_type`` (callers may skip building a
    payload when not). Usually answered from the cache, without a query."""
    types = _subscribed_types()
    return event_type in types or ALL_EVENTS in types


def webhook_emit(*, event_type: str, payload: dict, idempotency_key: str | None = None,
                 occurred_at: datetime.datetime | None = None) -> WebhookEvent | None:
    """Record a business event for the endpoints subscribed to it and send it after the
    caller's transaction commits. Returns the event, or None when no endpoint wants it (then
    nothing is stored). With an ``idempotency_key`` the same key again returns the first
    event and sends nothing more. Call it inside the transaction of the change."""
    events = webhook_emit_many(event_type=event_type, payloads=[payload],
                               idempotency_keys=[idempotency_key] if idempotency_key else None,
                               occurred_at=occurred_at)
    return events[0] if events else None


def webhook_emit_many(*, event_type: str, payloads: Sequence[dict], idempotency_keys: Sequence[str] | None = None,
                      occurred_at: datetime.datetime | None = None) -> list[WebhookEvent]:
    """``webhook_emit`` for many events of one type (one per payload), in a few queries."""
    if event_type not in WebhookEventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}; add it to WebhookEventType")
    if idempotency_keys is not None and len(idempotency_keys) != len(payloads):
        raise ValueError("one idempotency key per payload")
    if not payloads or not webhook_is_subscribed(event_type=event_type):
        return []
    endpoints = unscoped_endpoints_subscribed_to(event_type=event_type)
    if not endpoints:
        return []
    at = occurred_at or timezone.now()
    keys = list(idempotency_keys) if idempotency_keys is not None else [None] * len(payloads)
    with transaction.atomic():
        taken = set(WebhookEvent.objects.filter(idempotency_key__in=[k for k in keys if k])
                    .values_list("idempotency_key", flat=True))
        fresh, seen = [], set()
        for payload, key in zip(payloads, keys, strict=True):
            if key and (key in taken or key in seen):
                continue
            seen.add(key)
            fresh.append(WebhookEvent(type=event_type, payload=_jsonable(payload), occurred_at=at,
                                      idempotency_key=key or None))
        if not fresh:
            return []
        try:
            with transaction.atomic():
                WebhookEvent.objects.bulk_create(fresh)
        except IntegrityError:  # a concurrent emitter took a key first: one by one
            fresh = [event for event in fresh if _create_event_once(event)]
        deliveries = WebhookDelivery.objects.bulk_create([
            WebhookDelivery(endpoint=endpoint, event=event, event_type=event_type, next_attempt_at=at)
            for event in fresh for endpoint in endpoints])
        _queue([d.pk for d in deliveries])
    return fresh


def _create_event_once(event: WebhookEvent) -> bool:
    try:
        with transaction.atomic():
            event.save(force_insert=True)
        return True
    except IntegrityError:
        return False


def _queue(delivery_ids: Iterable[int]) -> None:
    """Queue the first deliveries once the transaction commits; a bigger burst is left to
    the sweep (they are due already)."""
    ids = list(delivery_ids)[:conf.QUEUE_ON_COMMIT_MAX]
    if ids:
        transaction.on_commit(lambda: _send_tasks(ids))


def _send_tasks(ids: Sequence[int]) -> None:
    from .tasks import webhook_deliver_task

    for pk in ids:
        try:
            webhook_deliver_task.apply_async(args=[pk], queue=conf.queue())
        except Exception:  # the broker is down: the sweep will queue it again
            if getattr(webhook_deliver_task.app.conf, "task_always_eager", False):
                raise
            log.warning("could not queue webhook delivery %s; the sweep will retry", pk, exc_info=True)


# -- delivering ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    lease: uuid.UUID
    attempt_id: int
    number: int
    url: str
    body: bytes
    headers: dict
    started: datetime.datetime


def webhook_body(event: WebhookEvent) -> bytes:
    """The request body of an event: {"id", "type", "occurred_at", "data"} as compact UTF-8 JSON."""
    envelope = {"id": str(event.id), "type": event.type,
                "occurred_at": event.occurred_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z"),
                "data": event.payload}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), cls=DjangoJSONEncoder).encode("utf-8")


def _claim(delivery_id: int, now: datetime.datetime) -> _Claim | None:
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint", "event")
                    .filter(pk=delivery_id).first())
        if delivery is None or not delivery.is_due(now):
            return None  # done, given up, not due yet, or in flight elsewhere: a duplicate task
        if not delivery.endpoint.is_active:
            delivery.status = DeliveryStatus.DEAD
            delivery.next_attempt_at = None
            delivery.last_error = _("接收地址已停用，不再投递。")
            delivery.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])
            return None
        WebhookAttempt.objects.filter(delivery=delivery, finished_at__isnull=True).update(
            finished_at=now, error=_("没有结果：投递进程中断，由巡检重新投递。"))
        manual = delivery.replay_requested_at is not None
        delivery.attempts += 1
        delivery.lease = uuid.uuid4()
        delivery.next_attempt_at = now + datetime.timedelta(seconds=conf.LEASE_SECONDS)
        delivery.last_attempt_at = now
        attempt = WebhookAttempt.objects.create(
            delivery=delivery, number=delivery.attempts, url=delivery.endpoint.url, started_at=now,
            trigger=AttemptTrigger.MANUAL if manual else AttemptTrigger.AUTOMATIC,
            requested_by=delivery.replay_requested_by if manual else None)
        delivery.replay_requested_at = None
        delivery.replay_requested_by = None
        delivery.save(update_fields=["attempts", "lease", "next_attempt_at", "last_attempt_at",
                                     "replay_requested_at", "replay_requested_by", "updated_at"])
        body = webhook_body(delivery.event)
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Qiao-Event": delivery.event_type,
            "Qiao-Delivery": str(delivery.pk),
            "Qiao-Attempt": str(delivery.attempts),
            "Qiao-Timestamp": str(timestamp),
            "Qiao-Signature": webhook_signature_header(delivery.endpoint.signing_secrets(now), timestamp, body),
        }
        return _Claim(delivery_id=delivery.pk, lease=delivery.lease, attempt_id=attempt.pk, number=attempt.number,
                      url=delivery.endpoint.url, body=body, headers=headers, started=now)


def webhook_backoff(attempts: int) -> datetime.timedelta:
    """The wait after the ``attempts``-th failed attempt: the schedule's step stretched by a
    random share of up to conf.jitter()."""
    schedule = conf.retry_schedule()
    base = schedule[min(max(attempts, 1), len(schedule)) - 1]
    return datetime.timedelta(seconds=base * (1 + _random.random() * conf.jitter()))


def _record(claim: _Claim, result: outbound.HttpResult) -> WebhookDelivery:
    finished = claim.started + datetime.timedelta(milliseconds=result.duration_ms)
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=claim.attempt_id).update(
            finished_at=finished, succeeded=result.ok, status_code=result.status_code, error=result.error,
            duration_ms=result.duration_ms, response_excerpt=result.excerpt)
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claim.delivery_id)
        if delivery.lease != claim.lease:
            return delivery  # a later attempt (after our lease ran out, or a replay) owns it now
        if result.ok:
            status, next_at = DeliveryStatus.SUCCEEDED, None
        elif delivery.attempts >= conf.max_attempts():
            status, next_at = DeliveryStatus.DEAD, None
        else:
            status, next_at = DeliveryStatus.FAILED, finished + webhook_backoff(delivery.attempts)
        if not can_transition(delivery.status, status):
            log.error("webhook delivery %s: refused transition %s -> %s", delivery.pk, delivery.status, status)
            return delivery
        error = result.error
        if not error and not result.ok:
            error = _("接收方返回 HTTP %(code)s。") % {"code": result.status_code}
        delivery.status = status
        delivery.next_attempt_at = next_at
        delivery.lease = None
        delivery.last_status_code = result.status_code
        delivery.last_error = error[:500]
        delivery.last_response_excerpt = result.excerpt
        delivery.duration_ms = result.duration_ms
        delivery.save(update_fields=["status", "next_attempt_at", "lease", "last_status_code", "last_error",
                                     "last_response_excerpt", "duration_ms", "updated_at"])
    return delivery


def webhook_delivery_attempt(*, delivery_id: int, now: datetime.datetime | None = None) -> WebhookDelivery | None:
    """Make the next attempt of a delivery if it is due (the task ``integrations.deliver``).
    Idempotent: a delivery that is done, not due or in flight elsewhere is left alone (None).
    No database transaction is open during the HTTP request."""
    claim = _claim(delivery_id, _now(now))
    if claim is None:
        return None
    try:
        result = outbound.post(claim.url, body=claim.body, headers=claim.headers)
    except Exception as exc:  # a bug must not leave the attempt open until its lease ends
        log.exception("webhook delivery %s failed unexpectedly", delivery_id)
        result = outbound.HttpResult(status_code=None, error=f"{type(exc).__name__}: {exc}"[:500], excerpt="",
                                     duration_ms=0)
    return _record(claim, result)


def webhook_deliveries_sweep(*, now: datetime.datetime | None = None, limit: int = conf.SWEEP_BATCH) -> int:
    """Queue the deliveries that are due: retries whose time has come, deliveries never
    queued (a burst, a broker outage) and attempts whose worker stopped (lease expired).
    The periodic task ``integrations.sweep`` of each tenant. Returns how many were queued."""
    ids = unscoped_delivery_ids_due(now=_now(now), limit=limit)
    if ids:
        _send_tasks(ids)
    return len(ids)


@transaction.atomic
def webhook_delivery_replay(*, actor, delivery_id: int, now: datetime.datetime | None = None) -> WebhookDelivery:
    """Send a delivery again now, whatever its status (one more attempt, recorded with the
    actor). If it fails and the delivery has attempts left, the retries go on; else it is
    dead again."""
    _manager(actor)
    now = _now(now)
    delivery = (WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint")
                .get(pk=delivery_id))
    if not delivery.endpoint.is_active:
        raise ValidationError({"endpoint": _("接收地址已停用，请先启用再重发。")})
    before = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.replay_requested_by = actor
    delivery.replay_requested_at = now
    delivery.save(update_fields=["status", "next_attempt_at", "replay_requested_by", "replay_requested_at",
                                 "updated_at"])
    audit_record(actor=actor, instance=delivery, action="replay",
                 changes={"status": {"old": before, "new": DeliveryStatus.PENDING}},
                 note=_("手动重发 %(type)s 到 %(url)s") % {"type": delivery.event_type, "url": delivery.endpoint.url})
    _queue([delivery.pk])
    return delivery


# -- ERP clients --------------------------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _clean_scopes(values) -> list[str]:
    if isinstance(values, str):
        values = [values]
    chosen = list(dict.fromkeys(str(v).strip() for v in (values or []) if str(v).strip()))
    if not chosen:
        raise ValidationError({"scopes": _("请至少选择一项权限。")})
    unknown = [v for v in chosen if v not in ErpScope.values]
    if unknown:
        raise ValidationError({"scopes": _("未知的权限：%(unknown)s；可选：%(choices)s") % {
            "unknown": ", ".join(unknown), "choices": ", ".join(ErpScope.values)}})
    return [v for v in ErpScope.values if v in chosen]


@transaction.atomic
def erp_client_create(*, actor, name: str, scopes) -> tuple[ErpClient, str]:
    """A new ERP credential. Returns the client and its token: show the token once, only
    its hash is kept."""
    _manager(actor)
    name = _text(name, field_name="name", max_length=100, label=_("名称"), required=True)
    token = ERP_TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ErpClient.objects.create(name=name, scopes=_clean_scopes(scopes), token_prefix=token[:12],
                                      token_hash=_token_hash(token), created_by=actor)
    audit_record(actor=actor, instance=client, action="create",
                 changes=audit_diff({}, audit_snapshot(client, CLIENT_FIELDS)))
    return client, token


@transaction.atomic
def erp_client_revoke(*, actor, client_id: int, now: datetime.datetime | None = None) -> ErpClient:
    """Revoke a client: its token stops working at once (401). Idempotent."""
    _manager(actor)
    client = ErpClient.objects.select_for_update().get(pk=client_id)
    if not client.is_active:
        return client
    client.is_active = False
    client.revoked_at = _now(now)
    client.revoked_by = actor
    client.version = F("version") + 1
    client.save(update_fields=["is_active", "revoked_at", "revoked_by", "version", "updated_at"])
    client.refresh_from_db()
    audit_record(actor=actor, instance=client, action="revoke", changes={"is_active": {"old": True, "new": False}})
    return client


def erp_client_authenticate(*, token: str, now: datetime.datetime | None = None) -> ErpClient | None:
    """The active client whose token this is, else None. Notes the use (at most once a minute)."""
    token = (token or "").strip()
    if not token.startswith(ERP_TOKEN_PREFIX) or len(token) > 200:
        return None
    client = unscoped_erp_client_by_token_hash(token_hash=_token_hash(token))
    if client is None:
        return None
    now = _now(now)
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() >= conf.ERP_LAST_USED_RESOLUTION:
        ErpClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client


# -- inbound messages ---------------------------------------------------------------------------------------
def clean_external_id(value) -> str:
    external_id = str(value if value is not None else "").strip()
    if not external_id:
        raise ValidationError({"external_id": _("请提供外部编号 external_id（ERP 中的单据号或流水号）。")})
    if len(external_id) > 100 or not set(external_id) <= _EXTERNAL_ID_CHARS:
        raise ValidationError({"external_id": _(
            "外部编号最长 100 个字符，只能包含字母、数字和 - _ . : / #。")})
    return external_id


def payload_fingerprint(payload: dict) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _errors_of(exc: ValidationError) -> dict:
    if hasattr(exc, "error_dict"):
        return {k: [str(m) for m in v] for k, v in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def _claim_message(*, client: ErpClient, kind: str, external_id: str, payload: dict, digest: str,
                   now: datetime.datetime) -> tuple[InboundMessage, bool]:
    lookup = {"client": client, "kind": kind, "external_id": external_id}
    message = InboundMessage.objects.select_for_update().filter(**lookup).first()
    if message is not None:
        return message, False
    try:
        with transaction.atomic():
            return InboundMessage.objects.create(**lookup, payload=payload, payload_hash=digest, received_at=now,
                                                 last_received_at=now), True
    except IntegrityError:  # the same message arrived twice at once: the first one has committed
        return InboundMessage.objects.select_for_update().get(**lookup), False


def inbound_receive(*, client: ErpClient, kind: str, external_id, payload: dict,
                    now: datetime.datetime | None = None) -> tuple[InboundMessage, bool]:
    """Store and apply one inbound message. Returns (message, replayed): ``replayed`` when
    the same external id came with the same payload before (the first result is returned,
    nothing runs again). Raises InboundNotHandled (no handler registered: nothing stored),
    PermissionDenied (the client lacks the kind's scope), ValidationError (bad external id)
    or InboundConflict (the external id came before with another payload). A message the
    handler refuses is stored as rejected with its errors; sending it again retries it."""
    handler = inbound_handler_get(kind)
    if handler is None:
        raise InboundNotHandled(kind)
    if not client.has_scope(SCOPE_OF_KIND[kind]):
        raise PermissionDenied(_("这个 ERP 客户端没有“%(scope)s”权限。") % {"scope": ErpScope(SCOPE_OF_KIND[kind]).label})
    external_id = clean_external_id(external_id)
    payload = _jsonable(payload)
    digest = payload_fingerprint(payload)
    now = _now(now)
    with transaction.atomic():
        message, created = _claim_message(client=client, kind=kind, external_id=external_id, payload=payload,
                                          digest=digest, now=now)
        if not created:
            if message.status != InboundStatus.REJECTED:
                if message.payload_hash != digest:
                    raise InboundConflict([external_id])
                message.receipts += 1
                message.last_received_at = now
                message.save(update_fields=["receipts", "last_received_at"])
                return message, True
            # refused before: this is the retry (maybe with the data fixed)
            message.payload, message.payload_hash = payload, digest
            message.receipts += 1
            message.last_received_at = now
            message.status = InboundStatus.ACCEPTED
            message.result = {}
        context = InboundContext(client_id=client.pk, client_name=client.name, external_id=external_id,
                                 message_id=message.pk)
        try:
            with transaction.atomic():
                result = handler(payload, context=context)
        except ValidationError as exc:
            message.status, message.result = InboundStatus.REJECTED, {"errors": _errors_of(exc)}
        else:
            if result is None:
                message.status, message.result = InboundStatus.ACCEPTED, {}
            else:
                message.status, message.result = InboundStatus.APPLIED, _jsonable(result)
                message.applied_at = now
        message.save()
    return message, False


@transaction.atomic
def inbound_message_settle(*, message_id: int, result: dict | None = None, errors: dict | None = None
                           ) -> InboundMessage:
    """For handlers that accepted a message to apply it later: record the outcome (a result
    → applied, errors → rejected). Idempotent for a message already applied."""
    message = InboundMessage.objects.select_for_update().get(pk=message_id)
    if message.status == InboundStatus.APPLIED:
        return message
    if errors:
        message.status, message.result = InboundStatus.REJECTED, {"errors": _jsonable(errors)}
    else:
        message.status, message.result = InboundStatus.APPLIED, _jsonable(result or {})
        message.applied_at = timezone.now()
    message.save(update_fields=["status", "result", "applied_at"])
    return message
