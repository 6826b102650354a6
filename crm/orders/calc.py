"""Money arithmetic of orders, in Decimal: each line's net, tax and gross amounts rounded half
up to the cent; the order's totals are the sums of its lines' rounded amounts, so the stored
figures always add up (and match what the customer sees line by line)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")


def money(value) -> Decimal:
    """Rounded half up to the cent (2.675 -> 2.68, 0.005 -> 0.01)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Amounts:
    net: Decimal
    tax: Decimal
    gross: Decimal


def line_amounts(*, quantity: Decimal, unit_price: Decimal, discount_pct: Decimal, tax_rate: Decimal) -> Amounts:
    """net = quantity × unit price × (1 − discount/100), tax = net × tax rate, each rounded
    half up to the cent; gross = net + tax."""
    net = money(Decimal(quantity) * Decimal(unit_price) * (HUNDRED - Decimal(discount_pct)) / HUNDRED)
    tax = money(net * Decimal(tax_rate))
    return Amounts(net=net, tax=tax, gross=net + tax)


def totals(lines: Iterable) -> Amounts:
    """The sums of the lines' rounded amounts (objects with net_amount and tax_amount)."""
    lines = list(lines)
    net = sum((line.net_amount for line in lines), ZERO)
    tax = sum((line.tax_amount for line in lines), ZERO)
    return Amounts(net=net, tax=tax, gross=net + tax)
