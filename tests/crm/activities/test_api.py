"""/api/v1/activities/: scopes (own, region subtree, all, another tenant), 404 outside the
scope, filters, cursor pagination, writes, query counts."""

import datetime

import pytest
from django.utils import timezone

from crm.activities import services
from crm.activities.models import Activity

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(tenant_a, people, books, in_tenant):
    with in_tenant(tenant_a):
        return {
            "sales": services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="visit",
                                           subject="张伟的拜访"),
            "sales2": services.activity_log(actor=people["sales2"], customer_id=books["sales2"].pk, kind="call",
                                            subject="刘洋的电话"),
        }


def _subjects(response):
    assert response.status_code == 200, response.content
    return {a["subject"] for a in response.json()["results"]}


def test_salesperson_sees_own_manager_the_subtree_executive_all(tenant_a, people, logged, api_for):
    assert _subjects(api_for(tenant_a, people["sales"]).get("/api/v1/activities/")) == {"张伟的拜访"}
    assert _subjects(api_for(tenant_a, people["sales2"]).get("/api/v1/activities/")) == {"刘洋的电话"}
    manager = _subjects(api_for(tenant_a, people["manager"]).get("/api/v1/activities/"))
    assert "张伟的拜访" in manager and "刘洋的电话" not in manager  # 华北 covers 北京, not 上海
    assert {"张伟的拜访", "刘洋的电话"} <= _subjects(api_for(tenant_a, people["exec"]).get("/api/v1/activities/"))


def test_whoever_sees_the_customer_sees_its_activities(tenant_a, people, books, logged, api_for, in_tenant):
    with in_tenant(tenant_a):
        services.activity_log(actor=people["exec"], customer_id=books["sales"].pk, kind="meeting",
                              subject="高管会面")
    seen = _subjects(api_for(tenant_a, people["sales"]).get(f"/api/v1/activities/?customer={books['sales'].pk}"))
    assert seen == {"张伟的拜访", "高管会面"}
    # ...but cannot change the executive's record
    exec_row = next(a for a in api_for(tenant_a, people["sales"]).get("/api/v1/activities/").json()["results"]
                    if a["subject"] == "高管会面")
    response = api_for(tenant_a, people["sales"]).patch(f"/api/v1/activities/{exec_row['id']}/",
                                                        {"subject": "改掉"}, format="json")
    assert response.status_code == 403


def test_out_of_scope_ids_are_404_and_another_tenant_sees_nothing(tenant_a, tenant_b, people, books, logged,
                                                                  api_for, user_in):
    api = api_for(tenant_a, people["sales"])
    other = logged["sales2"].pk
    assert api.get(f"/api/v1/activities/{other}/").status_code == 404
    assert api.patch(f"/api/v1/activities/{other}/", {"subject": "x"}, format="json").status_code == 404
    assert api.post(f"/api/v1/activities/{other}/complete", {}, format="json").status_code == 404
    created = api.post("/api/v1/activities/", {"customer": books["sales2"].pk, "kind": "call"}, format="json")
    assert created.status_code == 404
    assert api.get(f"/api/v1/activities/{logged['sales'].pk}/").status_code == 200
    beta = api_for(tenant_b, user_in(tenant_b, "exec"))
    assert beta.get("/api/v1/activities/").json()["results"] == []
    assert beta.get(f"/api/v1/activities/{logged['sales'].pk}/").status_code == 404


