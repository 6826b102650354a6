"""The one door to Stripe: every call the product makes to Stripe goes through here, with the
API version pinned (settings.STRIPE_API_VERSION), an idempotency key derived from our own rows
on every create and update, and Stripe's errors turned into ``BillingError`` with a clear
message. Nothing else imports ``stripe``.

Returns plain dicts (the JSON Stripe sent), so the callers never hold SDK objects.

Retries: reads, and writes that carry an idempotency key (every one here does), are retried a
few times on connection errors, 409 and 5xx (Stripe replays a keyed request instead of doing it
twice); card errors and invalid requests are never retried."""

from __future__ import annotations

import logging
import threading
from typing import Any

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)

NETWORK_RETRIES = 2

_lock = threading.Lock()
_http_client: Any = None  # tests plug a fake HTTP client in here (http_client_set)
_client: stripe.StripeClient | None = None
_client_key: tuple | None = None


class BillingError(Exception):
    """A billing operation that could not be done; ``message`` is shown to the user (zh source
    text, translated), ``status`` is the HTTP status a view should answer with."""

    def __init__(self, message: str, *, code: str = "billing_error", status: int = 400):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status

    def __str__(self) -> str:
        return str(self.message)


# -- the client ------------------------------------------------------------------------------
def http_client_set(http_client) -> None:
    """Use ``http_client`` (a ``stripe.HTTPClient``) under the SDK; ``None`` restores the
    default. Tests use it to put a fake HTTP client under the real SDK."""
    global _http_client, _client, _client_key
    with _lock:
        _http_client = http_client
        _client = None
        _client_key = None


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def client() -> stripe.StripeClient:
    global _client, _client_key
    api_key = settings.STRIPE_SECRET_KEY
    if not api_key:
        raise BillingError(_("在线支付尚未配置，请联系平台客服。"), code="stripe_not_configured", status=503)
    key = (api_key, settings.STRIPE_API_VERSION, id(_http_client))
    with _lock:
        if _client is None or _client_key != key:
            kwargs: dict[str, Any] = {"stripe_version": settings.STRIPE_API_VERSION,
                                      "max_network_retries": NETWORK_RETRIES}
            if _http_client is not None:
                kwargs["http_client"] = _http_client
            _client = stripe.StripeClient(api_key, **kwargs)
            _client_key = key
        return _client


def _plain(obj) -> dict:
    if obj is None:
        return {}
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    return dict(obj)


def _call(fn, *args, **kwargs) -> dict:
    """Run one SDK call; Stripe's errors become BillingError (never a 500 upstream)."""
    return _plain(_call_obj(fn, *args, **kwargs))


def _replayed(obj) -> bool:
    """Whether Stripe answered with the stored response of an earlier request carrying the
    same idempotency key (``Idempotent-Replayed: true``): that body may be older than what we
    know now, so it is not applied as the current state."""
    headers = getattr(getattr(obj, "last_response", None), "headers", None) or {}
    return any(k.lower() == "idempotent-replayed" and str(v).lower() == "true" for k, v in headers.items())


def _call_obj(fn, *args, **kwargs):
    """As _call, returning the SDK's object (its ``last_response`` carries the headers)."""
    try:
        return fn(*args, **kwargs)
    except stripe.CardError as exc:
        log.info("stripe card error: %s", exc.code)
        raise BillingError(_("银行卡被拒绝：%(reason)s 请换一张卡或联系发卡行。") % {
            "reason": _decline_reason(exc)}, code="card_declined", status=402) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        log.warning("stripe unreachable: %s", exc)
        raise BillingError(_("支付服务暂时无法连接，请稍后再试。"), code="stripe_unavailable",
                           status=503) from exc
    except stripe.AuthenticationError as exc:
        log.error("stripe authentication failed: %s", exc)
        raise BillingError(_("支付服务配置有误，请联系平台客服。"), code="stripe_auth", status=503) from exc
    except stripe.InvalidRequestError as exc:
        log.warning("stripe rejected a request: %s", exc)
        if exc.http_status == 404:
            raise BillingError(_("支付服务中找不到这条记录。"), code="stripe_not_found", status=404) from exc
        raise BillingError(_("支付服务拒绝了这个请求：%(msg)s") % {"msg": exc.user_message or exc.code or ""},
                           code="stripe_invalid_request", status=400) from exc
    except stripe.StripeError as exc:  # APIError (5xx), idempotency errors, anything else
        log.warning("stripe error: %s", exc)
        raise BillingError(_("支付服务暂时出错，请稍后再试。"), code="stripe_error", status=503) from exc


