"""The dashboard API: the series in the caller's scope, 400 naming a bad parameter, the ETag /
If-None-Match answer while nothing changed (and a new one once an order is approved), the
pipeline, tokens of another tenant, and flat query counts."""

from __future__ import annotations

import datetime
from decimal import Decimal as D

import pytest

from crm.analytics.services import sales_fact_record
from tests.crm.orders.factories import approve_pending, line, submitted_make

pytestmark = pytest.mark.django_db
SALES = "/api/v1/dashboard/sales"
PIPELINE = "/api/v1/dashboard/pipeline"


@pytest.fixture
def api(tenant_a, people, api_for):
    return lambda key: api_for(tenant_a, people[key])


@pytest.fixture
def facts(alpha, people):
    for who, amount, currency in (("sales", "1000.00", "CNY"), ("sales2", "2500.00", "CNY"), ("sales", "70.00", "EUR")):
        user = people[who]
        sales_fact_record(kind="order", day=datetime.date(2025, 3, 8), owner_id=user.pk,
                          department_id=user.department_id, region_id=user.region_id, currency=currency,
                          amount=D(amount))
    return people


Q = {"from": "2025-03-01", "to": "2025-03-31"}


def test_the_series_by_owner_for_a_manager_and_a_salesperson(api, facts):
    response = api("exec").get(SALES, {**Q, "by": "owner"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["period"], data["from"], data["to"], data["by"], data["currency"]) == (
        "custom", "2025-03-01", "2025-03-31", "owner", "CNY")
    assert [(row["label"], row["order"]) for row in data["series"]] == [
        ("刘洋", {"amount": "2500.00", "count": 1}), ("张伟", {"amount": "1000.00", "count": 1})]
    assert data["totals"]["order"] == {"amount": "3500.00", "count": 2}
    assert data["kpis"][0] == {"kind": "order", "label": "订单金额", "amount": "3500.00", "count": 2,
                               "previous_amount": "0.00", "previous_count": 0, "change_pct": None}
    assert data["previous"] == {"from": "2025-02-01", "to": "2025-02-28"}
    assert data["other_currencies"] == [{"currency": "EUR", "order": {"amount": "70.00", "count": 1},
                                         "shipment": {"amount": "0.00", "count": 0},
                                         "collection": {"amount": "0.00", "count": 0}}]
    own = api("sales").get(SALES, {**Q, "by": "owner"}).json()
    assert [row["label"] for row in own["series"]] == ["张伟"] and own["totals"]["order"]["amount"] == "1000.00"
    month = api("sales2").get(SALES, Q).json()
    assert [(row["key"], row["order"]["amount"]) for row in month["series"]] == [("2025-03", "2500.00")]
    assert month["other_currencies"] == []  # sales' EUR order is not theirs


@pytest.mark.parametrize(("params", "field"), [
    ({"by": "day"}, "by"), ({"period": "forever"}, "period"), ({"from": "2030-02-30"}, "from"),
    ({"from": "2030-03-01", "to": "2030-02-01"}, "to"), ({"currency": "€"}, "currency"),
])
def test_bad_parameters_are_400_naming_them(api, alpha, params, field):
    response = api("exec").get(SALES, params)
    assert response.status_code == 400 and list(response.json()) == [field], response.content


def test_not_modified_until_an_order_is_approved(api, shop, people, django_capture_on_commit_callbacks):
    client = api("manager")
    first = client.get(SALES, {"period": "this_month"})
    etag = first["ETag"]
    assert first.status_code == 200 and etag.startswith('W/"') and first.json()["version"]
    again = client.get(SALES, {"period": "this_month"}, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and not again.content
    other_query = client.get(SALES, {"period": "this_year"}, HTTP_IF_NONE_MATCH=etag)
    assert other_query.status_code == 200  # another question, another answer
    assert api("sales").get(SALES, {"period": "this_month"}, HTTP_IF_NONE_MATCH=etag).status_code == 200

    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "3")])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approve_pending(order, people["secretary"])
    for callback in callbacks:
        if callback.__name__ == "bump":
            callback()
    moved = client.get(SALES, {"period": "this_month"}, HTTP_IF_NONE_MATCH=etag)
    assert moved.status_code == 200 and moved["ETag"] != etag
    assert moved.json()["totals"]["order"] == {"amount": str(order.total), "count": 1}


def test_the_pipeline(api, alpha, people):
    from tests.crm.sales.factories import forecast_dataset

    forecast_dataset(sales=people["sales"], sales2=people["sales2"])
    data = api("exec").get(PIPELINE).json()
    assert data["pipeline"] == "standard" and data["currency"] == "CNY" and data["pipelines"] == ["standard"]
    assert [(s["key"], s["label"], s["probability"], s["count"]) for s in data["stages"]] == [
        ("qualify", "需求确认", 10, 1), ("quote", "报价", 40, 3), ("negotiate", "谈判", 70, 1)]
    assert data["total"] == {"count": 5, "amount": "453333.33", "weighted": "158833.33"}
    own = api("sales2").get(PIPELINE).json()
    assert own["total"] == {"count": 1, "amount": "200000.00", "weighted": "80000.00"}
    bad = api("exec").get(PIPELINE, {"pipeline": "nope"})
    assert bad.status_code == 400 and "pipeline" in bad.json()
    assert api("exec").get(PIPELINE, {"currency": "12"}).status_code == 400


def test_english_labels(api, facts):
    data = api("exec").get(SALES, {**Q, "by": "region"}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert data["kpis"][1]["label"] == "Shipments"


def test_other_tenants_and_anonymous_callers(api_for, tenant_a, tenant_b, people, facts, user_in, in_tenant):
    assert api_for(tenant_a).get(SALES).status_code in (401, 403)
    token_of_a = api_for(tenant_a, people["exec"])
    beta = api_for(tenant_b)
    beta.credentials(HTTP_AUTHORIZATION=token_of_a._credentials["HTTP_AUTHORIZATION"])
    assert beta.get(SALES, Q).status_code == 401  # a token of alpha means nothing in beta
    admin_b = api_for(tenant_b, user_in(tenant_b, "admin")).get(SALES, Q).json()
    assert admin_b["totals"]["order"] == {"amount": "0.00", "count": 0} and admin_b["other_currencies"] == []


def test_query_counts_are_flat(api, facts, people, django_assert_max_num_queries):
    client = api("exec")
    client.get(SALES, {**Q, "by": "owner"})  # warm: content types, pipelines
    with django_assert_max_num_queries(10):
        assert client.get(SALES, {**Q, "by": "owner"}).status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get(SALES, {"from": "2025-02-15", "to": "2025-04-10", "by": "region"}).status_code == 200
    with django_assert_max_num_queries(8):
        assert client.get(PIPELINE).status_code == 200
    seller = api("sales")
    with django_assert_max_num_queries(10):
        assert seller.get(SALES, {**Q, "by": "owner"}).status_code == 200


def test_the_answer_has_the_documented_shape(api, facts):
    from crm.analytics.api.serializers import DashboardPipelineSerializer, DashboardSalesSerializer

    for params in ({**Q, "by": "owner"}, {"period": "this_month"}):
        data = api("exec").get(SALES, params).json()
        checked = DashboardSalesSerializer(data=data)
        assert checked.is_valid(), checked.errors
        assert set(data) == set(DashboardSalesSerializer().fields)
    pipeline = DashboardPipelineSerializer(data=api("exec").get(PIPELINE).json())
    assert pipeline.is_valid(), pipeline.errors
