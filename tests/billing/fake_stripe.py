"""A fake HTTP client under the real ``stripe`` SDK: nothing reaches the network.

It records every request the SDK sends (method, path, query/form parameters decoded into nested
dicts and lists, headers including Idempotency-Key and Stripe-Version) and answers from the
responses a test registers. Also: builders for Stripe objects (customer, subscription, invoice,
checkout session, event) and a webhook signer that uses the SDK's own signature code.

Use the ``fake_stripe`` fixture (importable from here, and active in tests/billing)::

    def test_x(fake_stripe):
        fake_stripe.on("POST", "/v1/customers", {"id": "cus_1", "object": "customer"})
        ...
        call = fake_stripe.last("POST", "/v1/customers")
        assert call.params["metadata"]["tenant_id"] == "7"
        assert call.idempotency_key == "tenant-7-customer"

Routes match the exact path, or a prefix ending in ``*`` (e.g. ``/v1/subscriptions/*``).
A response is a dict (JSON body, status 200), a ``(status, dict)`` pair, or a callable taking
the ``Call`` and returning either. ``once=True`` answers once, before the standing answer.
An unregistered route answers 404 ``resource_missing`` (and is recorded), so a test notices.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

SECRET_KEY = "sk_test_fake_qiao"
WEBHOOK_SECRET = "whsec_test_fake_qiao"
PRICE_IDS = {f"{code}_{interval}": f"price_{code}_{interval}"
             for code in ("standard", "professional", "enterprise") for interval in ("month", "year")}


@dataclass
class Call:
    method: str
    path: str
    params: dict
    headers: dict
    raw: str = ""

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("Stripe-Version")


def _set_nested(root: dict, keys: list[str], value: str) -> None:
    node = root
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if last:
            node[key] = value
        else:
            node = node.setdefault(key, {})


def _listify(node):
    if isinstance(node, dict):
        node = {k: _listify(v) for k, v in node.items()}
        if node and all(k.isdigit() for k in node):
            return [node[k] for k in sorted(node, key=int)]
    return node


def decode_params(encoded: str) -> dict:
    """``a[b][0][c]=v&x=1`` (Stripe's form encoding) -> ``{"a": {"b": [{"c": "v"}]}, "x": "1"}``."""
    root: dict = {}
    for key, value in parse_qsl(encoded or "", keep_blank_values=True):
        parts = key.replace("]", "").split("[")
        _set_nested(root, parts, value)
    return _listify(root)


def error_body(type_: str, message: str, *, code: str | None = None, **extra) -> dict:
    return {"error": {"type": type_, "message": message, **({"code": code} if code else {}), **extra}}


@dataclass
class _Route:
    method: str
    path: str
    response: Any
    once: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


@dataclass
class FakeStripe(stripe.HTTPClient):
    """Plugged in with ``billing.stripe_client.http_client_set(fake)``."""

    name = "fake"
    calls: list[Call] = field(default_factory=list)
    routes: list[_Route] = field(default_factory=list)
    down: bool = False
    replayed: set = field(default_factory=set)  # (method, path) answered as replays of a stored response

    def __post_init__(self):
        stripe.HTTPClient.__init__(self)

    # the SDK's hooks ---------------------------------------------------------------------
    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        raw = post_data if method.lower() != "get" else parts.query
        if isinstance(raw, bytes):
            raw = raw.decode()
        call = Call(method=method.upper(), path=parts.path, params=decode_params(raw or ""),
                    headers=dict(headers or {}), raw=raw or "")
        self.calls.append(call)
        if self.down:
            raise stripe.APIConnectionError("fake: Stripe is unreachable", should_retry=True)
        status, body = self._answer(call)
        if isinstance(body, Exception):
            raise body
        headers = {"Request-Id": f"req_{uuid.uuid4().hex[:12]}"}
        if (call.method, call.path) in self.replayed:
            headers["Idempotent-Replayed"] = "true"  # Stripe's answer to a repeated idempotency key
        return json.dumps(body), status, headers

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        body, status, rheaders = self.request(method, url, headers, post_data)
        return iter([body.encode()]), status, rheaders

    def close(self):
        pass

    def _sleep_time_seconds(self, num_retries: int) -> float:  # retries without waiting
        return 0.0

    def _answer(self, call: Call):
        for route in list(self.routes):
            if route.matches(call.method, call.path):
                if route.once:
                    self.routes.remove(route)
                response = route.response(call) if callable(route.response) else route.response
                if isinstance(response, tuple):
                    return response
                return 200, response
        return 404, error_body("invalid_request_error", f"fake: no response for {call.method} {call.path}",
                               code="resource_missing")

    # registering answers ------------------------------------------------------------------
    def on(self, method: str, path: str, response: dict | tuple | Callable, *, once: bool = False,
           status: int | None = None) -> FakeStripe:
        if status is not None and not callable(response):
            response = (status, response)
        route = _Route(method.upper(), path, response, once)
        if once:  # one-shot answers go before the standing ones
            self.routes.insert(0, route)
        else:
            self.routes = [r for r in self.routes if r.once or (r.method, r.path) != (route.method, path)]
            self.routes.append(route)
        return self

    def replay(self, method: str, path: str, response: dict) -> FakeStripe:
        """Answer ``method path`` with ``response`` marked as Stripe's replay of an earlier
        request with the same idempotency key."""
        self.replayed.add((method.upper(), path))
        return self.on(method, path, response)

    def card_declined(self, method: str, path: str, *, decline_code: str = "generic_decline",
                      once: bool = False) -> FakeStripe:
        return self.on(method, path, (402, error_body(
            "card_error", "Your card was declined.", code="card_declined", decline_code=decline_code)),
            once=once)

    def server_error(self, method: str = "*", path: str = "/v1/*", *, once: bool = False) -> FakeStripe:
        return self.on(method, path, (500, error_body("api_error", "fake: internal error")), once=once)

    def stripe_down(self, down: bool = True) -> FakeStripe:
        """Every request fails with a connection error (as if Stripe could not be reached)."""
        self.down = down
        return self

    # reading what was sent ----------------------------------------------------------------
    def requests(self, method: str | None = None, path: str | None = None) -> list[Call]:
        out = []
        for c in self.calls:
            if method and c.method != method.upper():
                continue
            if path and not (c.path.startswith(path[:-1]) if path.endswith("*") else c.path == path):
                continue
            out.append(c)
        return out

    def last(self, method: str | None = None, path: str | None = None) -> Call:
        found = self.requests(method, path)
        assert found, f"no {method or ''} {path or ''} request was sent; sent: " + \
            ", ".join(f"{c.method} {c.path}" for c in self.calls)
        return found[-1]

    def reset(self) -> None:
        self.calls.clear()
        self.routes.clear()
        self.replayed.clear()
        self.down = False


# -- Stripe objects ----------------------------------------------------------------------------
def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:14]}"


