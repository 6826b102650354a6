"""Signed tokens of the public sign-up.

- The progress page of a sign-up is addressed by a signed token, not by the tenant id: only
  the person who signed up (and whoever they share the link with) can read it.
- Each sign-up form carries a one-time token. The first POST with it claims it in Redis; a
  second POST with the same token (a double click, a reload) finds the first one's outcome
  and is sent to the same place instead of creating a second tenant.
"""

from __future__ import annotations

import time
import uuid

from django.core import signing
from django.core.cache import cache

PROGRESS_SALT = "signup.progress"
PROGRESS_MAX_AGE = 30 * 24 * 3600
FORM_SALT = "signup.form"
FORM_MAX_AGE = 24 * 3600
_PENDING = "pending"
DOUBLE_SUBMIT_WAIT_SECONDS = 10.0  # how long a repeated submit waits for the first one


# -- progress page -------------------------------------------------------------------------------
def progress_token_for(tenant) -> str:
    return signing.dumps({"t": tenant.pk, "n": uuid.uuid4().hex[:8]}, salt=PROGRESS_SALT, compress=True)


def progress_tenant_id(token: str) -> int | None:
    """The tenant id a progress token stands for, or None when it is forged, altered or old."""
    if not token or len(token) > 300:
        return None
    try:
        data = signing.loads(token, salt=PROGRESS_SALT, max_age=PROGRESS_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    tenant_id = data.get("t") if isinstance(data, dict) else None
    return tenant_id if isinstance(tenant_id, int) else None


# -- one-time form tokens ------------------------------------------------------------------------
def form_token_issue() -> str:
    return signing.dumps(uuid.uuid4().hex, salt=FORM_SALT)


def form_token_nonce(token: str | None) -> str | None:
    """The nonce of a form token we issued within the last day, or None."""
    if not token or len(token) > 200:
        return None
    try:
        nonce = signing.loads(token, salt=FORM_SALT, max_age=FORM_MAX_AGE)
    except signing.BadSignature:
        return None
    return nonce if isinstance(nonce, str) else None


def _form_key(nonce: str) -> str:
    return f"signup-form:{nonce}"


def form_token_claim(nonce: str) -> bool:
    """Atomically mark the token as being used. False when another request already has it."""
    return cache.add(_form_key(nonce), _PENDING, timeout=FORM_MAX_AGE)


def form_token_release(nonce: str) -> None:
    """The submission was refused (bad input): the same form may be sent again."""
    cache.delete(_form_key(nonce))


def form_token_complete(nonce: str, *, redirect_to: str) -> None:
    cache.set(_form_key(nonce), {"redirect": redirect_to}, timeout=FORM_MAX_AGE)


def form_token_outcome(nonce: str, *, wait_seconds: float | None = None, step: float = 0.2) -> str | None:
    """Where the first submission of this form went, waiting a little while it is still being
    processed (a double click arrives while the first request runs). None if it is still
    running after ``wait_seconds`` or was released."""
    deadline = time.monotonic() + (DOUBLE_SUBMIT_WAIT_SECONDS if wait_seconds is None else wait_seconds)
    while True:
        value = cache.get(_form_key(nonce))
        if isinstance(value, dict):
            return value.get("redirect")
        if value != _PENDING or time.monotonic() >= deadline:
            return None
        time.sleep(step)
