"""Visibility scopes: own, department subtree, region subtree, all."""

import pytest

from crm.activities.models import Task
from crm.activities.services import task_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(tenant_a, user_in, in_tenant):
    people = {k: user_in(tenant_a, k) for k in ("sales", "sales2", "manager", "exec", "service", "warehouse", "secretary")}
    made = {}
    with in_tenant(tenant_a):
        for key in ("sales", "sales2", "service", "warehouse"):
            made[key] = task_create(actor=people[key], title=f"{key} 的任务")
    return people, made


def _visible_titles(tenant, user, in_tenant):
    with in_tenant(tenant):
        return {t.title for t in Task.objects.visible_to(user)}


def test_salesperson_sees_only_own(tenant_a, tasks, in_tenant):
    people, _ = tasks
    assert _visible_titles(tenant_a, people["sales"], in_tenant) == {"sales 的任务"}


def test_regional_manager_sees_the_region_subtree(tenant_a, tasks, in_tenant):
    people, _ = tasks
    # manager's region is 华北; sales is in 北京 (under 华北); sales2 is in 上海 (华东)
    seen = _visible_titles(tenant_a, people["manager"], in_tenant)
    assert "sales 的任务" in seen
    assert "sales2 的任务" not in seen
    assert "warehouse 的任务" not in seen  # warehouse staff sit in the 全国 root region


def test_department_scope_sees_the_department(tenant_a, tasks, in_tenant, user_in):
    from crm.org.services import staff_create

    people, _ = tasks
    with in_tenant(tenant_a):
        colleague = staff_create(actor=None, email="svc2@alpha.cn", full_name="客服二",
                                 role_codes=["salesperson"], department_id=people["service"].department_id)
        task_create(actor=colleague, title="同部门任务")
    seen = _visible_titles(tenant_a, people["service"], in_tenant)
    assert seen == {"service 的任务", "同部门任务"}


def test_executive_sees_all(tenant_a, tasks, in_tenant):
    people, made = tasks
    assert _visible_titles(tenant_a, people["exec"], in_tenant) >= {f"{k} 的任务" for k in made}


def test_api_applies_the_scope_and_hides_others_as_404(tenant_a, tasks, api_for):
    people, made = tasks
    api = api_for(tenant_a, people["sales"])
    listed = api.get("/api/v1/tasks/").json()["results"]
    assert [t["title"] for t in listed] == ["sales 的任务"]
    assert api.get(f"/api/v1/tasks/{made['sales2'].pk}/").status_code == 404
    assert api.post(f"/api/v1/tasks/{made['sales2'].pk}/complete").status_code == 404
    assert api.get(f"/api/v1/tasks/{made['sales'].pk}/").status_code == 200
    manager_api = api_for(tenant_a, people["manager"])
    assert manager_api.get(f"/api/v1/tasks/{made['sales'].pk}/").status_code == 200
    assert manager_api.get(f"/api/v1/tasks/{made['sales2'].pk}/").status_code == 404


def test_task_list_query_count_is_flat(tenant_a, tasks, api_for, django_assert_max_num_queries, in_tenant):
    people, _ = tasks
    with in_tenant(tenant_a):
        for i in range(20):
            task_create(actor=people["sales2"], title=f"t{i}")
    api = api_for(tenant_a, people["exec"])
    with django_assert_max_num_queries(12):
        assert len(api.get("/api/v1/tasks/").json()["results"]) >= 24


def test_deactivated_user_sees_nothing_and_cannot_sign_in(tenant_a, tasks, in_tenant, user_in, api_for):
    from crm.org.services import staff_deactivate

    people, _ = tasks
    admin = user_in(tenant_a, "admin")
    api = api_for(tenant_a, people["sales"])
    assert api.get("/api/v1/auth/me").status_code == 200
    with in_tenant(tenant_a):
        staff_deactivate(actor=admin, user_id=people["sales"].pk, reason="离职")
        people["sales"].refresh_from_db()
    assert _visible_titles(tenant_a, people["sales"], in_tenant) == set()
    assert api.get("/api/v1/auth/me").status_code == 401  # the old token is dead
    response = api_for(tenant_a).post("/api/v1/auth/token",
                                      {"email": people["sales"].email, "password": "Test-pass-2026"},
                                      format="json")
    assert response.status_code == 400
    from django.test import Client

    login = Client(HTTP_HOST="alpha.localhost").post(
        "/login/", {"username": people["sales"].email, "password": "Test-pass-2026"})
    assert login.status_code == 200  # the form again, not a redirect into the app
    with in_tenant(tenant_a):
        assert Task.objects.filter(owner=people["sales"]).count() == 1  # records are kept
