"""Cancelling a planned visit: who may, what it changes (today page, calendar, timeline, audit,
notifications, not the pool clock), what it refuses (twice, completed, not planned, stale
version, completing it afterwards), through the service, the API and the web pages."""

import datetime

import pytest
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.utils import timezone

from crm.activities import selectors, services
from crm.activities.enums import NotificationKind
from crm.activities.models import Activity, Notification
from crm.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def visit(tenant_a, people, books, in_tenant):
    """A visit the 华北 manager planned for sales, later today."""
    now = timezone.localtime()
    if now.hour == 23 and now.minute >= 50:  # "later today" would be tomorrow before the test ends
        pytest.skip("run within ten minutes of midnight (Asia/Shanghai): no 'later today' left")
    planned_at = max(now + datetime.timedelta(minutes=5), now.replace(hour=23, minute=30))
    with in_tenant(tenant_a):
        return services.activity_plan_visit(actor=people["manager"], owner_id=people["sales"].pk,
                                            customer_id=books["sales"].pk, planned_at=planned_at,
                                            subject="下午去燕山仪表")


def _audit(tenant, in_tenant, activity, action):
    with in_tenant(tenant):
        return list(AuditEntry.objects.filter(content_type__model="activity", object_id=str(activity.pk),
                                              action=action))


# -- the service --------------------------------------------------------------------------------------
def test_the_owner_cancels_with_a_reason_audited_and_the_planner_told(tenant_a, people, books, visit, in_tenant):
    from crm.customers.models import Customer

    with in_tenant(tenant_a):
        clock = Customer.objects.get(pk=books["sales"].pk).last_activity_at
        done = services.activity_cancel_planned(actor=people["sales"], activity_id=visit.pk,
                                                reason="  客户临时出差  ", version=visit.version)
        assert done.cancelled_at and done.cancelled_by == people["sales"] and done.cancel_reason == "客户临时出差"
        assert done.planned and done.completed_at is None and done.status() == "cancelled"
        assert done.version == visit.version + 1
        # not a follow-up: the pool clock does not move
        assert Customer.objects.get(pk=books["sales"].pk).last_activity_at == clock
        note = Notification.objects.get(recipient=people["manager"], kind=NotificationKind.VISIT_CANCELLED)
        assert "张伟" in note.title and "客户临时出差" in note.body and note.url == f"/activities/{visit.pk}/"
        assert not Notification.objects.filter(recipient=people["sales"], kind=NotificationKind.VISIT_CANCELLED)
    [entry] = _audit(tenant_a, in_tenant, visit, "cancel")
    assert entry.actor_id == people["sales"].pk and entry.note == "客户临时出差"
    assert entry.changes["cancel_reason"] == {"old": "", "new": "客户临时出差"}
    assert entry.changes["cancelled_by"] == {"old": None, "new": people["sales"].pk}


def test_cancelling_twice_changes_nothing(tenant_a, people, visit, in_tenant):
    with in_tenant(tenant_a):
        first = services.activity_cancel_planned(actor=people["sales"], activity_id=visit.pk, reason="改期")
        # a retry with the version it had then, and a second reason: the visit as it is
        again = services.activity_cancel_planned(actor=people["manager"], activity_id=visit.pk, reason="别的原因",
                                                 version=visit.version)
        assert (again.cancelled_at, again.cancel_reason, again.cancelled_by_id, again.version) == (
            first.cancelled_at, "改期", people["sales"].pk, first.version)
        assert Notification.objects.filter(kind=NotificationKind.VISIT_CANCELLED).count() == 1
    assert len(_audit(tenant_a, in_tenant, visit, "cancel")) == 1


def test_what_cannot_be_cancelled_or_done_after(tenant_a, people, books, visit, in_tenant):
    from crm.org.services import StaleVersion

    with in_tenant(tenant_a):
        with pytest.raises(ValidationError) as blank:
            services.activity_cancel_planned(actor=people["sales"], activity_id=visit.pk, reason="   ")
        assert "reason" in blank.value.message_dict
        with pytest.raises(StaleVersion):
            services.activity_cancel_planned(actor=people["sales"], activity_id=visit.pk, reason="x",
                                             version=visit.version + 5)
        logged = services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call")
        with pytest.raises(ValidationError) as not_planned:
            services.activity_cancel_planned(actor=people["sales"], activity_id=logged.pk, reason="x")
        assert "planned" in not_planned.value.message_dict
        assert Activity.objects.get(pk=visit.pk).cancelled_at is None  # nothing half-written

        services.activity_cancel_planned(actor=people["sales"], activity_id=visit.pk, reason="客户搬家了")
        with pytest.raises(services.VisitStateConflict) as complete:
            services.activity_complete_planned(actor=people["sales"], activity_id=visit.pk, outcome="去了")
        assert complete.value.code == "visit_cancelled" and "已于" in complete.value.messages[0]
        with pytest.raises(services.VisitStateConflict):
            services.activity_update(actor=people["sales"], activity_id=visit.pk, subject="改个主题")
        stored = Activity.objects.get(pk=visit.pk)
        assert stored.planned and stored.completed_at is None and stored.outcome == ""

        other = services.activity_plan_visit(actor=people["sales"], customer_id=books["sales"].pk,
                                             planned_at=timezone.now() + datetime.timedelta(hours=1))
        services.activity_complete_planned(actor=people["sales"], activity_id=other.pk, outcome="见到了")
        with pytest.raises(services.VisitStateConflict) as completed:
            services.activity_cancel_planned(actor=people["sales"], activity_id=other.pk, reason="x")
        assert completed.value.code == "visit_completed"


