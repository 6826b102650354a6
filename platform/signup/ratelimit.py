"""Sign-up flood control: Redis counters per client address and hour.

Two counters per address: completed sign-ups (at most ``SIGNUP_RATE_LIMIT_PER_HOUR``) and
submissions of the form of any outcome (at most ten times that, so that a script posting
garbage is stopped as well). The window is the clock hour; the 429 page says when it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from crm.org.web import client_ip as web_client_ip
from crm.org.web import window_counter_hit

ATTEMPTS_FACTOR = 10
WINDOW = 3600


@dataclass(frozen=True)
class RateLimited:
    limit: int
    retry_after: int  # seconds until the window ends


def client_ip(request) -> str:
    """The address the rate limit counts by (crm.org.web.client_ip, never a forwarded header)."""
    return (web_client_ip(request) or "unknown")[:64]


def _now() -> float:
    return time.time()


def _bucket() -> int:
    return int(_now() // WINDOW)


def _key(kind: str, ip: str) -> str:
    return f"signup-rate:{kind}:{ip}:{_bucket()}"


def _count(kind: str, ip: str) -> int:
    return int(cache.get(_key(kind, ip)) or 0)


def _hit(kind: str, ip: str) -> int:
    return window_counter_hit(_key(kind, ip), timeout=WINDOW + 60)


def signup_rate_check(ip: str) -> RateLimited | None:
    """None when ``ip`` may submit the sign-up form now, else the limit it reached."""
    limit = settings.SIGNUP_RATE_LIMIT_PER_HOUR
    if _count("done", ip) >= limit or _count("try", ip) >= limit * ATTEMPTS_FACTOR:
        return RateLimited(limit=limit, retry_after=max(1, WINDOW - int(_now()) % WINDOW))
    return None


def signup_attempt_hit(ip: str) -> None:
    _hit("try", ip)


def signup_done_hit(ip: str) -> None:
    _hit("done", ip)