def _decline_reason(exc) -> str:
    reasons = {
        "insufficient_funds": _("余额不足。"),
        "expired_card": _("银行卡已过期。"),
        "incorrect_cvc": _("安全码不正确。"),
        "lost_card": _("银行卡已挂失。"),
        "stolen_card": _("银行卡已挂失。"),
    }
    decline = (exc.json_body or {}).get("error", {}).get("decline_code") if exc.json_body else None
    return reasons.get(decline or exc.code or "", _("发卡行拒绝了这笔付款。"))


def _opts(idempotency_key: str | None = None) -> dict:
    return {"idempotency_key": idempotency_key} if idempotency_key else {}


# -- customers -------------------------------------------------------------------------------
def customer_create(*, tenant_id: int, name: str, email: str, slug: str) -> dict:
    return _call(client().v1.customers.create,
                 params={"name": name, "email": email,
                         "metadata": {"tenant_id": str(tenant_id), "tenant_slug": slug}},
                 options=_opts(f"tenant-{tenant_id}-customer"))


# -- checkout and portal --------------------------------------------------------------------
def checkout_session_create(*, tenant_id: int, customer_id: str, price_id: str, success_url: str,
                            cancel_url: str, plan_code: str, interval: str, idempotency_key: str) -> dict:
    meta = {"tenant_id": str(tenant_id), "plan": plan_code, "interval": interval}
    return _call(client().v1.checkout.sessions.create, params={
        "mode": "subscription",
        "customer": customer_id,
        "client_reference_id": str(tenant_id),
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": meta,
        "subscription_data": {"metadata": meta},
        "allow_promotion_codes": True,
    }, options=_opts(idempotency_key))


def checkout_session_retrieve(session_id: str) -> dict:
    return _call(client().v1.checkout.sessions.retrieve, session_id)


def billing_portal_session_create(*, customer_id: str, return_url: str) -> dict:
    # A portal session is a short-lived link: no idempotency key, so each click gets a fresh one.
    return _call(client().v1.billing_portal.sessions.create,
                 params={"customer": customer_id, "return_url": return_url})


# -- subscriptions and invoices ---------------------------------------------------------------
def subscription_retrieve(subscription_id: str) -> dict:
    return _call(client().v1.subscriptions.retrieve, subscription_id)


def subscription_update(subscription_id: str, *, params: dict, idempotency_key: str) -> dict:
    """The updated subscription; on a replayed answer (a retry of a request Stripe already did)
    the subscription as it is now, read again."""
    obj = _call_obj(client().v1.subscriptions.update, subscription_id, params=params,
                    options=_opts(idempotency_key))
    if _replayed(obj):
        return subscription_retrieve(subscription_id)
    return _plain(obj)


def subscription_cancel_now(subscription_id: str, *, idempotency_key: str) -> dict:
    """End a subscription at once (no proration credit): the tenant is gone."""
    return _call(client().v1.subscriptions.cancel, subscription_id, options=_opts(idempotency_key))


def invoice_retrieve(invoice_id: str) -> dict:
    return _call(client().v1.invoices.retrieve, invoice_id)


# -- webhooks --------------------------------------------------------------------------------
class SignatureError(Exception):
    pass


def webhook_verify(payload: bytes, signature: str | None) -> dict:
    """Check the Stripe-Signature header with the SDK (HMAC and a 5-minute tolerance on the
    timestamp); return the event as a dict. Raises SignatureError for anything not right."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise SignatureError("STRIPE_WEBHOOK_SECRET is not set")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret,
                                              stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(str(exc)) from exc
    import json

    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise SignatureError("body is not JSON") from exc
    if not isinstance(data, dict) or not data.get("id") or not data.get("type"):
        raise SignatureError("not a Stripe event")
    return data
