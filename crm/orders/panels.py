"""The orders section of the customer's 360° page (registered in OrdersConfig.ready)."""

from __future__ import annotations

from . import selectors

PANEL_ROWS = 20


def customer_orders_panel(*, actor, customer) -> dict:
    """The customer's orders the actor may see, newest first (nothing: no panel)."""
    orders = list(selectors.order_list_visible_to(actor=actor).filter(customer_id=customer.pk)
                  .order_by("-created_at", "-id")[:PANEL_ROWS + 1])
    if not orders:
        return {}
    return {"orders": orders[:PANEL_ROWS], "more": len(orders) > PANEL_ROWS}
