"""Template tags of the finance pages, and the finance section of the order page
(``{% order_finance order %}`` in crm/orders/templates/orders/order_detail.html)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import timezone

from crm.finance import selectors
from crm.finance.permissions import can_issue_invoice, can_record_payment
from crm.orders.enums import OrderStatus

register = template.Library()

# Orders that can have invoices: shipped, or further along.
_INVOICEABLE = (OrderStatus.SHIPPED, OrderStatus.INVOICED, OrderStatus.PAID, OrderStatus.CLOSED)


@register.filter
def money(value) -> str:
    """1234567.5 -> "1,234,567.50": amounts as finance reads them (two decimals, thousands
    grouped), whatever the language's number format."""
    try:
        return f"{Decimal(value):,.2f}"
    except (InvalidOperation, TypeError, ValueError):
        return "" if value is None else str(value)


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.inclusion_tag("finance/_order_section.html", takes_context=True)
def order_finance(context, order) -> dict:
    """The order's invoices and payments, what is invoiced, paid and still owed, and finance's
    "开具发票" (two queries; nothing for an order that has not shipped)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or order.status not in _INVOICEABLE:
        return {"show": False}
    invoicing = selectors.order_invoicing(actor=user, order=order)
    return {"show": True, "order": order, "invoicing": invoicing, "today": timezone.localdate(),
            "can_issue": can_issue_invoice(user) and order.status == OrderStatus.SHIPPED and invoicing.remaining > 0,
            "can_pay": can_record_payment(user)}
