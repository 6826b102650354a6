"""Small helpers the apps' web views share (the shell the staff pages live in)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def client_ip(request) -> str | None:
    """The address a request came from: REMOTE_ADDR only (behind a reverse proxy the proxy sets
    it; a forwarded header sent by the client is never trusted)."""
    return request.META.get("REMOTE_ADDR") or None


def window_counter_hit(key: str, *, timeout: int) -> int:
    """Count one more hit in a fixed window that starts at the first hit and lasts ``timeout``
    seconds (a counter in the cache, i.e. Redis); returns the count so far."""
    from django.core.cache import cache

    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def validation_messages(exc: ValidationError) -> list[str]:
    """Every message of a ValidationError, whether it names fields or not."""
    if hasattr(exc, "error_dict"):
        return [str(m) for errors in exc.message_dict.values() for m in errors]
    return [str(m) for m in exc.messages]


def flash_failure(request, exc: Exception) -> None:
    """A refused operation told on the next page: each message of a ValidationError, else
    the exception's own text (a PermissionDenied)."""
    if isinstance(exc, ValidationError):
        for message in validation_messages(exc):
            messages.error(request, message)
    else:
        messages.error(request, str(exc) or _("你不能执行这个操作。"))