def customer_obj(id: str | None = None, **extra) -> dict:
    return {"id": id or _id("cus"), "object": "customer", "livemode": False, "metadata": {}, **extra}


def subscription_obj(id: str | None = None, *, customer: str, status: str = "active",
                     price: str = "price_standard_month", interval: str = "month",
                     period_start: int | None = None, period_end: int | None = None,
                     cancel_at_period_end: bool = False, trial_end: int | None = None,
                     canceled_at: int | None = None, ended_at: int | None = None,
                     metadata: dict | None = None, created: int | None = None) -> dict:
    """A subscription as the pinned API version (clover) sends it: the period lives on the item."""
    now = int(time.time())
    start = period_start if period_start is not None else now
    end = period_end if period_end is not None else start + (365 if interval == "year" else 30) * 86400
    sid = id or _id("sub")
    return {
        "id": sid, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": cancel_at_period_end, "canceled_at": canceled_at, "ended_at": ended_at,
        "trial_end": trial_end, "created": created or start, "livemode": False, "metadata": metadata or {},
        "items": {"object": "list", "has_more": False, "data": [{
            "id": f"si_{sid[4:]}", "object": "subscription_item", "quantity": 1,
            "current_period_start": start, "current_period_end": end,
            "price": {"id": price, "object": "price", "recurring": {"interval": interval}},
        }]},
    }