def test_who_may_cancel(tenant_a, people, books, visit, in_tenant):
    with in_tenant(tenant_a):
        # sales2 (上海) sees neither the visit nor its customer: as if it did not exist
        with pytest.raises(ObjectDoesNotExist):
            services.activity_cancel_planned(actor=people["sales2"], activity_id=visit.pk, reason="x")
        # the executive plans his own visit to sales's customer: sales sees it (the customer is
        # his) but may not cancel someone else's record
        exec_visit = services.activity_plan_visit(actor=people["exec"], customer_id=books["sales"].pk,
                                                  planned_at=timezone.now() + datetime.timedelta(hours=2))
        with pytest.raises(PermissionDenied):
            services.activity_cancel_planned(actor=people["sales"], activity_id=exec_visit.pk, reason="x")
        # a participant sees it but may not cancel it
        joined = services.activity_plan_visit(actor=people["sales"], customer_id=books["sales"].pk,
                                              planned_at=timezone.now() + datetime.timedelta(hours=3),
                                              participant_ids=[people["sales2"].pk])
        with pytest.raises(PermissionDenied):
            services.activity_cancel_planned(actor=people["sales2"], activity_id=joined.pk, reason="x")
        # the manager whose region covers it may, and the owner is told
        services.activity_cancel_planned(actor=people["manager"], activity_id=visit.pk, reason="重新安排")
        assert Notification.objects.filter(recipient=people["sales"], kind=NotificationKind.VISIT_CANCELLED).exists()
        assert Activity.objects.filter(cancelled_at__isnull=False).count() == 1


def test_a_cancelled_visit_leaves_the_day_but_stays_in_the_timeline(tenant_a, people, books, visit, in_tenant):
    with in_tenant(tenant_a):
        assert [v.pk for v in selectors.today_for(actor=people["sales"])["visits"]] == [visit.pk]
        services.activity_cancel_planned(actor=people["sales"], activity_id=visit.pk, reason="客户开会")
        assert selectors.today_for(actor=people["sales"])["visits"] == []
        assert not selectors.visit_plans_visible_to(actor=people["manager"]).filter(pk=visit.pk).exists()
        local = timezone.localtime(visit.occurred_at)
        month = selectors.calendar_month_for(actor=people["sales"], year=local.year, month=local.month)
        [day] = [d for week in month["weeks"] for d in week if d.date == local.date()]
        assert [a.pk for a in day.activities] == [visit.pk] and day.activities[0].is_cancelled()
        html = render_to_string("activities/_timeline.html", {"customer": books["sales"], "user": people["sales"]})
    assert 'data-testid="timeline-cancelled"' in html and "已取消" in html and "客户开会" in html


