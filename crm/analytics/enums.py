"""Kinds of sales facts, the dashboard's periods and breakdowns: data, so the services, the
selectors, the API and the page read the same names."""

from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_CURRENCY = "CNY"


class FactKind(models.TextChoices):
    """What a row of the daily rollup counts. A negative amount/count reverses (an approved
    order cancelled, a payment voided), on the day of the fact it reverses."""

    ORDER = "order", _("订单")  # approved orders' totals (tax included), by the day approved
    SHIPMENT = "shipment", _("发货")  # the value of the goods shipped, by the shipment's day
    COLLECTION = "collection", _("回款")  # payments received, by the day received (crm.finance)


class Period(models.TextChoices):
    THIS_MONTH = "this_month", _("本月")
    THIS_QUARTER = "this_quarter", _("本季度")
    THIS_YEAR = "this_year", _("本年")
    LAST_12_MONTHS = "last_12_months", _("最近 12 个月")
    CUSTOM = "custom", _("自定义")


class Breakdown(models.TextChoices):
    MONTH = "month", _("按月")
    REGION = "region", _("按区域")
    OWNER = "owner", _("按业务员")


DEFAULT_PERIOD = Period.THIS_YEAR
DEFAULT_BREAKDOWN = Breakdown.MONTH
MAX_RANGE_DAYS = 3660  # ten years: 120 months at most in a chart
CHART_GROUPS = 15  # regions / salespeople drawn in the chart (the table lists them all)
POLL_SECONDS = 10  # the page asks whether its figures changed this often
