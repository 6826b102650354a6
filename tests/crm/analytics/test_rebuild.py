"""The rebuild recomputes exactly what was recorded as things happened (orders approved and
cancelled, partial shipments in thirds, a backdated shipment, another currency), all of it or
from a day on; it repairs drift, keeps the collections it cannot recompute while crm.finance
is not installed, records and audits each run; the command and the task run it."""

from __future__ import annotations

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command

from crm.analytics import services as analytics
from crm.analytics.models import DailySalesFact, FactRebuild, MonthlySalesFact
from crm.audit.models import AuditEntry
from crm.orders import services
from tests.crm.orders.factories import line

from .factories import approved, daily_rows, monthly_rows

pytestmark = pytest.mark.django_db
FINANCE = apps.is_installed("crm.finance")


def scenario(shop, people) -> None:
    keeper = people["warehouse"]
    a = approved(shop, people, lines=[line(shop.cable, "3", unit_price="94.34"), line(shop.gps, "2")])
    cable, gps = a.lines.order_by("position")
    services.shipment_create(actor=keeper, order_id=a.pk, data={
        "lines": [{"order_line_id": cable.pk, "quantity": "1"}], "shipped_at": "2026-02-27T22:00:00"})
    services.shipment_create(actor=keeper, order_id=a.pk, data={
        "lines": [{"order_line_id": cable.pk, "quantity": "1"}, {"order_line_id": gps.pk, "quantity": "1"}],
        "shipped_at": "2026-03-01T00:10:00"})
    services.shipment_create(actor=keeper, order_id=a.pk, data={})  # the rest, today
    b = approved(shop, people, actor=people["sales2"], customer=shop.customer2, lines=[line(shop.gps, "5")])
    services.shipment_create(actor=keeper, order_id=b.pk, data={
        "lines": [{"order_line_id": b.lines.get().pk, "quantity": "2"}], "shipped_at": "2025-12-31T23:30:00"})
    c = approved(shop, people, lines=[line(shop.gps, "1")])
    services.order_cancel(actor=people["sales"], order_id=c.pk, reason="取消")
    approved(shop, people, currency="USD", lines=[line(shop.gps, "3", unit_price="14.00")])
    if not FINANCE:  # recorded by crm.finance's payments once it exists
        analytics.sales_fact_record(kind="collection", day=datetime.date(2026, 3, 2), owner_id=people["sales"].pk,
                                    department_id=None, region_id=None, currency="CNY", amount=Decimal("88.00"))


def test_a_full_rebuild_equals_what_was_recorded(shop, people):
    scenario(shop, people)
    daily, monthly = daily_rows(), monthly_rows()
    assert {r[1] for r in daily} >= {"order", "shipment"}
    assert len([r for r in daily if r[1] == "shipment"]) == 4  # 27 Feb, 1 Mar, today, 31 Dec
    run = analytics.sales_facts_rebuild()
    assert daily_rows() == daily and monthly_rows() == monthly
    assert run.before == run.after and run.finished_at is not None and run.since is None
    nothing = {"deleted": 0, "updated": 0, "inserted": 0}
    assert run.changed == {"daily": nothing, "monthly": nothing}  # no drift: nothing written


def test_a_rebuild_from_a_day_on_equals_what_was_recorded_and_leaves_earlier_days(shop, people):
    scenario(shop, people)
    daily, monthly = daily_rows(), monthly_rows()
    DailySalesFact.objects.filter(day__lt=datetime.date(2026, 3, 1)).update(amount=Decimal("1.00"))
    earlier = [r for r in daily_rows() if r[0] < datetime.date(2026, 3, 1)]
    run = analytics.sales_facts_rebuild(since=datetime.date(2026, 3, 1))
    assert run.since == datetime.date(2026, 3, 1)
    assert [r for r in daily_rows() if r[0] >= datetime.date(2026, 3, 1)] == [
        r for r in daily if r[0] >= datetime.date(2026, 3, 1)]
    assert [r for r in daily_rows() if r[0] < datetime.date(2026, 3, 1)] == earlier  # not touched
    # months from March on are summed again from the days; February keeps its recorded total
    assert [r for r in monthly_rows() if r[0] >= datetime.date(2026, 3, 1)] == [
        r for r in monthly if r[0] >= datetime.date(2026, 3, 1)]


