"""The weighted forecast on a known dataset (factories.forecast_dataset):

    sales (北京):  A 100000.00 qualify 10%   close Jan 15   -> weighted 10000.00
                   B  33333.33 quote 40%     close Jan 31   -> weighted 13333.332
                   C  50000.00 negotiate 55% close Apr 1    -> weighted 27500.00
                   D  80000.00 won 23:30 on 28 Feb (Beijing)
                   E  20000.00 lost                         -> not counted
                   F  99999.00 USD                          -> not in a CNY forecast
                   G  70000.00 close 31 Dec of the year before -> outside the range
    sales2 (上海): H 200000.00 quote 40%     close Feb 10   -> weighted 80000.00
                   I  10000.00 won 00:30 on 1 March (Beijing; 28 Feb in UTC)
"""

import datetime
from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from crm.sales import selectors

from .factories import FORECAST_YEAR, forecast_dataset

pytestmark = pytest.mark.django_db
Y = FORECAST_YEAR


@pytest.fixture
def dataset(people, inside):
    with inside():
        return forecast_dataset(sales=people["sales"], sales2=people["sales2"])


def run(inside, actor, **params):
    with inside():
        values = selectors.forecast_params({"from": f"{Y}-01-01", "to": f"{Y}-06-30", **params})
        return selectors.forecast(actor=actor, **values)


def cell(c) -> tuple:
    return (c.open_count, c.amount, c.weighted, c.won_count, c.won_amount)


def test_by_month_and_owner(people, inside, dataset):
    result = run(inside, people["exec"])
    assert [p.key for p in result.periods] == [f"{Y}-{m:02d}" for m in range(1, 7)]
    assert result.periods[1].start == datetime.date(Y, 2, 1) and result.periods[1].end == datetime.date(Y, 2, 28)
    assert [g.label for g in result.groups] == ["刘洋", "张伟"]  # sales2 (80000 weighted) before sales (50833.33)
    sales2, sales = result.groups
    assert sales.key == str(people["sales"].pk)
    assert cell(sales.cells[f"{Y}-01"]) == (2, D("133333.33"), D("23333.33"), 0, D("0"))
    assert cell(sales.cells[f"{Y}-02"]) == (0, D("0"), D("0.00"), 1, D("80000.00"))
    assert cell(sales.cells[f"{Y}-03"]) == (0, D("0"), D("0.00"), 0, D("0"))
    assert cell(sales.cells[f"{Y}-04"]) == (1, D("50000.00"), D("27500.00"), 0, D("0"))
    assert cell(sales.total) == (3, D("183333.33"), D("50833.33"), 1, D("80000.00"))
    assert cell(sales2.cells[f"{Y}-02"]) == (1, D("200000.00"), D("80000.00"), 0, D("0"))
    assert cell(sales2.cells[f"{Y}-03"]) == (0, D("0"), D("0.00"), 1, D("10000.00"))
    totals = {k: cell(v) for k, v in result.period_totals.items()}
    assert totals[f"{Y}-01"] == (2, D("133333.33"), D("23333.33"), 0, D("0"))
    assert totals[f"{Y}-02"] == (1, D("200000.00"), D("80000.00"), 1, D("80000.00"))
    assert totals[f"{Y}-03"] == (0, D("0"), D("0.00"), 1, D("10000.00"))
    assert totals[f"{Y}-05"] == totals[f"{Y}-06"] == (0, D("0"), D("0.00"), 0, D("0"))
    # the total's weighted figure is rounded once: 130833.332 -> 130833.33
    assert cell(result.total) == (4, D("383333.33"), D("130833.33"), 2, D("90000.00"))


def test_by_quarter_and_region(people, inside, dataset):
    result = run(inside, people["exec"], period="quarter", group="region")
    assert [p.key for p in result.periods] == [f"{Y}-Q1", f"{Y}-Q2"]
    by_label = {g.label: g for g in result.groups}
    assert set(by_label) == {"北京", "上海"}
    assert cell(by_label["北京"].cells[f"{Y}-Q1"]) == (2, D("133333.33"), D("23333.33"), 1, D("80000.00"))
    assert cell(by_label["北京"].cells[f"{Y}-Q2"]) == (1, D("50000.00"), D("27500.00"), 0, D("0"))
    assert cell(by_label["上海"].cells[f"{Y}-Q1"]) == (1, D("200000.00"), D("80000.00"), 1, D("10000.00"))


def test_by_stage(people, inside, dataset):
    result = run(inside, people["exec"], group="stage")
    by_key = {g.key: g for g in result.groups}
    assert set(by_key) == {"qualify", "quote", "negotiate", "won"}
    assert by_key["quote"].label == "报价"
    assert cell(by_key["quote"].total) == (2, D("233333.33"), D("93333.33"), 0, D("0"))
    assert cell(by_key["won"].total) == (0, D("0"), D("0.00"), 2, D("90000.00"))


def test_the_forecast_follows_the_scope(people, inside, dataset):
    manager = run(inside, people["manager"])  # 华北: sales' 北京 records only
    assert [g.label for g in manager.groups] == ["张伟"]
    assert cell(manager.total) == (3, D("183333.33"), D("50833.33"), 1, D("80000.00"))
    own = run(inside, people["sales2"])
    assert cell(own.total) == (1, D("200000.00"), D("80000.00"), 1, D("10000.00"))
    assert not run(inside, people["service"]).groups  # nothing of theirs


def test_other_currencies_and_ranges(people, inside, dataset):
    usd = run(inside, people["exec"], currency="usd")
    assert cell(usd.total) == (1, D("99999.00"), D("39999.60"), 0, D("0"))
    wider = run(inside, people["exec"], **{"from": f"{Y - 1}-12-01"})
    assert wider.total.open_count == 5 and wider.periods[0].key == f"{Y - 1}-12"


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "week"}, "period"), ({"group": "team"}, "group"), ({"from": "2031-02-30"}, "from"),
    ({"from": "2031-05-01", "to": "2031-04-01"}, "to"), ({"from": "2020-01-01", "to": "2031-01-01"}, "to"),
    ({"currency": "RMB1"}, "currency"),
])
def test_bad_parameters_name_the_field(params, field):
    with pytest.raises(ValidationError) as excinfo:
        selectors.forecast_params(params)
    assert field in excinfo.value.message_dict


def test_defaults_are_four_quarters_from_this_one_by_month_and_owner(monkeypatch):
    from django.utils import timezone

    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: datetime.date(2026, 11, 27))
    params = selectors.forecast_params({})
    assert (params["period"], params["group"], params["currency"]) == ("month", "owner", "CNY")
    assert (params["date_from"], params["date_to"]) == (datetime.date(2026, 10, 1), datetime.date(2027, 9, 30))
    params = selectors.forecast_params({"from": "2031-02-15"})
    assert params["date_to"] == datetime.date(2031, 12, 31)  # four quarters from the from quarter


def test_the_forecast_queries_use_the_partial_indexes(people, inside, dataset):
    """The grouped queries are planned on opp_forecast_open / opp_forecast_won when the
    planner is told sequential scans are expensive (the tables are tiny here)."""
    from django.db import connection

    from crm.sales.models import Opportunity

    with inside():
        visible = Opportunity.objects.visible_to(people["exec"]).filter(
            currency="CNY", status="open", expected_close_date__gte=datetime.date(Y, 1, 1),
            expected_close_date__lte=datetime.date(Y, 6, 30)).values("owner_id")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            plan = visible.explain()
        assert "opp_forecast_open" in plan, plan
