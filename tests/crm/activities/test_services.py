"""Activities, follow-up tasks, planned visits and moves, through the services."""

import datetime

import pytest
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.utils import timezone

from crm.activities import services
from crm.activities.enums import ActivityKind, NotificationKind, TaskPriority, TaskStatus
from crm.activities.models import Activity, Notification, Task
from crm.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _customer_row(tenant, in_tenant, customer_id):
    from crm.customers.selectors import customer_list_visible_to
    from crm.org.models import User

    with in_tenant(tenant):
        admin = User.objects.get(email="admin@alpha.test")
        return customer_list_visible_to(actor=admin).get(pk=customer_id)


def test_logging_an_activity_restarts_the_pool_clock_and_is_audited(tenant_a, people, books, in_tenant):
    customer = books["sales"]
    with in_tenant(tenant_a):
        from crm.customers.models import Customer

        Customer.objects.filter(pk=customer.pk).update(
            last_activity_at=timezone.now() - datetime.timedelta(days=20), pool_warned_at=timezone.now())
        activity = services.activity_log(actor=people["sales"], customer_id=customer.pk,
                                         kind=ActivityKind.CALL, subject="电话沟通报价",
                                         participant_ids=[people["manager"].pk], duration_minutes=15)
        assert activity.owner == people["sales"] and activity.region_id == customer.region_id
        assert list(activity.participants.values_list("pk", flat=True)) == [people["manager"].pk]
        assert AuditEntry.objects.filter(object_id=str(activity.pk), action="create").exists()
    row = _customer_row(tenant_a, in_tenant, customer.pk)
    assert row.last_activity_at >= activity.occurred_at - datetime.timedelta(seconds=1)
    assert row.pool_warned_at is None


def test_bad_input_is_refused_with_the_field_named_and_nothing_written(tenant_a, people, books, in_tenant,
                                                                      make_customer):
    other = make_customer(tenant_a, people["sales"], "另一家测试公司")
    with in_tenant(tenant_a):
        from crm.customers.services import contact_create

        contact = contact_create(actor=people["sales"], customer_id=other.pk, data={"name": "王经理"})
        before = Activity.objects.count()
        with pytest.raises(ValidationError) as wrong_contact:
            services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="visit",
                                  contact_id=contact.pk)
        assert "contact" in wrong_contact.value.message_dict
        with pytest.raises(ValidationError) as future:
            services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="visit",
                                  occurred_at=timezone.now() + datetime.timedelta(days=1))
        assert "occurred_at" in future.value.message_dict
        with pytest.raises(ValidationError) as kind:
            services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="lunch")
        assert "kind" in kind.value.message_dict
        with pytest.raises(ValidationError) as step:
            services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call",
                                  next_step_at=timezone.now() + datetime.timedelta(days=2))
        assert "next_step" in step.value.message_dict
        with pytest.raises(ObjectDoesNotExist):  # not visible: the API answers 404
            services.activity_log(actor=people["sales"], customer_id=books["sales2"].pk, kind="call")
        assert Activity.objects.count() == before
        ok = services.activity_log(actor=people["sales"], customer_id=other.pk, kind="visit",
                                   contact_id=contact.pk)
        assert ok.contact_id == contact.pk and ok.subject  # a subject is made when none is given


def test_next_step_becomes_one_follow_up_task_kept_in_step(tenant_a, people, books, in_tenant):
    when = timezone.now() + datetime.timedelta(days=3)
    with in_tenant(tenant_a):
        activity = services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="visit",
                                         subject="现场拜访", outcome="对方有采购意向", next_step="发送报价单",
                                         next_step_at=when)
        task = Task.objects.get(pk=activity.follow_up_task_id)
        assert (task.title, task.due_at, task.owner, task.assignee, task.customer_id, task.status) == (
            "发送报价单", when, people["sales"], people["sales"], books["sales"].pk, TaskStatus.OPEN)
        assert task.remind_at == when
        later = when + datetime.timedelta(days=1)
        services.activity_update(actor=people["sales"], activity_id=activity.pk, next_step="发送正式报价单",
                                 next_step_at=later, version=activity.version)
        task.refresh_from_db()
        assert (task.title, task.due_at) == ("发送正式报价单", later)
        assert Task.objects.filter(customer_id=books["sales"].pk).count() == 1  # not a second task
        no_step = services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="note")
        assert no_step.follow_up_task_id is None


def test_stale_version_and_other_peoples_activities_cannot_be_edited(tenant_a, people, books, in_tenant):
    from crm.org.services import StaleVersion

    with in_tenant(tenant_a):
        mine = services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call")
        services.activity_update(actor=people["sales"], activity_id=mine.pk, subject="改过一次", version=1)
        with pytest.raises(StaleVersion):
            services.activity_update(actor=people["sales"], activity_id=mine.pk, subject="旧版本", version=1)
        # the manager over sales may correct it; sales2 cannot even see it
        services.activity_update(actor=people["manager"], activity_id=mine.pk, outcome="经理补充", version=2)
        with pytest.raises(ObjectDoesNotExist):
            services.activity_update(actor=people["sales2"], activity_id=mine.pk, subject="越权")
        mine.refresh_from_db()
        assert (mine.subject, mine.outcome, mine.version) == ("改过一次", "经理补充", 3)


