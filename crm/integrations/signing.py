"""Webhook signatures, public for receivers and tests (no Django needed).

Every delivery carries ``Qiao-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is the
HMAC-SHA256, keyed with the endpoint's secret, of ``"<t>.<raw request body>"``. While a
rotated-out secret is still in its grace period, a second ``v1=`` entry carries the
signature made with it; a receiver accepts the request when any ``v1`` matches.

A receiver verifies (in Python)::

    from crm.integrations.signing import webhook_verify
    ok = webhook_verify(secret=SECRET, header=request.headers["Qiao-Signature"],
                        body=request.body)            # the raw bytes, before JSON parsing

or by hand: split the header on ",", take ``t`` and the ``v1`` values, compute
``hmac_sha256(secret, f"{t}.".encode() + body).hexdigest()``, compare in constant time, and
refuse a ``t`` more than five minutes away from now (a replayed old request).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

DEFAULT_TOLERANCE = 300


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def webhook_signature(secret: str | bytes, timestamp: int | str, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed with ``secret``."""
    message = _bytes(str(int(timestamp))) + b"." + _bytes(body)
    return hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def webhook_signature_header(secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """``t=<timestamp>,v1=<sig>[,v1=<sig with an older secret>]``."""
    parts = [f"t={int(timestamp)}"]
    parts += [f"v1={webhook_signature(secret, timestamp, body)}" for secret in secrets if secret]
    return ",".join(parts)


def parse_signature_header(header: str) -> tuple[int | None, list[str]]:
    timestamp, signatures = None, []
    for item in (header or "").split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def webhook_verify(*, secret: str | bytes | Iterable[str | bytes], header: str, body: str | bytes,
                   tolerance: int = DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """True when ``header`` (a Qiao-Signature value) signs ``body`` with ``secret`` (or any
    of several secrets) and its timestamp is within ``tolerance`` seconds of ``now``.
    Compares in constant time."""
    timestamp, signatures = parse_signature_header(header)
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    candidates = [secret] if isinstance(secret, (str, bytes)) else list(secret)
    ok = False
    for candidate in candidates:
        expected = webhook_signature(candidate, timestamp, body)
        for given in signatures:
            ok |= hmac.compare_digest(expected, given)  # no early exit: constant time
    return ok
