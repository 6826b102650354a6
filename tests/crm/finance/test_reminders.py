"""Overdue reminders: a periodic run per tenant tells each overdue invoice's owner and every
finance staff member, in-app and by email, at most once per the tenant's interval; running
it twice tells nobody twice; paid and not-yet-due invoices are left alone."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from crm.activities.models import Notification
from crm.finance import services
from crm.finance.models import Invoice

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db


def overdue_notes(user):
    return list(Notification.objects.filter(recipient=user, kind="invoice_overdue").order_by("id"))


def test_overdue_invoices_are_told_to_the_owner_and_finance_once_per_interval(alpha, people, shipped, shop):
    finance = people["finance"]
    late = invoice_make(actor=finance, order=shipped(), issued_on=days_ago(45))  # 15 days overdue
    due_today = invoice_make(actor=finance, order=shipped(), issued_on=days_ago(30))  # not overdue yet
    paid = invoice_make(actor=finance, order=shipped(), issued_on=days_ago(60))
    payment_make(actor=finance, invoice=paid, amount=paid.total)
    other = invoice_make(actor=finance, order=shipped(customer=shop.customer2, owner="sales2"), issued_on=days_ago(100))
    mail.outbox.clear()

    result = services.overdue_reminders_send()
    assert result["reminded"] == 2 and result["notified"] == 3
    [owner_note] = overdue_notes(people["sales"])
    assert late.number in owner_note.body and "逾期 15 天" in owner_note.body
    assert other.number not in owner_note.body and due_today.number not in owner_note.body
    assert owner_note.url.endswith(f"?overdue=1&owner={people['sales'].pk}") and owner_note.email_wanted
    [finance_note] = overdue_notes(finance)
    assert late.number in finance_note.body and other.number in finance_note.body and paid.number not in finance_note.body
    assert "2 张发票已逾期" in finance_note.title
    assert len(overdue_notes(people["sales2"])) == 1
    assert not overdue_notes(people["secretary"])
    sent_to = {m.to[0] for m in mail.outbox}
    assert {people["sales"].email, finance.email, people["sales2"].email} <= sent_to
    assert Invoice.objects.get(pk=late.pk).last_reminded_on == timezone.localdate()

    again = services.overdue_reminders_send()  # the same day, or a retried task: nobody twice
    assert again["reminded"] == 0 and len(overdue_notes(finance)) == 1

    in_six_days = timezone.localdate() + datetime.timedelta(days=6)
    six = services.overdue_reminders_send(today=in_six_days)  # within the default 7 days: only the newly overdue
    assert six["reminded"] == 1 and due_today.number in overdue_notes(people["sales"])[-1].body
    a_week_later = timezone.localdate() + datetime.timedelta(days=7)
    later = services.overdue_reminders_send(today=a_week_later)
    assert later["reminded"] == 2  # the first two again, a week after
    assert len(overdue_notes(people["sales"])) == 3 and late.number in overdue_notes(people["sales"])[-1].body


def test_the_interval_is_the_tenants_setting(alpha, people, shipped):
    finance = people["finance"]
    invoice_make(actor=finance, order=shipped(), issued_on=days_ago(40))
    services.finance_settings_update(actor=finance, data={"reminder_interval_days": "2"})
    assert services.overdue_reminders_send()["reminded"] == 1
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    assert services.overdue_reminders_send(today=tomorrow)["reminded"] == 0
    assert services.overdue_reminders_send(today=tomorrow + datetime.timedelta(days=1))["reminded"] == 1


def test_settings_are_checked_versioned_and_finance_only(alpha, people):
    from django.core.exceptions import PermissionDenied, ValidationError

    from crm.audit.models import AuditEntry
    from crm.finance.selectors import finance_settings_get

    row = finance_settings_get()
    assert row.reminder_interval_days == 7 and row.invoice_limit is None
    with pytest.raises(PermissionDenied):
        services.finance_settings_update(actor=people["sales"], data={"reminder_interval_days": "3"})
    for bad in ({"reminder_interval_days": "0"}, {"reminder_interval_days": "91"}, {"reminder_interval_days": "x"},
                {"invoice_limit": "-1"}, {"invoice_limit": "1.001"}):
        with pytest.raises(ValidationError) as refused:
            services.finance_settings_update(actor=people["finance"], data=bad)
        assert next(iter(bad)) in refused.value.message_dict
    saved = services.finance_settings_update(actor=people["finance"], version=row.version,
                                             data={"reminder_interval_days": "14", "invoice_limit": "100000.00"})
    assert saved.reminder_interval_days == 14 and saved.version == row.version + 1
    with pytest.raises(services.StaleVersion):
        services.finance_settings_update(actor=people["admin"], version=row.version, data={"invoice_limit": ""})
    assert AuditEntry.objects.filter(content_type__model="financesettings", action="update").exists()


def test_the_beat_fans_the_reminders_out_per_tenant():
    entry = settings.CELERY_BEAT_SCHEDULE["finance-overdue-reminders"]
    assert entry["task"] == "tenants.fan_out" and entry["args"] == ("finance.overdue_reminders",)
    from config.celery import app

    app.loader.import_default_modules()
    assert "finance.overdue_reminders" in app.tasks


def test_the_task_runs_in_the_tenant_schema(alpha, people, shipped, tenant_a):
    from crm.finance.tasks import finance_overdue_reminders_task

    invoice_make(actor=people["finance"], order=shipped(), issued_on=days_ago(35))
    result = finance_overdue_reminders_task.apply(headers={"_schema_name": tenant_a.schema_name}).get()
    assert result["reminded"] == 1
