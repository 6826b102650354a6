"""The dashboard page: what a manager and a salesperson see, the friendly empty state, the poll
that answers 204 while nothing moved and the new figures once an order is approved, bad
parameters named on the page, the CSV exports, the navigation entry of every business mode, no
script from anywhere else."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal as D

import pytest
from django.utils import timezone

from crm.analytics.services import sales_fact_record
from tests.crm.orders.factories import approve_pending, line, submitted_make

pytestmark = pytest.mark.django_db
PAGE = "/analytics/"
FIGURES = "/analytics/figures/"


@pytest.fixture
def browser(tenant_a, people, web_as):
    return lambda key: web_as(tenant_a, people[key])


@pytest.fixture
def this_month(alpha, people):
    """Orders of both salespeople today, a USD one, and a payment of sales2."""
    today = timezone.localdate()
    for who, kind, amount, currency in (("sales", "order", "1234.50", "CNY"), ("sales2", "order", "8765.00", "CNY"),
                                        ("sales2", "collection", "4000.00", "CNY"), ("sales", "order", "55.00", "USD")):
        user = people[who]
        sales_fact_record(kind=kind, day=today, owner_id=user.pk, department_id=user.department_id,
                          region_id=user.region_id, currency=currency, amount=D(amount))
    return people


def version_of(html: str) -> str:
    return re.search(r'data-version="([^"]*)"', html).group(1)


def test_a_manager_sees_kpis_charts_tables_and_the_pipeline(browser, this_month):
    response = browser("exec").get(PAGE, {"period": "this_month", "by": "owner"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="kpi-order-amount">9999.50<' in html and 'data-testid="kpi-collection-amount">4000.00<' in html
    assert '<svg class="chart bars"' in html and 'data-testid="sales-table"' in html
    assert "刘洋" in html and "张伟" in html and "<caption" in html and 'scope="row"' in html
    assert 'data-testid="other-currencies"' in html and "USD" in html  # apart, not added to CNY
    assert 'data-testid="pipeline"' in html and 'data-testid="pipeline-empty"' in html
    assert "可见范围：全部" in html
    # it polls for changes, and every script is the app's own
    assert re.search(r'hx-get="/analytics/figures/\?[^"]*v=[0-9a-f]{16}"', html) and 'hx-trigger="every 10s"' in html
    assert all(src.startswith("/static/") for src in re.findall(r'<script[^>]+src="([^"]+)"', html))
    assert "cdn" not in html.lower()


def test_a_salesperson_sees_only_their_own_figures(browser, this_month):
    html = browser("sales").get(PAGE, {"period": "this_month", "by": "owner"}).content.decode()
    assert 'data-testid="kpi-order-amount">1234.50<' in html
    assert "张伟" in html and "刘洋" not in html and "8765.00" not in html and "4000.00" not in html
    assert "可见范围：本人" in html
    other = browser("sales2").get(PAGE, {"period": "this_month", "by": "region"}).content.decode()
    assert 'data-testid="kpi-order-amount">8765.00<' in other and "1234.50" not in other and "USD" not in other


def test_a_new_tenant_gets_a_friendly_empty_dashboard(tenant_b, user_in, web_as):
    response = web_as(tenant_b, user_in(tenant_b, "admin")).get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="dash-empty"' in html
    assert "这个时间段还没有可显示的数据" in html and '<svg class="chart bars"' not in html
    assert 'data-testid="kpi-order-amount">0.00<' in html
    assert 'data-testid="pipeline-empty"' in html


def test_the_poll_says_204_until_an_approval_moves_the_figures(browser, shop, people,
                                                               django_capture_on_commit_callbacks):
    client = browser("manager")
    params = {"period": "this_month"}
    html = client.get(PAGE, params).content.decode()
    version = version_of(html)
    assert 'data-testid="kpi-order-amount">0.00<' in html
    unchanged = client.get(FIGURES, {**params, "v": version})
    assert unchanged.status_code == 204 and not unchanged.content

    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "10")])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pending(order, people["secretary"])
    for callback in callbacks:
        if callback.__name__ == "bump":  # what the commit does for the dashboards
            callback()
    moved = client.get(FIGURES, {**params, "v": version})
    fragment = moved.content.decode()
    assert moved.status_code == 200 and fragment.startswith('<section id="dash-figures"')
    assert 'data-testid="kpi-order-amount">1130.00<' in fragment and version_of(fragment) != version
    assert client.get(FIGURES, {**params, "v": version_of(fragment)}).status_code == 204


def test_bad_parameters_are_named_on_the_page(browser, alpha):
    html = browser("exec").get(PAGE, {"by": "week"}).content.decode()
    assert 'data-testid="dash-errors"' in html and "by 必须是" in html
    html = browser("exec").get(PAGE, {"period": "custom", "from": "2026-02-30"}).content.decode()
    assert "from 应为日期" in html


def test_csv_exports(browser, this_month):
    client = browser("exec")
    response = client.get("/analytics/export/sales.csv", {"period": "this_month", "by": "owner"})
    body = response.content.decode("utf-8")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert body.startswith("\ufeff") and "attachment" in response["Content-Disposition"]
    rows = [r.split(",") for r in body.lstrip("\ufeff").strip().splitlines()]
    assert rows[0][:3] == ["按业务员", "订单金额", "订单笔数"] and rows[0][-1] == "币种"
    assert rows[1][:3] == ["刘洋", "8765.00", "1"] and rows[2][:3] == ["张伟", "1234.50", "1"]
    assert rows[-1][:3] == ["合计", "9999.50", "2"] and rows[1][-1] == "CNY"
    own = browser("sales").get("/analytics/export/sales.csv", {"period": "this_month", "by": "owner"})
    assert "刘洋" not in own.content.decode() and "8765.00" not in own.content.decode()
    pipeline = client.get("/analytics/export/pipeline.csv")
    assert pipeline.status_code == 200 and pipeline.content.decode().lstrip("\ufeff").startswith("阶段,")
    assert client.get("/analytics/export/nothing.csv").status_code == 404
    bad = client.get("/analytics/export/sales.csv", {"by": "week"})
    assert bad.status_code == 400 and "by" in bad.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(web, tenant_a):
    response = web.get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]
    assert web.get(FIGURES).status_code == 302
    poll = web.get(FIGURES, {"v": "x"}, HTTP_HX_REQUEST="true")  # the session ended under an open page
    assert poll.status_code == 204 and poll["HX-Redirect"].startswith("/login") and "analytics" in poll["HX-Redirect"]


def test_every_business_mode_links_the_dashboard(tenant_a, tenant_b, user_in, web_as):
    from tenants.modes import MODES

    assert all(any(n.url_name == "analytics:dashboard" for n in mode.navigation) for mode in MODES.values())
    for tenant, key in ((tenant_a, "secretary"), (tenant_a, "finance"), (tenant_a, "manager"), (tenant_b, "admin")):
        html = web_as(tenant, user_in(tenant, key)).get("/").content.decode()
        assert 'href="/analytics/"' in html and 'data-nav="reports"' in html, (tenant.slug, key)


def test_the_page_reads_few_queries(browser, this_month, django_assert_max_num_queries):
    client = browser("exec")
    client.get(PAGE, {"by": "owner"})
    with django_assert_max_num_queries(16):
        assert client.get(PAGE, {"by": "owner"}).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(FIGURES, {"by": "region", "v": "stale"}).status_code == 200


def test_english(browser, this_month):
    client = browser("exec")
    client.cookies["qiao_language"] = "en"
    html = client.get(PAGE, {"period": "this_month"}).content.decode()
    assert "Sales dashboard" in html and "Shipments" in html and datetime.date.today().strftime("%Y") in html
