"""?sort= on the activity list (newest first by default, cursor pages either way) and the
task list (soonest due first, undated last, by default); unknown values are a 400 naming
the allowed ones."""

import datetime

import pytest
from django.utils import timezone

from crm.activities import services

pytestmark = pytest.mark.django_db


def test_activity_list_sorts_with_cursor_pages(tenant_a, people, books, api_for, in_tenant):
    base = timezone.now() - datetime.timedelta(days=10)
    with in_tenant(tenant_a):
        for i in range(5):
            services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call",
                                  subject=f"排序{i}", occurred_at=base + datetime.timedelta(days=i))
    api = api_for(tenant_a, people["sales"])

    def walk(url):
        subjects = []
        while url:
            body = api.get(url).json()
            subjects += [a["subject"] for a in body["results"]]
            url = body["next"]
        return subjects

    assert walk("/api/v1/activities/?limit=2") == [f"排序{i}" for i in (4, 3, 2, 1, 0)]
    assert walk("/api/v1/activities/?limit=2&sort=-occurred_at") == [f"排序{i}" for i in (4, 3, 2, 1, 0)]
    assert walk("/api/v1/activities/?limit=2&sort=occurred_at") == [f"排序{i}" for i in range(5)]
    bad = api.get("/api/v1/activities/?sort=subject")
    assert bad.status_code == 400
    assert "occurred_at" in bad.json()["sort"][0] and "-occurred_at" in bad.json()["sort"][0]


def test_task_list_sorts(tenant_a, people, api_for, in_tenant):
    now = timezone.now()
    with in_tenant(tenant_a):
        services.task_create(actor=people["sales"], title="后天", due_at=now + datetime.timedelta(days=2))
        services.task_create(actor=people["sales"], title="没日期")
        services.task_create(actor=people["sales"], title="明天", due_at=now + datetime.timedelta(days=1))
    api = api_for(tenant_a, people["sales"])

    def titles(query=""):
        response = api.get(f"/api/v1/tasks/?owner={people['sales'].pk}{query}")
        assert response.status_code == 200, response.content
        return [t["title"] for t in response.json()["results"]]

    assert titles() == ["明天", "后天", "没日期"]
    assert titles("&sort=due_at") == ["明天", "后天", "没日期"]
    assert titles("&sort=-due_at") == ["后天", "明天", "没日期"]  # undated last either way
    assert titles("&sort=-created_at") == ["明天", "没日期", "后天"]
    assert titles("&sort=created_at") == ["后天", "没日期", "明天"]
    bad = api.get("/api/v1/tasks/?sort=priority")
    assert bad.status_code == 400 and "due_at" in bad.json()["sort"][0]
