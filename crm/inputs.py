"""Checks of user input that the apps' services share. Each returns the clean value or raises
a ValidationError naming the field, in the user's language."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

DEFAULT_CURRENCY = "CNY"
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def clean_text(value, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    """The text stripped; empty refused when ``required``; longer than ``max_length`` refused."""
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise ValidationError({field: _("%(label)s不能为空。") % {"label": label}})
    if len(text) > max_length:
        raise ValidationError({field: _("%(label)s最长 %(n)s 个字符。") % {"label": label, "n": max_length}})
    return text


def clean_currency(value, *, default: str = DEFAULT_CURRENCY) -> str:
    """A three-letter currency code (upper case); empty means ``default``."""
    code = str(value or default).strip().upper()
    if not _CURRENCY.match(code):
        raise ValidationError({"currency": _("币种应为三位字母代码，例如 CNY。")})
    return code
