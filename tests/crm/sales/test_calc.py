"""Money arithmetic: per-line rounding half up, totals as sums of rounded lines, 大写."""

from decimal import Decimal as D

import pytest

from crm.sales.calc import line_amounts, money, quote_totals, rmb_upper


@pytest.mark.parametrize(("value", "expected"), [
    ("0.005", "0.01"), ("0.004", "0.00"), ("1.115", "1.12"), ("2.675", "2.68"), ("-1.005", "-1.01"),
])
def test_money_rounds_half_up(value, expected):
    assert money(D(value)) == D(expected)


def test_line_amounts_round_each_figure_half_up():
    # 3 × 33.33 = 99.99, -10% = 89.991 -> 89.99; tax 13% = 11.6987 -> 11.70
    line = line_amounts(quantity=D("3"), unit_price=D("33.33"), discount_percent=D("10"), tax_rate=D("0.13"))
    assert (line.net, line.tax, line.gross) == (D("89.99"), D("11.70"), D("101.69"))
    # a half cent rounds up: 0.5 × 0.01 = 0.005 -> 0.01; its tax 0.0013 -> 0.00
    line = line_amounts(quantity=D("0.5"), unit_price=D("0.01"), discount_percent=D("0"), tax_rate=D("0.13"))
    assert (line.net, line.tax, line.gross) == (D("0.01"), D("0.00"), D("0.01"))
    # 1.005 kg at 10.00 with 12.5% off: 8.79375 -> 8.79; tax 6% 0.5274 -> 0.53
    line = line_amounts(quantity=D("1.005"), unit_price=D("10.00"), discount_percent=D("12.5"), tax_rate=D("0.06"))
    assert (line.net, line.tax, line.gross) == (D("8.79"), D("0.53"), D("9.32"))


def test_full_discount_and_zero_tax():
    line = line_amounts(quantity=D("2"), unit_price=D("50"), discount_percent=D("100"), tax_rate=D("0.13"))
    assert (line.net, line.tax, line.gross) == (D("0.00"), D("0.00"), D("0.00"))
    line = line_amounts(quantity=D("2"), unit_price=D("50"), discount_percent=D("0"), tax_rate=D("0"))
    assert line.gross == D("100.00")


def test_quote_totals_are_sums_of_rounded_lines():
    class Row:
        def __init__(self, net, tax):
            self.net_amount, self.tax_amount = D(net), D(tax)

    # three lines of 0.005 each would be 0.015 -> 0.02 if summed first; the lines round first
    totals = quote_totals([Row("0.01", "0.00")] * 3)
    assert (totals.net, totals.tax, totals.gross) == (D("0.03"), D("0.00"), D("0.03"))
    assert quote_totals([]).gross == D("0.00")


# The expected forms were cross-checked against cn2an 0.5.24 (an2cn(..., "rmb")), which agrees
# everywhere except where a whole 万 group is zero between 亿 and the rest (673800003819.63):
# there the 零 is required and cn2an leaves it out.
@pytest.mark.parametrize(("amount", "words"), [
    ("0", "零元整"),
    ("0.05", "伍分"),
    ("0.5", "伍角"),
    ("1", "壹元整"),
    ("10", "壹拾元整"),
    ("10.5", "壹拾元伍角"),
    ("20", "贰拾元整"),
    ("110", "壹佰壹拾元整"),
    ("1010", "壹仟零壹拾元整"),
    ("1005.10", "壹仟零伍元壹角"),
    ("10001", "壹万零壹元整"),
    ("10000.01", "壹万元零壹分"),
    ("100000", "壹拾万元整"),
    ("100300", "壹拾万零叁佰元整"),
    ("1000000.07", "壹佰万元零柒分"),
    ("1100000", "壹佰壹拾万元整"),
    ("40000000.4", "肆仟万元肆角"),
    ("100000000", "壹亿元整"),
    ("100000001", "壹亿零壹元整"),
    ("101000000.50", "壹亿零壹佰万元伍角"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
    ("673800003819.63", "陆仟柒佰叁拾捌亿零叁仟捌佰壹拾玖元陆角叁分"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
    ("12345.6", "壹万贰仟叁佰肆拾伍元陆角"),
    ("-3.5", "负叁元伍角"),
    ("0.005", "壹分"),
])
def test_rmb_upper(amount, words):
    assert rmb_upper(D(amount)) == words
