"""activities.send_reminders: due task reminders and pool warnings, in-app and by email,
each once however often the task runs."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from crm.activities import services
from crm.activities.enums import NotificationKind
from crm.activities.models import Notification
from crm.activities.tasks import activities_send_reminders_task

pytestmark = pytest.mark.django_db


def _run(tenant, in_tenant, **kwargs):
    with in_tenant(tenant):
        if kwargs:
            return services.reminders_send(**kwargs)
        return activities_send_reminders_task.apply().get()


def test_a_due_reminder_is_sent_once_in_app_and_by_email(tenant_a, people, books, in_tenant):
    now = timezone.now()
    with in_tenant(tenant_a):
        due = services.task_create(actor=people["manager"], title="提交投标文件", assignee_id=people["sales"].pk,
                                   due_at=now + datetime.timedelta(hours=2), priority="high",
                                   remind_at=now - datetime.timedelta(minutes=1), customer_id=books["sales"].pk)
        services.task_create(actor=people["sales"], title="以后再说", remind_at=now + datetime.timedelta(hours=5))
        services.task_create(actor=people["sales"], title="很久以前", remind_at=now - datetime.timedelta(days=30))
    mail.outbox.clear()
    first = _run(tenant_a, in_tenant)
    second = _run(tenant_a, in_tenant)
    assert (first["reminded"], second["reminded"]) == (1, 0)
    with in_tenant(tenant_a):
        reminders = list(Notification.objects.filter(kind=NotificationKind.TASK_REMINDER))
    assert len(reminders) == 1
    assert reminders[0].recipient_id == people["sales"].pk and "提交投标文件" in reminders[0].title
    assert [m.to for m in mail.outbox] == [[people["sales"].email]]  # the assignee, once; not the manager
    assert "提交投标文件" in mail.outbox[0].subject and books["sales"].name in mail.outbox[0].body
    # a new reminder time is a new reminder
    with in_tenant(tenant_a):
        services.task_update(actor=people["sales"], task_id=due.pk, remind_at=timezone.now())
    assert _run(tenant_a, in_tenant)["reminded"] == 1
    assert len(mail.outbox) == 2


def test_reminders_of_done_tasks_are_not_sent(tenant_a, people, in_tenant):
    with in_tenant(tenant_a):
        task = services.task_create(actor=people["sales"], title="已经做完",
                                    remind_at=timezone.now() - datetime.timedelta(minutes=5))
        services.task_complete(actor=people["sales"], task_id=task.pk)
    mail.outbox.clear()
    assert _run(tenant_a, in_tenant)["reminded"] == 0
    assert mail.outbox == []


@pytest.fixture
def compiled_catalogs():
    """The English catalog compiled (installation does it; do it here when stale)."""
    from tests.test_i18n import EN_MO, EN_PO, _forget_loaded_catalogs

    if not EN_MO.exists() or EN_MO.stat().st_mtime < EN_PO.stat().st_mtime:
        from io import StringIO

        from django.core.management import call_command

        call_command("compile_translations", stdout=StringIO())
        _forget_loaded_catalogs()


def test_emails_speak_the_recipients_language(tenant_a, people, in_tenant, compiled_catalogs):
    with in_tenant(tenant_a):
        from crm.org.services import user_set_language

        user_set_language(user=people["sales"], language="en")
        people["sales"].refresh_from_db()
        services.task_create(actor=people["sales"], title="Call back",
                             remind_at=timezone.now() - datetime.timedelta(minutes=1))
    mail.outbox.clear()
    _run(tenant_a, in_tenant)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("Reminder: Call back"), mail.outbox[0].subject
    assert "任务" not in mail.outbox[0].body


def test_pool_warning_tells_the_owner_once_per_customer_per_warning(tenant_a, people, books, in_tenant,
                                                                   make_customer):
    from crm.customers.services import customer_settings_get, customer_touch, pool_run

    second = make_customer(tenant_a, people["sales"], "北京第二家测试有限公司")
    with in_tenant(tenant_a):
        rules = customer_settings_get()
        # a day after the warning window opens for customers followed up today
        later = timezone.now() + datetime.timedelta(days=rules.release_after_days - rules.warn_before_days + 1)
        warned = pool_run(now=later).warned
        assert {(people["sales"].pk, books["sales"].pk), (people["sales"].pk, second.pk)} <= set(warned)
    mail.outbox.clear()
    first = _run(tenant_a, in_tenant, now=later)
    again = _run(tenant_a, in_tenant, now=later)
    assert first["pool_warned_owners"] >= 2 and again["pool_warned_owners"] == 0  # sales and sales2
    with in_tenant(tenant_a):
        notes = list(Notification.objects.filter(kind=NotificationKind.POOL_WARNING, recipient=people["sales"]))
    assert len(notes) == 1
    days = rules.warn_before_days - 1
    assert notes[0].title == f"2 个客户将在 {days} 天内被释放到公海"
    assert books["sales"].name in notes[0].body and second.name in notes[0].body
    assert sum(1 for m in mail.outbox if m.to == [people["sales"].email]) == 1
    # a follow-up clears the warning; a later warning is told again, for that customer only
    with in_tenant(tenant_a):
        customer_touch(customer_id=books["sales"].pk, at=later)
        pool_run(now=later + datetime.timedelta(days=rules.release_after_days - rules.warn_before_days + 1))
    _run(tenant_a, in_tenant, now=later + datetime.timedelta(days=rules.release_after_days - rules.warn_before_days + 1))
    with in_tenant(tenant_a):
        notes = list(Notification.objects.filter(kind=NotificationKind.POOL_WARNING, recipient=people["sales"]))
    assert len(notes) == 2 and notes[0].title.startswith("1 个客户")


def test_send_reminders_is_on_the_beat_through_the_fan_out():
    from django.conf import settings

    from config.celery import app

    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["args"] == ("activities.send_reminders",)]
    assert len(entries) == 1 and entries[0]["task"] == "tenants.fan_out"
    app.loader.import_default_modules()
    task = app.tasks["activities.send_reminders"]
    assert task.time_limit and task.soft_time_limit
