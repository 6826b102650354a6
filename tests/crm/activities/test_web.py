"""The web pages: today, calendar, activity form and list, visit plans, notifications and the
bell, the customer timeline include."""

import datetime

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from crm.activities import services
from crm.activities.models import Activity, Notification

pytestmark = pytest.mark.django_db


def test_today_page_shows_my_day(tenant_a, people, books, in_tenant, web_as):
    from crm.customers.services import customer_settings_get, pool_run

    now = timezone.localtime()
    with in_tenant(tenant_a):
        services.task_create(actor=people["sales"], title="昨天就该交的周报", priority="high",
                             due_at=now - datetime.timedelta(days=1))
        services.task_create(actor=people["manager"], title="今天回电话给客户", assignee_id=people["sales"].pk,
                             due_at=now.replace(hour=23, minute=30))
        services.task_create(actor=people["sales"], title="下周的事", due_at=now + datetime.timedelta(days=7))
        services.task_create(actor=people["sales2"], title="别人的任务", due_at=now)
        services.activity_plan_visit(actor=people["manager"], owner_id=people["sales"].pk,
                                     customer_id=books["sales"].pk, subject="今天去拜访",
                                     planned_at=now.replace(hour=23, minute=45))
        rules = customer_settings_get()
        from crm.customers.models import Customer

        Customer.objects.filter(pk=books["sales"].pk).update(
            last_activity_at=now - datetime.timedelta(days=rules.release_after_days - 2))
        pool_run(now=now)
    page = web_as(tenant_a, people["sales"]).get("/").content.decode()
    assert "昨天就该交的周报" in page and "今天回电话给客户" in page and "今天去拜访" in page
    assert "下周的事" not in page and "别人的任务" not in page
    assert 'class="prio prio-high">高<' in page
    assert 'data-testid="pool-warning-item"' in page and books["sales"].name in page
    assert "2 天后释放" in page
    assert 'data-testid="today-empty"' not in page
    # a colleague with nothing to do sees the empty states
    empty = web_as(tenant_a, people["exec"]).get("/").content.decode()
    for testid in ("today-empty", "tasks-empty", "visits-empty", "pool-empty"):
        assert f'data-testid="{testid}"' in empty


def test_completing_from_the_today_page(tenant_a, people, books, in_tenant, web_as):
    with in_tenant(tenant_a):
        task = services.task_create(actor=people["sales"], title="打卡", due_at=timezone.now())
        visit = services.activity_plan_visit(actor=people["sales"], customer_id=books["sales"].pk,
                                             planned_at=timezone.now() + datetime.timedelta(minutes=5))
    web = web_as(tenant_a, people["sales"])
    assert web.post(f"/tasks/{task.pk}/complete").status_code == 302
    assert web.post(f"/activities/{visit.pk}/complete", {"outcome": "见到了采购"}).status_code == 302
    with in_tenant(tenant_a):
        task.refresh_from_db()
        visit.refresh_from_db()
    assert task.status == "done" and not visit.planned and visit.outcome == "见到了采购"
    other = web_as(tenant_a, people["sales2"])
    assert other.post(f"/activities/{visit.pk}/complete").status_code == 404


def test_calendar_month_grid(tenant_a, people, books, in_tenant, web_as):
    with in_tenant(tenant_a):
        services.task_create(actor=people["sales"], title="十一月的任务",
                             due_at=datetime.datetime(2026, 11, 18, 10, 0, tzinfo=timezone.get_current_timezone()))
        services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call",
                              occurred_at=datetime.datetime(2026, 11, 3, 9, 0, tzinfo=timezone.get_current_timezone()))
        services.task_create(actor=people["sales"], title="十二月的任务",
                             due_at=datetime.datetime(2026, 12, 18, 10, 0, tzinfo=timezone.get_current_timezone()))
    web = web_as(tenant_a, people["sales"])
    response = web.get("/calendar/?month=2026-11")
    page = response.content.decode()
    assert response.status_code == 200
    assert "2026 年 11 月" in page and 'href="?month=2026-10"' in page and 'href="?month=2026-12"' in page
    assert 'title="十一月的任务" data-testid="cal-task"' in page  # the grid
    assert '<span class="cal-item task">10:00 十一月的任务</span>' in page  # the phone week list
    assert 'data-date="2026-11-18"' in page and books["sales"].name in page
    assert "十二月的任务" not in page
    # nothing loaded from elsewhere (a bare "cdn" can occur inside a random CSRF token)
    assert "https://" not in page and "//cdn" not in page.lower()
    bad = web.get("/calendar/?month=2026-13")
    assert bad.status_code == 400 and "YYYY-MM" in bad.content.decode()


