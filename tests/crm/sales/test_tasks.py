"""The periodic expiry of sent quotes past their validity (one beat entry that fans out to
every tenant; the task runs in one schema)."""

import datetime

import pytest
from django.conf import settings

from crm.audit.models import AuditEntry
from crm.sales import services
from crm.sales.models import Quote
from crm.sales.tasks import sales_quotes_expire_task

from .factories import customer_make, product_make, quote_make, today

pytestmark = pytest.mark.django_db


def test_the_beat_entry_fans_out_the_expiry_task():
    entry = settings.CELERY_BEAT_SCHEDULE["sales-quotes-expire"]
    assert entry["task"] == "tenants.fan_out" and entry["args"] == ("sales.quotes_expire",)
    assert sales_quotes_expire_task.name == "sales.quotes_expire"


def test_the_task_expires_only_sent_quotes_past_their_validity(people, inside):
    sales = people["sales"]
    yesterday = today() - datetime.timedelta(days=1)
    with inside():
        customer = customer_make(actor=sales)
        product = product_make()
        line = [{"product_id": product.pk, "quantity": 1}]
        overdue = quote_make(actor=sales, customer=customer, lines=line)
        still_valid = quote_make(actor=sales, customer=customer, lines=line)
        draft = quote_make(actor=sales, customer=customer, lines=line)
        accepted = quote_make(actor=sales, customer=customer, lines=line)
        for quote in (overdue, still_valid, accepted):
            services.quote_send(actor=sales, quote_id=quote.pk)
        services.quote_accept(actor=sales, quote_id=accepted.pk)
        Quote.objects.filter(pk__in=[overdue.pk, draft.pk, accepted.pk]).update(valid_until=yesterday)

        assert sales_quotes_expire_task.apply().get() == {"expired": 1}
        status = dict(Quote.objects.filter(pk__in=[overdue.pk, still_valid.pk, draft.pk, accepted.pk])
                      .values_list("pk", "status"))
        assert status == {overdue.pk: "expired", still_valid.pk: "sent", draft.pk: "draft", accepted.pk: "accepted"}
        assert Quote.objects.get(pk=overdue.pk).expired_at is not None
        assert AuditEntry.objects.filter(content_type__model="quote", object_id=str(overdue.pk), action="expire").count() == 1

        assert sales_quotes_expire_task.apply().get() == {"expired": 0}  # run again: nothing more
        assert AuditEntry.objects.filter(content_type__model="quote", object_id=str(overdue.pk), action="expire").count() == 1


def test_expiry_counts_whole_days_in_the_tenants_time_zone(people, inside):
    sales = people["sales"]
    with inside():
        quote = quote_make(actor=sales, customer=customer_make(actor=sales),
                           lines=[{"product_id": product_make().pk, "quantity": 1}])
        services.quote_send(actor=sales, quote_id=quote.pk)
        valid_until = quote.valid_until
        assert services.quotes_expire_run(today=valid_until) == 0  # valid through its last day
        assert services.quotes_expire_run(today=valid_until + datetime.timedelta(days=1)) == 1
