"""The dashboard's figures on a known set of facts in 2030 (recorded through the service as the
order and finance services record them), read by each role's scope:

    sales (北京, 北京销售组):  order 15 Jan 1000.00, order 31 Jan 500.00, shipment 10 Feb 800.00,
                               collection 5 Mar 300.00, order 20 Jan USD 99.00
    sales2 (上海, 上海销售组): order 10 Jan 2000.00, order 28 Feb 700.00, collection 1 Feb 1000.00
    2029:                      order 20 Nov 2029 (sales) 400.00 -- the previous quarter

the period parameters and their checks, period boundaries, the previous period, whole months
from the monthly rollup and the edge days from the daily one, currencies never added together,
the empty dashboard, and the open pipeline by stage."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from crm.analytics import selectors
from crm.analytics.models import DailySalesFact
from crm.analytics.services import sales_fact_record

pytestmark = pytest.mark.django_db
d = datetime.date


@pytest.fixture
def facts(alpha, people):
    sales, sales2 = people["sales"], people["sales2"]

    def put(kind, day, who, amount, currency="CNY"):
        sales_fact_record(kind=kind, day=day, owner_id=who.pk, department_id=who.department_id,
                          region_id=who.region_id, currency=currency, amount=D(amount))

    put("order", d(2030, 1, 15), sales, "1000.00")
    put("order", d(2030, 1, 31), sales, "500.00")
    put("shipment", d(2030, 2, 10), sales, "800.00")
    put("collection", d(2030, 3, 5), sales, "300.00")
    put("order", d(2030, 1, 20), sales, "99.00", currency="USD")
    put("order", d(2030, 1, 10), sales2, "2000.00")
    put("order", d(2030, 2, 28), sales2, "700.00")
    put("collection", d(2030, 2, 1), sales2, "1000.00")
    put("order", d(2029, 11, 20), sales, "400.00")
    return people


TODAY = d(2030, 6, 15)


def run(actor, today=TODAY, **params):
    query = selectors.dashboard_params(params, today=today)
    return selectors.sales_dashboard(actor=actor, query=query, today=today)


def figures(figs) -> tuple:
    return tuple((f.amount, f.count) for f in (figs["order"], figs["shipment"], figs["collection"]))


Q1 = {"from": "2030-01-01", "to": "2030-03-31"}


# -- what each scope sees --------------------------------------------------------------------------------
def test_the_executive_sees_the_company_by_month(facts):
    result = run(facts["exec"], **Q1)
    assert [r.key for r in result.rows] == ["2030-01", "2030-02", "2030-03"]
    jan, feb, mar = (figures(r.figures) for r in result.rows)
    assert jan == ((D("3500.00"), 3), (D("0.00"), 0), (D("0.00"), 0))
    assert feb == ((D("700.00"), 1), (D("800.00"), 1), (D("1000.00"), 1))
    assert mar == ((D("0.00"), 0), (D("0.00"), 0), (D("300.00"), 1))
    assert figures(result.totals) == ((D("4200.00"), 4), (D("800.00"), 1), (D("1300.00"), 2))
    # the previous quarter: Oct-Dec 2029
    assert (result.previous_from, result.previous_to) == (d(2029, 10, 1), d(2029, 12, 31))
    order = result.kpis[0]
    assert (order.kind, order.previous.amount, order.change_pct) == ("order", D("400.00"), D("950.0"))
    assert result.kpis[1].change_pct is None  # nothing shipped before: no percentage
    # USD is never added to CNY: it is listed apart
    assert [(c, figures(f)[0]) for c, f in result.other_currencies] == [("USD", (D("99.00"), 1))]
    assert result.currencies == ["CNY", "USD"] and not result.empty


def test_by_salesperson_and_by_region(facts):
    by_owner = run(facts["exec"], by="owner", **Q1)
    assert [(r.label, r.key) for r in by_owner.rows] == [("刘洋", str(facts["sales2"].pk)),
                                                        ("张伟", str(facts["sales"].pk))]
    assert figures(by_owner.rows[0].figures)[0] == (D("2700.00"), 2)
    by_region = run(facts["exec"], by="region", **Q1)
    assert [r.label for r in by_region.rows] == ["上海", "北京"]
    assert figures(by_region.rows[1].figures) == ((D("1500.00"), 2), (D("800.00"), 1), (D("300.00"), 1))


def test_a_salesperson_sees_only_their_own_figures(facts):
    own = run(facts["sales"], by="owner", **Q1)
    assert [r.label for r in own.rows] == ["张伟"]
    assert figures(own.totals) == ((D("1500.00"), 2), (D("800.00"), 1), (D("300.00"), 1))
    other = run(facts["sales2"], by="region", **Q1)
    assert [r.label for r in other.rows] == ["上海"] and other.other_currencies == []
    assert figures(other.totals)[0] == (D("2700.00"), 2)


def test_managers_see_their_subtree(facts):
    north = run(facts["manager"], by="owner", **Q1)  # regional manager of 华北: 北京 is below it, 上海 is not
    assert [r.label for r in north.rows] == ["张伟"]
    service = run(facts["service"], **Q1)  # department scope 客服部: none of these
    assert service.empty and all(f.is_zero for f in service.totals.values())
    assert all(figures(r.figures) == ((D("0.00"), 0),) * 3 for r in service.rows)


def test_another_tenant_sees_none_of_it(facts, tenant_b, in_tenant, user_in):
    admin_b = user_in(tenant_b, "admin")
    with in_tenant(tenant_b):
        result = run(admin_b, **Q1)
    assert result.empty and result.other_currencies == []


# -- periods ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "end"), [
    ("2030-01-15", "2030-02-27"),  # two partial months: days only
    ("2030-01-10", "2030-03-05"),  # a whole month between two partial ones
    ("2030-01-31", "2030-01-31"),  # one day
    ("2029-11-01", "2030-02-28"),  # whole months only
    ("2030-02-01", "2030-03-04"),  # a whole month and the edge of the next
])
def test_whole_months_and_edge_days_add_up_to_the_days(facts, start, end):
    result = run(facts["exec"], **{"from": start, "to": end})
    for kind in ("order", "shipment", "collection"):
        expected = DailySalesFact.objects.filter(kind=kind, currency="CNY", day__gte=start, day__lte=end).aggregate(
            a=Sum("amount"), n=Sum("count"))
        assert (result.totals[kind].amount, result.totals[kind].count) == (expected["a"] or D("0.00"),
                                                                          expected["n"] or 0), kind


@pytest.mark.parametrize(("period", "today", "start", "end"), [
    ("this_month", d(2030, 2, 14), d(2030, 2, 1), d(2030, 2, 28)),
    ("this_month", d(2028, 2, 29), d(2028, 2, 1), d(2028, 2, 29)),
    ("this_quarter", d(2030, 5, 31), d(2030, 4, 1), d(2030, 6, 30)),
    ("this_quarter", d(2030, 12, 31), d(2030, 10, 1), d(2030, 12, 31)),
    ("this_year", d(2030, 6, 15), d(2030, 1, 1), d(2030, 12, 31)),
    ("last_12_months", d(2030, 3, 10), d(2029, 4, 1), d(2030, 3, 31)),
    ("last_12_months", d(2030, 12, 31), d(2030, 1, 1), d(2030, 12, 31)),
])
def test_named_periods(alpha, period, today, start, end):
    query = selectors.dashboard_params({"period": period}, today=today)
    assert (query.period, query.date_from, query.date_to) == (period, start, end)


@pytest.mark.parametrize(("start", "end", "today", "previous"), [
    # this month to date against last month to the same day (31 March: 28 February)
    (d(2030, 3, 1), d(2030, 3, 31), d(2030, 3, 31), (d(2030, 2, 1), d(2030, 2, 28), d(2030, 3, 31))),
    (d(2030, 3, 1), d(2030, 3, 31), d(2030, 3, 10), (d(2030, 2, 1), d(2030, 2, 10), d(2030, 3, 10))),
    # a year to date against last year to the same day
    (d(2030, 1, 1), d(2030, 12, 31), d(2030, 6, 15), (d(2029, 1, 1), d(2029, 6, 15), d(2030, 6, 15))),
    # a past quarter against the quarter before, whole
    (d(2030, 1, 1), d(2030, 3, 31), d(2030, 6, 15), (d(2029, 10, 1), d(2029, 12, 31), d(2030, 3, 31))),
    # ten days against the ten days before
    (d(2030, 1, 11), d(2030, 1, 20), d(2030, 6, 15), (d(2030, 1, 1), d(2030, 1, 10), d(2030, 1, 20))),
    # a range still to come compares its first day
    (d(2031, 1, 1), d(2031, 1, 31), d(2030, 6, 15), (d(2030, 12, 1), d(2030, 12, 1), d(2031, 1, 1))),
])
def test_the_previous_period(start, end, today, previous):
    assert selectors.previous_range(start, end, today=today) == previous


def test_a_late_evening_fact_counts_in_its_month(alpha, people):
    """Days are the tenant's (Asia/Shanghai): an aware time at 23:30 on 31 January there is
    31 January, however UTC sees it."""
    from zoneinfo import ZoneInfo

    late = datetime.datetime(2030, 1, 31, 23, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    sales_fact_record(kind="order", day=late, owner_id=people["sales"].pk, department_id=None, region_id=None,
                      currency="CNY", amount=D("10.00"))
    result = run(people["exec"], **Q1)
    assert [figures(r.figures)[0] for r in result.rows] == [(D("10.00"), 1), (D("0.00"), 0), (D("0.00"), 0)]


@pytest.mark.parametrize(("params", "field"), [
    ({"by": "week"}, "by"),
    ({"period": "decade"}, "period"),
    ({"from": "2030-13-01"}, "from"),
    ({"from": "2030-02-01", "to": "yesterday"}, "to"),
    ({"from": "2030-02-01", "to": "2030-01-31"}, "to"),
    ({"from": "2000-01-01", "to": "2030-01-31"}, "to"),
    ({"period": "custom"}, "from"),
    ({"currency": "RMB1"}, "currency"),
])
def test_bad_parameters_name_themselves(params, field):
    with pytest.raises(ValidationError) as refused:
        selectors.dashboard_params(params, today=d(2030, 6, 15))
    assert list(refused.value.message_dict) == [field]


def test_defaults_and_custom_rules(alpha):
    query = selectors.dashboard_params({}, today=d(2030, 6, 15))
    assert (query.period, query.by, query.currency) == ("this_year", "month", "CNY")
    custom = selectors.dashboard_params({"from": "2030-06-01", "currency": "usd"}, today=d(2030, 6, 15))
    assert (custom.period, custom.date_to, custom.currency) == ("custom", d(2030, 6, 15), "USD")
    ignored = selectors.dashboard_params({"period": "this_month", "from": "2020-01-01"}, today=d(2030, 6, 15))
    assert (ignored.date_from, ignored.date_to) == (d(2030, 6, 1), d(2030, 6, 30))


# -- empty and currencies ---------------------------------------------------------------------------------
def test_a_tenant_without_facts_gets_an_empty_dashboard_not_an_error(alpha, people):
    result = run(people["exec"], period="this_year")
    assert result.empty and len(result.rows) == 12 and result.currencies == ["CNY"]
    assert all(k.current.amount == 0 and k.change_pct is None for k in result.kpis)
    assert run(people["exec"], by="owner").rows == []


def test_another_currency_has_its_own_figures(facts):
    usd = run(facts["exec"], currency="USD", **Q1)
    assert figures(usd.totals)[0] == (D("99.00"), 1)
    assert [c for c, _f in usd.other_currencies] == ["CNY"] and usd.currencies == ["CNY", "USD"]


# -- the pipeline ------------------------------------------------------------------------------------------
def test_the_open_pipeline_by_stage_in_scope(alpha, people):
    from tests.crm.sales.factories import forecast_dataset

    forecast_dataset(sales=people["sales"], sales2=people["sales2"])

    def stages(actor, **params):
        summary = selectors.pipeline_summary(actor=actor, **params)
        return [(c.stage.key, c.count, c.amount, c.weighted) for c in summary.stages], summary

    everyone, summary = stages(people["exec"])
    assert everyone == [("qualify", 1, D("100000.00"), D("10000.00")),
                        ("quote", 3, D("303333.33"), D("121333.33")),
                        ("negotiate", 1, D("50000.00"), D("27500.00"))]
    assert (summary.count, summary.amount, summary.weighted) == (5, D("453333.33"), D("158833.33"))
    own, _s = stages(people["sales2"])
    assert own == [("qualify", 0, D("0.00"), D("0.00")), ("quote", 1, D("200000.00"), D("80000.00")),
                   ("negotiate", 0, D("0.00"), D("0.00"))]
    usd, _s = stages(people["exec"], currency="USD")
    assert [row[:3] for row in usd if row[1]] == [("quote", 1, D("99999.00"))]
    with pytest.raises(ValidationError) as refused:
        selectors.pipeline_params({"pipeline": "nope"})
    assert "pipeline" in refused.value.message_dict
