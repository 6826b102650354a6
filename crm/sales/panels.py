"""The sales sections of the customer's 360° page (registered in SalesConfig.ready)."""

from __future__ import annotations

from . import selectors


def customer_deals_panel(*, actor, customer) -> dict:
    """The customer's opportunities and quotes the actor may see (nothing: no panel)."""
    from .views import _label_rows, _stage_labels

    opportunities = selectors.opportunities_for_customer(actor=actor, customer_id=customer.pk)
    quotes = selectors.quotes_for_customer(actor=actor, customer_id=customer.pk)
    if not opportunities and not quotes:
        return {}
    _label_rows(opportunities, _stage_labels())
    return {"opportunities": opportunities[:20], "quotes": quotes[:20],
            "more_opportunities": len(opportunities) > 20, "more_quotes": len(quotes) > 20}
