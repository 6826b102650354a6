"""The value of goods shipped, as the shipment facts count it (and the rebuild recomputes it).

A shipment line is worth its share of the order line's gross amount (tax included). Rounded
per shipment the shares would not add up to the line (100.00 shipped in three thirds: 33.33 ×
3 = 99.99), so each shipment takes the difference of the cumulative value:

    value = round(gross × shipped_after / quantity) - round(gross × shipped_before / quantity)

rounded half up to the cent; the shipments of a line then add up to its gross amount exactly.
``SHIPPED_VALUE_SQL`` is the same rule for the rebuild (``cum`` = the quantity shipped by this
and the earlier shipments of the line, in shipment id order; PostgreSQL's ``round`` on numeric
rounds half away from zero, which is half up for these non-negative values)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")

SHIPPED_VALUE_SQL = (  # the cheap comparisons spare the divisions of lines shipped at once
    "(CASE WHEN sl.cum = ol.quantity THEN ol.gross_amount"
    " ELSE round(ol.gross_amount * sl.cum / ol.quantity, 2) END)"
    " - (CASE WHEN sl.cum = sl.quantity THEN 0"
    " ELSE round(ol.gross_amount * (sl.cum - sl.quantity) / ol.quantity, 2) END)")


def money(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def shipped_value(*, gross_amount: Decimal, quantity: Decimal, shipped_before: Decimal,
                  shipped_now: Decimal) -> Decimal:
    """The value of ``shipped_now`` more units of an order line of ``quantity`` units worth
    ``gross_amount``, of which ``shipped_before`` had already been shipped."""
    gross, ordered = Decimal(gross_amount), Decimal(quantity)
    if ordered <= 0:
        return Decimal("0.00")
    before = Decimal(shipped_before)
    after = before + Decimal(shipped_now)
    return money(gross * after / ordered) - money(gross * before / ordered)
