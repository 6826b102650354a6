"""Participants see the activities they joined (API list and detail, calendar, my activities,
the activity page) even outside their role scope, without gaining the customer, and without
being able to change the activity; rows never repeat."""

import datetime

import pytest
from django.utils import timezone

from crm.activities import selectors, services

pytestmark = pytest.mark.django_db


@pytest.fixture
def joined(tenant_a, people, books, in_tenant):
    """sales (北京) logs a visit and a plan on his customer with sales2 (上海, outside his
    scope) and the manager (whose region covers it anyway) as participants; one more visit
    nobody joined."""
    with in_tenant(tenant_a):
        return {
            "visit": services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="visit",
                                           subject="一起去的拜访",
                                           participant_ids=[people["sales2"].pk, people["manager"].pk]),
            "plan": services.activity_plan_visit(actor=people["sales"], customer_id=books["sales"].pk,
                                                 planned_at=timezone.now() + datetime.timedelta(hours=2),
                                                 subject="一起去的计划", participant_ids=[people["sales2"].pk]),
            "alone": services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call",
                                           subject="独自的电话"),
        }


def _ids(response):
    assert response.status_code == 200, response.content
    return [a["id"] for a in response.json()["results"]]


def test_a_participant_sees_what_they_joined_and_nothing_else(tenant_a, tenant_b, people, books, joined, api_for,
                                                               user_in):
    sales2 = api_for(tenant_a, people["sales2"])
    seen = _ids(sales2.get("/api/v1/activities/"))
    assert joined["visit"].pk in seen and joined["plan"].pk in seen and joined["alone"].pk not in seen
    detail = sales2.get(f"/api/v1/activities/{joined['visit'].pk}/")
    assert detail.status_code == 200 and detail.json()["customer_name"] == books["sales"].name
    assert sales2.get(f"/api/v1/activities/{joined['alone'].pk}/").status_code == 404
    # the customer itself stays out of reach
    assert sales2.get(f"/api/v1/customers/{books['sales'].pk}/").status_code == 404
    assert books["sales"].pk not in [c["id"] for c in sales2.get("/api/v1/customers/").json()["results"]]
    # seeing is not editing
    assert sales2.patch(f"/api/v1/activities/{joined['visit'].pk}/", {"outcome": "x"},
                        format="json").status_code == 403
    assert sales2.post(f"/api/v1/activities/{joined['plan'].pk}/cancel", {"reason": "x"},
                       format="json").status_code == 403
    assert sales2.post(f"/api/v1/activities/{joined['plan'].pk}/complete", {}, format="json").status_code == 403
    # another tenant sees none of it
    beta = api_for(tenant_b, user_in(tenant_b, "exec"))
    assert joined["visit"].pk not in _ids(beta.get("/api/v1/activities/"))
    assert beta.get(f"/api/v1/activities/{joined['visit'].pk}/").status_code == 404


def test_leaving_the_participants_takes_it_away(tenant_a, people, joined, api_for, in_tenant):
    with in_tenant(tenant_a):
        services.activity_update(actor=people["sales"], activity_id=joined["visit"].pk,
                                 participant_ids=[people["manager"].pk])
    sales2 = api_for(tenant_a, people["sales2"])
    assert joined["visit"].pk not in _ids(sales2.get("/api/v1/activities/"))
    assert sales2.get(f"/api/v1/activities/{joined['visit'].pk}/").status_code == 404


def test_rows_never_repeat(tenant_a, people, joined, api_for, in_tenant):
    """The manager is both a participant and in scope; several people joined: one row each."""
    for who in ("manager", "sales2", "exec", "sales"):
        ids = _ids(api_for(tenant_a, people[who]).get("/api/v1/activities/?limit=200"))
        assert len(ids) == len(set(ids)), who
    with in_tenant(tenant_a):
        qs = selectors.activity_list_visible_to(actor=people["sales2"])
        sql = str(qs.query)
        assert "EXISTS" in sql and "JOIN \"activities_activity_participants\"" not in sql
        assert qs.count() == 2


def test_calendar_my_list_and_the_activity_page(tenant_a, people, books, joined, web_as):
    web = web_as(tenant_a, people["sales2"])
    local = timezone.localtime(joined["visit"].occurred_at)
    calendar = web.get(f"/calendar/?month={local:%Y-%m}").content.decode()
    assert f'href="/activities/{joined["visit"].pk}/"' in calendar
    mine = web.get("/activities/")
    page = mine.content.decode()
    assert "一起去的拜访" in page and "独自的电话" not in page
    assert f'href="/customers/{books["sales"].pk}/"' not in page  # the name only
    detail = web.get(f"/activities/{joined['plan'].pk}/")
    page = detail.content.decode()
    assert detail.status_code == 200 and books["sales"].name in page and "刘洋" in page
    assert f'href="/customers/{books["sales"].pk}/"' not in page
    assert 'data-testid="visit-cancel-form"' not in page  # not theirs to cancel
    assert web.get(f"/customers/{books['sales'].pk}/").status_code == 404
    assert web.get(f"/activities/{joined['alone'].pk}/").status_code == 404
    # the owner gets the link and the actions
    owner = web_as(tenant_a, people["sales"]).get(f"/activities/{joined['plan'].pk}/").content.decode()
    assert f'href="/customers/{books["sales"].pk}/"' in owner and 'data-testid="visit-cancel-form"' in owner


def test_participated_list_query_count_is_flat(tenant_a, people, api_for, in_tenant, make_customer,
                                               django_assert_max_num_queries):
    with in_tenant(tenant_a):
        for i in range(25):
            customer = make_customer(tenant_a, people["sales"], f"参与计数客户{i}有限公司")
            services.activity_log(actor=people["sales"], customer_id=customer.pk, kind="meeting",
                                  participant_ids=[people["sales2"].pk, people["manager"].pk])
    api = api_for(tenant_a, people["sales2"])
    with django_assert_max_num_queries(12):
        assert len(api.get("/api/v1/activities/").json()["results"]) == 25
