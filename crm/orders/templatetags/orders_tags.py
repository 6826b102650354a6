"""Template filters of the order pages."""

from decimal import Decimal, InvalidOperation

from django import template

from crm.orders.enums import OrderStatus

register = template.Library()
_STATUS_LABELS = dict(OrderStatus.choices)


@register.filter
def status_label(value) -> str:
    """An order status's label (a dict lookup: get_status_display hashes the choices on
    every call, a quarter of a millisecond per row of a list)."""
    return str(_STATUS_LABELS.get(value, value))


@register.filter
def qty(value) -> str:
    """3.000 -> "3", 2.500 -> "2.5", 100 -> "100" (never "1E+2")."""
    try:
        return f"{Decimal(value).normalize():f}"
    except (InvalidOperation, TypeError, ValueError):
        return "" if value is None else str(value)


@register.filter
def percent(value) -> str:
    """0.1300 -> "13", 0.0600 -> "6" (a tax rate as a percentage)."""
    try:
        return f"{(Decimal(value) * 100).normalize():f}"
    except (InvalidOperation, TypeError, ValueError):
        return ""
