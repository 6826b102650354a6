"""The receivables section of the customer's 360° page (registered in FinanceConfig.ready)."""

from __future__ import annotations

from . import selectors


def customer_receivables_panel(*, actor, customer) -> dict:
    """What the customer still owes on the invoices the actor may see, how much of it is
    overdue, the unpaid invoices (oldest due first) and the latest payments (nothing: no
    panel)."""
    data = selectors.customer_receivables(actor=actor, customer_id=customer.pk)
    if not data["sums"] and not data["payments"]:
        return {}
    return data
