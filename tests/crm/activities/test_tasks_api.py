"""/api/v1/tasks/ (assignee, priority, reminder, customer) and /api/v1/notifications/."""

import datetime

import pytest
from django.utils import timezone

from crm.activities import services

pytestmark = pytest.mark.django_db


def test_tasks_with_assignee_priority_reminder_and_customer(tenant_a, people, books, api_for):
    manager = api_for(tenant_a, people["manager"])
    due = timezone.now() + datetime.timedelta(days=1)
    response = manager.post("/api/v1/tasks/", {
        "title": "准备演示", "due_at": due.isoformat(), "priority": "high", "assignee": people["sales"].pk,
        "remind_at": (due - datetime.timedelta(hours=2)).isoformat(), "customer": books["sales"].pk},
        format="json")
    assert response.status_code == 201, response.content
    task = response.json()
    assert (task["assignee"], task["priority"], task["customer_name"], task["owner"]) == (
        people["sales"].pk, "high", books["sales"].name, people["manager"].pk)
    sales = api_for(tenant_a, people["sales"])
    assert sales.get(f"/api/v1/tasks/{task['id']}/").status_code == 200  # assigned to me
    assert [t["title"] for t in sales.get(f"/api/v1/tasks/?assignee={people['sales'].pk}").json()["results"]] == ["准备演示"]
    patched = sales.patch(f"/api/v1/tasks/{task['id']}/", {"priority": "low"}, format="json")
    assert patched.status_code == 200 and patched.json()["priority"] == "low"
    assert sales.post("/api/v1/tasks/", {"title": "x", "priority": "urgent"}, format="json").status_code == 400
    assert sales.post("/api/v1/tasks/", {"title": "x", "customer": books["sales2"].pk},
                      format="json").status_code == 404
    outside = sales.post("/api/v1/tasks/", {"title": "x", "assignee": people["sales2"].pk}, format="json")
    assert outside.status_code == 400 and "assignee" in outside.json()
    assert api_for(tenant_a, people["sales2"]).get(f"/api/v1/tasks/{task['id']}/").status_code == 404


def test_notifications_api_lists_mine_and_marks_read(tenant_a, people, in_tenant, api_for):
    with in_tenant(tenant_a):
        mine = [services.notification_create(recipient=people["sales"], kind="task_reminder", title=f"n{i}")
                for i in range(3)]
        services.notification_create(recipient=people["sales2"], kind="task_reminder", title="not mine")
    api = api_for(tenant_a, people["sales"])
    listed = api.get("/api/v1/notifications/").json()
    assert listed["unread"] == 3 and {n["title"] for n in listed["results"]} == {"n0", "n1", "n2"}
    one = api.post("/api/v1/notifications/read", {"ids": [mine[0].pk]}, format="json").json()
    assert one == {"marked": 1, "unread": 2}
    assert api.post("/api/v1/notifications/read", {"ids": ["x"]}, format="json").status_code == 400
    assert api.post("/api/v1/notifications/read", {}, format="json").json() == {"marked": 2, "unread": 0}
    assert api_for(tenant_a, people["sales2"]).get("/api/v1/notifications/?unread=true").json()["unread"] == 1