def test_drift_is_repaired_recorded_and_audited(shop, people):
    scenario(shop, people)
    daily, monthly = daily_rows(), monthly_rows()
    DailySalesFact.objects.filter(kind="order").update(amount=Decimal("1.00"))
    MonthlySalesFact.objects.filter(kind="shipment").delete()
    DailySalesFact.objects.create(day=datetime.date(2026, 6, 1), kind="shipment", owner_id=999, currency="CNY",
                                  amount=Decimal("5.00"), count=1)
    run = analytics.sales_facts_rebuild(actor=people["admin"])
    assert daily_rows() == daily and monthly_rows() == monthly
    orders_days = len([r for r in daily if r[1] == "order"])
    assert run.changed["daily"] == {"deleted": 1, "updated": orders_days, "inserted": 0}
    assert run.changed["monthly"]["inserted"] == len([r for r in monthly if r[1] == "shipment"])
    assert run.before["order"] != run.after["order"] and run.before["shipment"]["rows"] == run.after["shipment"][
        "rows"] + 1
    entry = AuditEntry.objects.get(content_type__model="factrebuild", object_id=str(run.pk))
    assert entry.action == "rebuild" and entry.actor == people["admin"] and "order" in entry.changes
    assert FactRebuild.objects.filter(pk=run.pk, actor=people["admin"]).exists()


def test_an_empty_tenant_rebuilds_to_nothing(alpha):
    run = analytics.sales_facts_rebuild(since=datetime.date(2020, 1, 1))
    assert daily_rows() == [] and run.after["order"] == {"rows": 0, "amount": "0.00", "count": 0}


def test_the_command_and_the_task(shop, people, tenant_a):
    scenario(shop, people)
    daily = daily_rows()
    DailySalesFact.objects.filter(kind__in=["order", "shipment"]).delete()
    MonthlySalesFact.objects.filter(kind__in=["order", "shipment"]).delete()
    out = StringIO()
    call_command("analytics_rebuild", schema=tenant_a.schema_name, stdout=out)
    assert tenant_a.schema_name in out.getvalue() and "order" in out.getvalue()
    from django.db import connection

    connection.set_tenant(tenant_a)  # the command leaves the public schema behind
    assert daily_rows() == daily
    from crm.analytics.tasks import analytics_facts_rebuild_task

    DailySalesFact.objects.filter(day__gte=datetime.date(2026, 3, 1), kind__in=["order", "shipment"]).delete()
    after = analytics_facts_rebuild_task.apply(kwargs={"since": "2026-03-01"}).get()
    assert daily_rows() == daily and after["order"]["count"] >= 1
    with pytest.raises(Exception, match="since"):
        call_command("analytics_rebuild", schema=tenant_a.schema_name, since="yesterday")


def test_the_demo_dashboard_has_figures(tenant_a, in_tenant, people):
    from crm.analytics import selectors
    from crm.catalog.services import catalog_load_demo
    from crm.orders.services import orders_load_demo
    from tenants.demo import demo_customers_ensure, demo_facts_rebuild

    demo_customers_ensure(tenant_a)
    with in_tenant(tenant_a):
        catalog_load_demo()
        orders_load_demo()
        DailySalesFact.objects.all().delete()  # as if the demo had been loaded before this app existed
        MonthlySalesFact.objects.all().delete()
    demo_facts_rebuild(tenant_a)
    with in_tenant(tenant_a):
        result = selectors.sales_dashboard(actor=people["exec"], query=selectors.dashboard_params({}))
    assert result.totals["order"].count >= 3 and result.totals["shipment"].count >= 1 and not result.empty


@pytest.mark.skipif(not FINANCE, reason="crm.finance records the collections")
def test_payments_are_collections_and_the_rebuild_recomputes_them(shop, people):
    from crm.finance import services as finance

    order = approved(shop, people, lines=[line(shop.gps, "3")])
    services.shipment_create(actor=people["warehouse"], order_id=order.pk, data={})
    invoice = finance.invoice_issue(actor=people["finance"], order_id=order.pk, data={})
    finance.payment_record(actor=people["finance"], invoice_id=invoice.pk, data={"amount": "100.00"})
    voided = finance.payment_record(actor=people["finance"], invoice_id=invoice.pk, data={"amount": "50.00"})
    finance.payment_void(actor=people["finance"], payment_id=voided.pk, reason="退票")
    today = daily_rows("order")[0][0]
    assert daily_rows("collection") == [(today, "collection", people["sales"].pk, order.department_id,
                                         order.region_id, "CNY", Decimal("100.00"), 1)]
    daily, monthly = daily_rows(), monthly_rows()
    run = analytics.sales_facts_rebuild()
    assert run.kinds == ["order", "shipment", "collection"]
    assert daily_rows() == daily and monthly_rows() == monthly
    DailySalesFact.objects.filter(kind="collection").delete()  # drift: the rebuild restores them from payments
    analytics.sales_facts_rebuild(since=today)
    assert daily_rows() == daily
