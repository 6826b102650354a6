"""Small helpers the apps' web views share (the shell the staff pages live in)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


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