def test_create_update_plan_and_complete_through_the_api(tenant_a, people, books, api_for, in_tenant):
    api = api_for(tenant_a, people["sales"])
    next_at = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    response = api.post("/api/v1/activities/", {
        "customer": books["sales"].pk, "kind": "visit", "subject": "上门演示", "duration_minutes": 90,
        "participants": [people["manager"].pk], "outcome": "满意", "next_step": "寄样品",
        "next_step_at": next_at}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["follow_up_task"] and body["participants"] == [{"id": people["manager"].pk, "name": "李华"}]
    bad = api.post("/api/v1/activities/", {"customer": books["sales"].pk, "kind": "lunch"}, format="json")
    assert bad.status_code == 400 and "kind" in bad.json()
    detail = f"/api/v1/activities/{body['id']}/"
    assert api.patch(detail, {"outcome": "很满意", "version": 1}, format="json").json()["version"] == 2
    stale = api.patch(detail, {"outcome": "旧的", "version": 1}, format="json")
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"
    manager = api_for(tenant_a, people["manager"])
    planned = manager.post("/api/v1/activities/plan", {
        "customer": books["sales"].pk, "owner": people["sales"].pk,
        "planned_at": (timezone.now() + datetime.timedelta(hours=3)).isoformat()}, format="json")
    assert planned.status_code == 201 and planned.json()["planned"] is True
    assert planned.json()["owner"] == people["sales"].pk
    outside = manager.post("/api/v1/activities/plan", {
        "customer": books["sales"].pk, "owner": people["sales2"].pk,
        "planned_at": (timezone.now() + datetime.timedelta(hours=3)).isoformat()}, format="json")
    assert outside.status_code == 400 and "owner" in outside.json()
    done = api.post(f"/api/v1/activities/{planned.json()['id']}/complete", {"outcome": "签了意向书"}, format="json")
    assert done.status_code == 200 and done.json()["planned"] is False
    with in_tenant(tenant_a):
        assert Activity.objects.filter(customer_id=books["sales"].pk).count() == 2


def test_filters_and_cursor_pagination(tenant_a, people, books, api_for, in_tenant):
    base = timezone.now() - datetime.timedelta(days=10)
    with in_tenant(tenant_a):
        for i in range(5):
            services.activity_log(actor=people["sales"], customer_id=books["sales"].pk,
                                  kind="call" if i % 2 else "visit", subject=f"第{i}次",
                                  occurred_at=base + datetime.timedelta(days=i))
    api = api_for(tenant_a, people["sales"])
    assert _subjects(api.get("/api/v1/activities/?kind=call")) == {"第1次", "第3次"}
    day = (base + datetime.timedelta(days=2)).astimezone(timezone.get_current_timezone()).date().isoformat()
    assert _subjects(api.get(f"/api/v1/activities/?occurred_after={day}&occurred_before={day}")) == {"第2次"}
    assert _subjects(api.get(f"/api/v1/activities/?owner={people['sales2'].pk}")) == set()
    assert _subjects(api.get(f"/api/v1/activities/?customer={books['sales'].pk}&kind=visit")) == {"第0次", "第2次", "第4次"}
    assert api.get("/api/v1/activities/?occurred_after=yesterday").status_code == 400
    assert api.get("/api/v1/activities/?kind=lunch").status_code == 400
    first = api.get("/api/v1/activities/?limit=2").json()
    assert [a["subject"] for a in first["results"]] == ["第4次", "第3次"] and first["next"]
    second = api.get(first["next"]).json()
    assert [a["subject"] for a in second["results"]] == ["第2次", "第1次"]


def test_activity_list_query_count_is_flat(tenant_a, people, books, api_for, in_tenant, make_customer,
                                           django_assert_max_num_queries):
    with in_tenant(tenant_a):
        from crm.customers.services import contact_create

        for i in range(25):
            customer = make_customer(tenant_a, people["sales"], f"查询计数客户{i}有限公司")
            contact = contact_create(actor=people["sales"], customer_id=customer.pk, data={"name": f"联系人{i}"})
            services.activity_log(actor=people["sales"], customer_id=customer.pk, kind="visit", contact_id=contact.pk,
                                  participant_ids=[people["manager"].pk, people["exec"].pk],
                                  next_step="回访", next_step_at=timezone.now() + datetime.timedelta(days=1))
    for who in ("sales", "manager", "exec"):
        api = api_for(tenant_a, people[who])
        # constant per request (auth, roles, the scope's subtree ids); must not grow with rows
        with django_assert_max_num_queries(12):
            assert len(api.get("/api/v1/activities/").json()["results"]) >= 25