def test_a_manager_plans_a_visit_for_a_subordinate_within_scope(tenant_a, people, books, in_tenant):
    tomorrow = timezone.now() + datetime.timedelta(days=1)
    with in_tenant(tenant_a):
        visit = services.activity_plan_visit(actor=people["manager"], owner_id=people["sales"].pk,
                                             customer_id=books["sales"].pk, planned_at=tomorrow,
                                             subject="季度回访")
        assert (visit.kind, visit.planned, visit.owner, visit.planned_by) == (
            ActivityKind.VISIT, True, people["sales"], people["manager"])
        note = Notification.objects.get(recipient=people["sales"], kind=NotificationKind.VISIT_PLANNED)
        assert books["sales"].name in note.title
        # sales2 (上海) is outside the 华北 manager's region
        with pytest.raises(ValidationError) as outside:
            services.activity_plan_visit(actor=people["manager"], owner_id=people["sales2"].pk,
                                         customer_id=books["sales"].pk, planned_at=tomorrow)
        assert "owner" in outside.value.message_dict
        # a salesperson plans only for themselves
        with pytest.raises(ValidationError):
            services.activity_plan_visit(actor=people["sales"], owner_id=people["manager"].pk,
                                         customer_id=books["sales"].pk, planned_at=tomorrow)
        with pytest.raises(ValidationError) as past:
            services.activity_plan_visit(actor=people["sales"], customer_id=books["sales"].pk,
                                         planned_at=timezone.now() - datetime.timedelta(days=2))
        assert "planned_at" in past.value.message_dict
        # planning is not a follow-up yet; doing the visit is
        from crm.customers.models import Customer

        before = Customer.objects.get(pk=books["sales"].pk).last_activity_at
        done = services.activity_complete_planned(actor=people["sales"], activity_id=visit.pk,
                                                  outcome="客户同意试用", next_step="安排试用",
                                                  next_step_at=timezone.now() + datetime.timedelta(days=5))
        assert (done.planned, done.outcome) == (False, "客户同意试用") and done.completed_at
        assert done.follow_up_task_id is not None
        assert Customer.objects.get(pk=books["sales"].pk).last_activity_at > before
        again = services.activity_complete_planned(actor=people["sales"], activity_id=visit.pk, outcome="再来一次")
        assert again.outcome == "客户同意试用" and again.version == done.version


def test_tasks_keep_the_old_signature_and_gain_assignee_priority_reminder(tenant_a, people, books, in_tenant):
    with in_tenant(tenant_a):
        plain = services.task_create(actor=people["sales"], title="老接口")
        assert (plain.assignee, plain.priority, plain.remind_at) == (people["sales"], TaskPriority.NORMAL, None)
        when = timezone.now() + datetime.timedelta(hours=5)
        delegated = services.task_create(actor=people["manager"], title="准备投标资料", due_at=when,
                                         assignee_id=people["sales"].pk, priority="high",
                                         remind_at=when - datetime.timedelta(hours=1),
                                         customer_id=books["sales"].pk)
        assert delegated.assignee == people["sales"] and delegated.customer_id == books["sales"].pk
        assert Notification.objects.filter(recipient=people["sales"], kind=NotificationKind.TASK_ASSIGNED).count() == 1
        from crm.activities.selectors import task_list_visible_to

        assert delegated in task_list_visible_to(actor=people["sales"])  # assigned to me
        with pytest.raises(ValidationError) as outside:
            services.task_create(actor=people["sales"], title="越权分配", assignee_id=people["sales2"].pk)
        assert "assignee" in outside.value.message_dict
        with pytest.raises(ValidationError):
            services.task_create(actor=people["sales"], title="x", priority="urgent")
        services.task_complete(actor=people["sales"], task_id=delegated.pk)  # the assignee completes it


def test_moving_activities_to_another_customer_for_a_merge(tenant_a, people, books, in_tenant, make_customer):
    survivor = make_customer(tenant_a, people["sales"], "北京燕山仪表集团")
    with in_tenant(tenant_a):
        a1 = services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="call")
        a2 = services.activity_log(actor=people["sales"], customer_id=books["sales"].pk, kind="visit")
        from crm.activities.selectors import unscoped_activity_ids_of_customer

        ids = unscoped_activity_ids_of_customer(customer_id=books["sales"].pk)
        assert sorted(ids) == sorted([a1.pk, a2.pk])
        assert services.activities_move_to_customer(activity_ids=ids, customer_id=survivor.pk,
                                                    actor=people["manager"]) == 2
        assert set(Activity.objects.filter(pk__in=ids).values_list("customer_id", flat=True)) == {survivor.pk}
        assert AuditEntry.objects.filter(action="move", object_id__in=[str(a1.pk), str(a2.pk)]).count() == 2
        # undo moves them back; a second identical move changes nothing
        assert services.activities_move_to_customer(activity_ids=ids, customer_id=books["sales"].pk) == 2
        assert services.activities_move_to_customer(activity_ids=ids, customer_id=books["sales"].pk) == 0