def invoice_obj(id: str | None = None, *, customer: str, subscription: str | None, status: str = "paid",
                amount_due: int = 99000, amount_paid: int | None = None, currency: str = "cny",
                number: str | None = None, created: int | None = None,
                period_start: int | None = None, period_end: int | None = None) -> dict:
    now = int(time.time())
    return {
        "id": id or _id("in"), "object": "invoice", "customer": customer, "status": status,
        "number": number or f"QIAO-{uuid.uuid4().hex[:6].upper()}", "currency": currency,
        "amount_due": amount_due,
        "amount_paid": amount_paid if amount_paid is not None else (amount_due if status == "paid" else 0),
        "hosted_invoice_url": "https://invoice.stripe.test/i/1", "invoice_pdf": "https://invoice.stripe.test/i/1.pdf",
        "created": created or now, "period_start": period_start or now, "period_end": period_end or now,
        "livemode": False,
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": subscription, "metadata": {}}} if subscription else None,
    }


def checkout_session_obj(id: str | None = None, *, tenant_id: int, customer: str,
                         subscription: str | None = None, status: str = "complete",
                         payment_status: str = "paid", url: str | None = None, plan: str = "standard",
                         interval: str = "month") -> dict:
    sid = id or _id("cs_test")
    return {
        "id": sid, "object": "checkout.session", "mode": "subscription", "customer": customer,
        "subscription": subscription, "client_reference_id": str(tenant_id), "status": status,
        "payment_status": payment_status, "url": url or f"https://checkout.stripe.test/c/pay/{sid}",
        "metadata": {"tenant_id": str(tenant_id), "plan": plan, "interval": interval}, "livemode": False,
    }


def event_obj(type: str, obj: dict, *, id: str | None = None, created: int | None = None) -> dict:
    return {"id": id or _id("evt"), "object": "event", "type": type, "api_version": "2025-10-29.clover",
            "created": created or int(time.time()), "livemode": False, "pending_webhooks": 1,
            "data": {"object": obj}}


# -- webhooks ----------------------------------------------------------------------------------
def sign(payload: str | bytes | dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[str, str]:
    """(body, Stripe-Signature header) for ``payload``, signed with the SDK's own code."""
    if isinstance(payload, dict):
        payload = json.dumps(payload)
    if isinstance(payload, bytes):
        payload = payload.decode()
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=int(timestamp if timestamp is not None else time.time()))
    return payload, header


def post_webhook(client, event: dict | str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None,
                 signature: str | None = "sign", path: str = "/billing/stripe/webhook/"):
    """POST ``event`` to the webhook as Stripe would. ``signature=None`` sends no header; any
    other string than "sign" is sent as the header verbatim."""
    body, header = sign(event, secret=secret, timestamp=timestamp)
    extra = {}
    if signature == "sign":
        extra["HTTP_STRIPE_SIGNATURE"] = header
    elif signature is not None:
        extra["HTTP_STRIPE_SIGNATURE"] = signature
    return client.post(path, data=body, content_type="application/json", **extra)


@pytest.fixture
def fake_stripe(settings):
    """The real SDK over a FakeStripe, with test keys and price ids in settings."""
    from billing import stripe_client

    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_PRICE_IDS = dict(PRICE_IDS)
    fake = FakeStripe()
    stripe_client.http_client_set(fake)
    yield fake
    stripe_client.http_client_set(None)
