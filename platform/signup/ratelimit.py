"""Sign-up flood control: Redis counters per client address and hour.

Two counters per address: completed sign-ups (at most ``SIGNUP_RATE_LIMIT_PER_HOUR``) and
submissions of the form of any outcome (at most ten times that, so that a script posting
garbage is stopped as well). The window is the clock hour; the 429 page says when it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

ATTEMPTS_FACTOR = 10
WINDOW = 3600


@dataclass(frozen=True)
class RateLimited:
    limit: int
    retry_after: int  # seconds until the window ends


def client_ip(request) -> str:
    """The address the request came from. Behind a reverse proxy, the proxy must set
    REMOTE_ADDR (a forwarded header sent by the client is never trusted here)."""
    return (request.META.get("REMOTE_ADDR") or "unknown")[:64]


def _now() -> float:
    return time.time()


def _bucket() -> int:
    return int(_now() // WINDOW)


def _key(kind: str, ip: str) -> str:
    return f"signup-rate:{kind}:{ip}:{_bucket()}"


def _count(kind: str, ip: str) -> int:
    return int(cache.get(_key(kind, ip)) or 0)


def _hit(kind: str, ip: str) -> int:
    key = _key(kind, ip)
    cache.add(key, 0, timeout=WINDOW + 60)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW + 60)
        return 1


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
