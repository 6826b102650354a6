"""Money arithmetic of quotes, in Decimal: each line's net, tax and gross amounts rounded
half up to the cent, the quote's totals as the sums of its lines, and the amount in Chinese
upper-case numerals (大写) for printed documents."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def money(value: Decimal) -> Decimal:
    """Rounded half up to the cent (0.005 -> 0.01)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    tax: Decimal
    gross: Decimal


def line_amounts(*, quantity: Decimal, unit_price: Decimal, discount_percent: Decimal,
                 tax_rate: Decimal) -> LineAmounts:
    """net = quantity × unit price × (1 − discount/100), tax = net × tax rate, each rounded
    half up to the cent; gross = net + tax (so the stored amounts always add up)."""
    net = money(quantity * unit_price * (HUNDRED - discount_percent) / HUNDRED)
    tax = money(net * tax_rate)
    return LineAmounts(net=net, tax=tax, gross=net + tax)


def quote_totals(lines) -> LineAmounts:
    """The sums of the lines' rounded amounts (``lines``: objects with net_amount, tax_amount)."""
    net = sum((line.net_amount for line in lines), Decimal("0.00"))
    tax = sum((line.tax_amount for line in lines), Decimal("0.00"))
    return LineAmounts(net=net, tax=tax, gross=net + tax)


# -- 大写: an amount of money in Chinese upper-case numerals ---------------------------------------
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_GROUP_UNITS = ("", "万", "亿", "万亿")


def _group_upper(number: int) -> str:
    """0 < number < 10000, written with 拾佰仟 and a 零 for each run of inner zeros."""
    text, zero = "", False
    for position in range(3, -1, -1):
        digit = number // 10 ** position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text += "零"
            zero = False
        text += _DIGITS[digit] + _SMALL_UNITS[position]
    return text


def _integer_upper(number: int) -> str:
    if number == 0:
        return ""
    groups = []
    while number:
        groups.append(number % 10000)
        number //= 10000
    if len(groups) > len(_GROUP_UNITS):
        raise ValueError("amount too large")
    text, zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero = bool(text)
            continue
        if text and (zero or group < 1000):
            text += "零"
        text += _group_upper(group) + _GROUP_UNITS[index]
        zero = False
    return text


def rmb_upper(amount: Decimal) -> str:
    """The amount in the upper-case form used on Chinese invoices, quotes and cheques:
    12345.60 -> 壹万贰仟叁佰肆拾伍元陆角, 100300 -> 壹拾万零叁佰元整, 1000000.07 ->
    壹佰万元零柒分, 0 -> 零元整. Rounded half up to the cent first; negative amounts get 负."""
    value = money(Decimal(amount))
    sign = "负" if value < 0 else ""
    cents = int(abs(value) * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if cents == 0:
        return "零元整"
    text = _integer_upper(yuan)
    if text:
        text += "元"
    if jiao == 0 and fen == 0:
        return sign + text + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return sign + text
