"""Checks of user input that the apps' services share. Each returns the clean value or raises
a ValidationError naming the field, in the user's language."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_date
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


def parse_decimal(value, *, label: str, places: int, maximum: Decimal, positive: bool = False) -> Decimal:
    """A Decimal with at most ``places`` decimals, > 0 (``positive``) or >= 0, at most
    ``maximum`` (thousands separators allowed). Raises ValueError with the message, for a
    caller that names the field or the line itself (see clean_decimal)."""
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError(_("请填写%(label)s。") % {"label": label})
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(_("%(label)s必须是数字。") % {"label": label}) from None
    if not number.is_finite():
        raise ValueError(_("%(label)s必须是数字。") % {"label": label})
    if positive and number <= 0:
        raise ValueError(_("%(label)s必须大于 0。") % {"label": label})
    if number < 0:
        raise ValueError(_("%(label)s不能为负数。") % {"label": label})
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise ValueError(_("%(label)s最多保留 %(places)s 位小数。") % {"label": label, "places": places})
    if number > maximum:
        raise ValueError(_("%(label)s不能大于 %(max)s。") % {"label": label, "max": maximum})
    return number.quantize(step)


def clean_decimal(value, *, field: str, label: str, places: int, maximum: Decimal, positive: bool = False,
                  prefix: str = "") -> Decimal:
    """parse_decimal, its message under ``field`` (after ``prefix``, e.g. "第 2 行：")."""
    try:
        return parse_decimal(value, label=label, places=places, maximum=maximum, positive=positive)
    except ValueError as exc:
        raise ValidationError({field: prefix + str(exc)}) from None


# -- list filters (?name=value) -------------------------------------------------------------
def param_int(params, name: str) -> int | None:
    """An id filter of a list: empty is None; anything but digits a 400 naming ``name``."""
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValidationError({name: _("%(name)s 必须是整数编号。") % {"name": name}})
    return int(raw)


def param_date(params, name: str) -> datetime.date | None:
    """A date filter of a list (YYYY-MM-DD): empty is None; anything else a 400 naming ``name``."""
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        raise ValidationError({name: _("%(name)s 应为日期，格式 YYYY-MM-DD。") % {"name": name}})
    return day
