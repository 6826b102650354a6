"""Brute-force protection for the console sign-in: failure counters in Redis (the cache).

Each failed password or code counts against the account (email) and the client address; at
``ACCOUNT_LIMIT`` failures of one account, or ``ADDRESS_LIMIT`` from one address, within
``WINDOW_SECONDS``, sign-in is refused until the window ends, even with the right password."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from crm.org.web import window_counter_hit

ACCOUNT_LIMIT = getattr(settings, "CONSOLE_LOGIN_ACCOUNT_LIMIT", 5)
ADDRESS_LIMIT = getattr(settings, "CONSOLE_LOGIN_ADDRESS_LIMIT", 20)
WINDOW_SECONDS = getattr(settings, "CONSOLE_LOGIN_WINDOW_SECONDS", 15 * 60)


def _keys(*, email: str, ip: str | None) -> dict[str, int]:
    keys = {f"console-login-fail:account:{(email or '').strip().lower()}": ACCOUNT_LIMIT}
    if ip:
        keys[f"console-login-fail:ip:{ip}"] = ADDRESS_LIMIT
    return keys


def login_locked(*, email: str, ip: str | None) -> bool:
    keys = _keys(email=email, ip=ip)
    counts = cache.get_many(list(keys))
    return any(int(counts.get(key) or 0) >= limit for key, limit in keys.items())


def login_failure_record(*, email: str, ip: str | None) -> bool:
    """Count one failure; True when this failure locks the account or the address."""
    locked = False
    for key, limit in _keys(email=email, ip=ip).items():
        count = window_counter_hit(key, timeout=WINDOW_SECONDS)  # the window starts at the first failure
        locked = locked or count == limit
    return locked


def login_failures_clear(*, email: str) -> None:
    """A complete sign-in (password and code) forgets the account's failures."""
    cache.delete_many([k for k in _keys(email=email, ip=None)])


def lock_minutes() -> int:
    return max(1, WINDOW_SECONDS // 60)