# -- the API ------------------------------------------------------------------------------------------
def test_cancel_through_the_api(tenant_a, tenant_b, people, visit, api_for, user_in, in_tenant):
    url = f"/api/v1/activities/{visit.pk}/cancel"
    sales = api_for(tenant_a, people["sales"])
    assert sales.post(url, {}, format="json").status_code == 400
    blank = sales.post(url, {"reason": ""}, format="json")
    assert blank.status_code == 400 and "reason" in blank.json()
    stale = sales.post(url, {"reason": "改期"}, format="json", HTTP_IF_MATCH=f'"{visit.version + 3}"')
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"
    # outside the scope, another tenant: 404; a colleague who only sees the customer: 403
    assert api_for(tenant_a, people["sales2"]).post(url, {"reason": "x"}, format="json").status_code == 404
    assert api_for(tenant_b, user_in(tenant_b, "exec")).post(url, {"reason": "x"}, format="json").status_code == 404

    ok = sales.post(url, {"reason": "客户临时出差"}, format="json", HTTP_IF_MATCH=f'W/"{visit.version}"')
    assert ok.status_code == 200, ok.content
    body = ok.json()
    assert (body["status"], body["cancel_reason"], body["cancelled_by"], body["cancelled_by_name"]) == (
        "cancelled", "客户临时出差", people["sales"].pk, "张伟")
    assert body["cancelled_at"] and body["version"] == visit.version + 1
    again = sales.post(url, {"reason": "再取消一次", "version": visit.version}, format="json")
    assert again.status_code == 200 and again.json()["cancel_reason"] == "客户临时出差"
    assert again.json()["version"] == body["version"]

    done = sales.post(f"/api/v1/activities/{visit.pk}/complete", {"outcome": "去了"}, format="json")
    assert done.status_code == 409 and done.json()["code"] == "visit_cancelled" and "取消" in done.json()["detail"]
    edit = sales.patch(f"/api/v1/activities/{visit.pk}/", {"subject": "x"}, format="json")
    assert edit.status_code == 409
    # the plan lists leave it out; status=cancelled finds it
    assert visit.pk not in [a["id"] for a in sales.get("/api/v1/activities/?planned=true").json()["results"]]
    cancelled = sales.get("/api/v1/activities/?status=cancelled").json()["results"]
    assert [a["id"] for a in cancelled] == [visit.pk]
    bad = sales.get("/api/v1/activities/?status=gone")
    assert bad.status_code == 400 and "status" in bad.json()
    with in_tenant(tenant_a):
        assert AuditEntry.objects.filter(object_id=str(visit.pk), action="cancel", via="api").count() == 1


def test_a_completed_visit_cannot_be_cancelled_through_the_api(tenant_a, people, visit, api_for):
    sales = api_for(tenant_a, people["sales"])
    assert sales.post(f"/api/v1/activities/{visit.pk}/complete", {"outcome": "签约"}, format="json").status_code == 200
    response = sales.post(f"/api/v1/activities/{visit.pk}/cancel", {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "visit_completed"


# -- the web pages ------------------------------------------------------------------------------------
def test_cancel_from_the_today_page(tenant_a, tenant_b, people, visit, web_as, in_tenant, user_in):
    web = web_as(tenant_a, people["sales"])
    page = web.get("/").content.decode()
    assert "下午去燕山仪表" in page and f'action="/activities/{visit.pk}/cancel"' in page
    refused = web.post(f"/activities/{visit.pk}/cancel", {"reason": ""}, follow=True).content.decode()
    assert "请填写取消拜访的原因" in refused and "下午去燕山仪表" in refused
    response = web.post(f"/activities/{visit.pk}/cancel", {"reason": "客户临时出差", "version": visit.version},
                        follow=True)
    assert response.redirect_chain[-1][0] == "/"
    page = response.content.decode()
    assert "拜访已取消" in page and "下午去燕山仪表" not in page
    late = web.post(f"/activities/{visit.pk}/complete", {"outcome": "去了"}, follow=True).content.decode()
    assert "不能再记录为完成" in late
    with in_tenant(tenant_a):
        stored = Activity.objects.get(pk=visit.pk)
    assert stored.cancel_reason == "客户临时出差" and stored.completed_at is None
    assert web_as(tenant_a, people["sales2"]).post(f"/activities/{visit.pk}/cancel",
                                                   {"reason": "x"}).status_code == 404
    assert web.get(f"/activities/{visit.pk}/cancel").status_code == 405
    beta = web_as(tenant_b, user_in(tenant_b, "exec"))
    assert beta.get(f"/activities/{visit.pk}/").status_code == 404
    assert beta.post(f"/activities/{visit.pk}/cancel", {"reason": "x"}).status_code == 404


def test_the_activity_page_shows_the_cancel_button_then_the_cancellation(tenant_a, people, visit, web_as,
                                                                        in_tenant):
    # a form sent with a version someone else has moved on from is refused
    stale = web_as(tenant_a, people["manager"]).post(f"/activities/{visit.pk}/cancel",
                                                     {"reason": "x", "version": visit.version + 1}, follow=True)
    assert "已被他人修改" in stale.content.decode()
    with in_tenant(tenant_a):
        assert Activity.objects.get(pk=visit.pk).cancelled_at is None
    web = web_as(tenant_a, people["sales"])
    page = web.get(f"/activities/{visit.pk}/").content.decode()
    assert 'data-testid="visit-cancel-form"' in page and 'data-testid="activity-cancelled"' not in page
    response = web.post(f"/activities/{visit.pk}/cancel", {"reason": "改到下周", "next": f"/activities/{visit.pk}/"},
                        follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == f"/activities/{visit.pk}/"
    assert 'data-testid="activity-cancelled"' in page and "改到下周" in page
    assert 'data-testid="visit-cancel-form"' not in page