def test_log_an_activity_from_the_form(tenant_a, people, books, in_tenant, web_as):
    web = web_as(tenant_a, people["sales"])
    form = web.get(f"/activities/new/?customer={books['sales'].pk}")
    assert form.status_code == 200 and books["sales"].name in form.content.decode()
    assert web.get(f"/activities/new/?customer={books['sales2'].pk}").status_code == 404
    assert web.get("/activities/new/").status_code == 404
    when = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
    response = web.post(f"/activities/new/?customer={books['sales'].pk}", {
        "customer": books["sales"].pk, "kind": "visit", "subject": "表单记录的拜访", "occurred_at": when,
        "duration_minutes": "30", "next_step": "寄合同", "participants": [people["manager"].pk],
        "next_step_at": (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302, response.content.decode()[:2000]
    with in_tenant(tenant_a):
        activity = Activity.objects.get(subject="表单记录的拜访")
    assert activity.follow_up_task_id and activity.owner == people["sales"]
    bad = web.post(f"/activities/new/?customer={books['sales'].pk}", {
        "customer": books["sales"].pk, "kind": "call", "occurred_at": when,
        "next_step_at": (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    assert bad.status_code == 400 and "请同时写明下一步做什么" in bad.content.decode()
    listing = web.get("/activities/").content.decode()
    assert "表单记录的拜访" in listing
    assert "表单记录的拜访" not in web_as(tenant_a, people["sales2"]).get("/activities/").content.decode()


def test_visit_plans_page_lets_a_manager_plan(tenant_a, people, books, in_tenant, web_as):
    web = web_as(tenant_a, people["manager"])
    assert web.get("/visits/plans/").status_code == 200
    response = web.post("/visits/plans/", {
        "customer": books["sales"].pk, "owner": people["sales"].pk, "subject": "经理安排的拜访",
        "planned_at": (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    assert "经理安排的拜访" in web.get("/visits/plans/").content.decode()
    denied = web.post("/visits/plans/", {
        "customer": books["sales2"].pk, "owner": people["manager"].pk,
        "planned_at": (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")})
    assert denied.status_code == 400


def test_bell_counts_unread_and_the_notifications_page_marks_them_read(tenant_a, people, in_tenant, web_as):
    with in_tenant(tenant_a):
        for i in range(3):
            services.notification_create(recipient=people["sales"], kind="task_reminder", title=f"提醒{i}",
                                         url="/calendar/")
        services.notification_create(recipient=people["sales2"], kind="task_reminder", title="别人的提醒")
    web = web_as(tenant_a, people["sales"])
    today = web.get("/").content.decode()
    assert 'data-testid="notification-count"' in today and ">3</span>" in today
    page = web.get("/notifications/").content.decode()
    assert "提醒0" in page and "提醒2" in page and "别人的提醒" not in page
    assert page.count('class="unread"') == 3
    assert 'data-testid="notification-count"' not in web.get("/").content.decode()
    with in_tenant(tenant_a):
        assert Notification.objects.filter(recipient=people["sales"], read_at__isnull=True).count() == 0
        other = Notification.objects.get(title="别人的提醒")
        assert other.read_at is None
    assert web.get(f"/notifications/{other.pk}/").status_code == 404


def test_customer_timeline_include(tenant_a, people, books, in_tenant):
    with in_tenant(tenant_a):
        services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call",
                              subject="较早的电话", occurred_at=timezone.now() - datetime.timedelta(days=2))
        services.activity_log(actor=people["manager"], customer_id=books["sales"].pk, kind="visit",
                              subject="最近的拜访")
        html = render_to_string("activities/_timeline.html", {"customer": books["sales"], "user": people["sales"]})
        assert html.index("最近的拜访") < html.index("较早的电话")  # newest first, the manager's too
        hidden = render_to_string("activities/_timeline.html", {"customer": books["sales"], "user": people["sales2"]})
        assert "较早的电话" not in hidden and 'data-testid="timeline-empty"' in hidden
