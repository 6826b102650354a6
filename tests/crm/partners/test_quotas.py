"""Quota writes and the attainment arithmetic: orders approved in and out of the period,
cancelled ones, partial shipments, partial payments, a category subtree. Exact to the cent."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.utils import timezone

from crm.audit.models import AuditEntry
from crm.orders import services as orders
from crm.orders.models import Order
from crm.partners import quotas
from tests.crm.catalog.factories import category_make, product_make, stocked_make
from tests.crm.finance.factories import invoice_make, payment_make


def _approve(order, *approvers):
    from crm.approvals.selectors import approval_request_pending_for
    from crm.approvals.services import approval_approve

    for approver in approvers:
        request = approval_request_pending_for(doc_type="partner_order", object_id=order.pk)
        assert request is not None, "no pending approval"
        approval_approve(actor=approver, request_id=request.pk, comment="同意")
    order.refresh_from_db()
    assert order.status == "approved", order.status
    return order


def _partner_order(people, partner, lines):
    admin = people["admin"]
    order = orders.order_create(actor=admin, partner_id=partner.pk, data={
        "customer_id": partner.customer_id, "lines": [{"product_id": p.pk, "quantity": str(q)} for p, q in lines]})
    order = orders.order_submit(actor=admin, order_id=order.pk)
    return _approve(order, people["manager"], people["secretary"])


def test_quota_set_validates_and_upserts(channel, people):
    admin = people["admin"]
    today = timezone.localdate()
    start = today.replace(day=1)
    with pytest.raises(ValidationError) as err:
        quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="week", period_start=start, amount="10")
    assert "period" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month",
                         period_start=start + datetime.timedelta(days=1) if start.day == 1 else start, amount="10")
    assert "period_start" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=start, amount="-5")
    assert "amount" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start="2026-13-01",
                         amount="5")
    assert "period_start" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=start,
                         amount="5", category_id=999999999)
    assert "category_id" in err.value.message_dict
    q1 = quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=start,
                          amount="1000")
    q2 = quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=start.isoformat(),
                          amount="2000.50")
    assert q1.pk == q2.pk and q2.amount == Decimal("2000.50") and q2.version == 2
    assert q2.period_end == quotas.period_end_of("month", start)
    assert AuditEntry.objects.filter(action="quota_set", object_id=str(channel.partner.pk)).count() == 2
    quotas.quota_delete(actor=admin, quota_id=q1.pk)
    assert not quotas.quotas_of_partner(partner_id=channel.partner.pk)


def test_quota_needs_permission_and_scope(channel, people):
    start = timezone.localdate().replace(day=1)
    with pytest.raises(PermissionDenied):
        quotas.quota_set(actor=people["sales2"], partner_id=channel.partner.pk, period="month", period_start=start,
                         amount="10")
    with pytest.raises(PermissionDenied):
        quotas.quota_set(actor=channel.padmin, partner_id=channel.partner.pk, period="month", period_start=start,
                         amount="10")
    with pytest.raises(ObjectDoesNotExist):
        quotas.quota_set(actor=people["admin"], partner_id=999999999, period="month", period_start=start, amount="10")


def test_period_helpers():
    d = datetime.date(2026, 11, 27)
    assert quotas.period_start_of("month", d) == datetime.date(2026, 11, 1)
    assert quotas.period_start_of("quarter", d) == datetime.date(2026, 10, 1)
    assert quotas.period_start_of("year", d) == datetime.date(2026, 1, 1)
    assert quotas.period_end_of("month", datetime.date(2026, 2, 1)) == datetime.date(2026, 2, 28)
    assert quotas.period_end_of("quarter", datetime.date(2026, 10, 1)) == datetime.date(2026, 12, 31)
    assert quotas.period_end_of("year", datetime.date(2026, 1, 1)) == datetime.date(2026, 12, 31)
    assert quotas.previous_period_start("quarter", datetime.date(2026, 1, 1)) == datetime.date(2025, 10, 1)


def test_attainment_arithmetic(channel, people):
    admin, finance, warehouse = people["admin"], people["finance"], people["warehouse"]
    today = timezone.localdate()
    month = today.replace(day=1)
    quarter = quotas.period_start_of("quarter", today)
    parent = category_make(name=f"渠道测试大类{channel.partner.pk}")
    child = category_make(name=f"渠道测试小类{channel.partner.pk}", parent=parent)
    elsewhere = category_make(name=f"渠道测试其他{channel.partner.pk}")
    p1, warehouse_row = stocked_make(on_hand="100", default=True,
                                     product=product_make(list_price="100.00", category=child))
    p2, _w = stocked_make(on_hand="100", warehouse=warehouse_row,
                          product=product_make(list_price="33.33", tax_rate="0.06", category=elsewhere))
    # Order 1, approved now: 3 x 113.00 + 2 x 35.33 (33.33 + 6 % = 70.66 for two) = 409.66
    o1 = _partner_order(people, channel.partner, [(p1, 3), (p2, 2)])
    assert o1.total == Decimal("409.66")
    l1, l2 = list(o1.lines.order_by("position"))
    orders.shipment_create(actor=warehouse, order_id=o1.pk, data={"lines": [
        {"order_line_id": l1.pk, "quantity": "1"}, {"order_line_id": l2.pk, "quantity": "1"}]})
    # Order 2, approved then cancelled: never counts
    o2 = _partner_order(people, channel.partner, [(p1, 5)])
    orders.order_cancel(actor=admin, order_id=o2.pk, reason="客户取消")
    # Order 3, approved the day before this month began, shipped, invoiced and partly paid now
    o3 = _partner_order(people, channel.partner, [(p1, 2)])
    before_month = month - datetime.timedelta(days=1)
    Order.objects.filter(pk=o3.pk).update(approved_at=timezone.make_aware(
        datetime.datetime.combine(before_month, datetime.time(12, 0))))
    orders.shipment_create(actor=warehouse, order_id=o3.pk, data={})
    invoice = invoice_make(actor=finance, order=Order.objects.get(pk=o3.pk))
    payment_make(actor=finance, invoice=invoice, amount="100.00")
    # A staff order of another customer: never counts
    quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=month, amount="1000")
    quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="quarter", period_start=quarter, amount="2000")
    quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=month, amount="400",
                     category_id=parent.pk)
    quotas.quota_set(actor=admin, partner_id=channel.other.pk, period="month", period_start=month, amount="1")

    got = {(a.quota.period, a.quota.category_id): a
           for a in quotas.quota_current_for_partner(partner_id=channel.partner.pk)}
    assert len(got) == 3
    m = got[("month", None)]
    assert (m.ordered, m.shipped, m.collected) == (Decimal("409.66"), Decimal("374.33"), Decimal("100.00"))
    assert (m.pct_ordered, m.pct_shipped, m.pct_collected) == (Decimal("41.0"), Decimal("37.4"), Decimal("10.0"))
    c = got[("month", parent.pk)]
    # only p1's lines (the child category is in the subtree): 339.00 ordered; 113.00 + 226.00 shipped;
    # the payment is on order 3, all of whose total is in the category
    assert (c.ordered, c.shipped, c.collected) == (Decimal("339.00"), Decimal("339.00"), Decimal("100.00"))
    assert c.pct_ordered == Decimal("84.8")
    q = got[("quarter", None)]
    in_quarter = before_month >= quarter
    assert q.ordered == (Decimal("635.66") if in_quarter else Decimal("409.66"))
    assert q.shipped == Decimal("374.33") and q.collected == Decimal("100.00")
    other = quotas.quota_current_for_partner(partner_id=channel.other.pk)
    assert [(a.ordered, a.shipped, a.collected) for a in other] == [(Decimal("0.00"),) * 3]
    # A date in no quota's period: nothing
    assert quotas.quota_attainment(partner_id=channel.partner.pk, on=month - datetime.timedelta(days=400)) == []
    assert [a.quota.period for a in quotas.quota_attainment(partner_id=channel.partner.pk, period="quarter")] == [
        "quarter"]


def test_category_collected_is_prorated(channel, people):
    """A payment counts for a category quota in the share of its order that the category's
    lines make up, rounded to the cent."""
    admin, finance, warehouse = people["admin"], people["finance"], people["warehouse"]
    month = timezone.localdate().replace(day=1)
    cat = category_make(name=f"渠道分摊{channel.partner.pk}")
    p1, wh = stocked_make(on_hand="50", default=True, product=product_make(list_price="100.00", category=cat))
    p2, _w = stocked_make(on_hand="50", warehouse=wh, product=product_make(list_price="200.00"))
    order = _partner_order(people, channel.partner, [(p1, 1), (p2, 1)])  # 113.00 + 226.00 = 339.00
    orders.shipment_create(actor=warehouse, order_id=order.pk, data={})
    invoice = invoice_make(actor=finance, order=Order.objects.get(pk=order.pk))
    payment_make(actor=finance, invoice=invoice, amount="100.00")
    quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=month, amount="300",
                     category_id=cat.pk)
    (a,) = quotas.quota_current_for_partner(partner_id=channel.partner.pk)
    # 100.00 x 113 / 339 = 33.333... -> 33.33
    assert (a.ordered, a.shipped, a.collected) == (Decimal("113.00"), Decimal("113.00"), Decimal("33.33"))


def test_ranking_arithmetic(channel, people):
    """Attainment = ordered / quota; growth against the previous period; collection = collected
    / ordered. Partners without figures sort last."""
    from crm.partners.selectors import partner_list_visible_to

    admin, finance, warehouse = people["admin"], people["finance"], people["warehouse"]
    today = timezone.localdate()
    month = today.replace(day=1)
    product, _w = stocked_make(on_hand="100", default=True, product=product_make(list_price="100.00"))
    now_order = _partner_order(people, channel.partner, [(product, 4)])  # 452.00
    old_order = _partner_order(people, channel.partner, [(product, 2)])  # 226.00, moved to last month
    Order.objects.filter(pk=old_order.pk).update(approved_at=timezone.make_aware(
        datetime.datetime.combine(month - datetime.timedelta(days=3), datetime.time(9, 0))))
    orders.shipment_create(actor=warehouse, order_id=now_order.pk, data={})
    invoice = invoice_make(actor=finance, order=Order.objects.get(pk=now_order.pk))
    payment_make(actor=finance, invoice=invoice, amount="226.00")
    quotas.quota_set(actor=admin, partner_id=channel.partner.pk, period="month", period_start=month, amount="904")
    rows = quotas.partner_ranking(partners=partner_list_visible_to(actor=admin).filter(
        pk__in=[channel.partner.pk, channel.other.pk]), period="month", period_start=today)
    assert [r.partner.pk for r in rows] == [channel.partner.pk, channel.other.pk]
    top = rows[0]
    assert (top.ordered, top.previous, top.collected) == (Decimal("452.00"), Decimal("226.00"), Decimal("226.00"))
    assert (top.pct_attainment, top.growth_pct, top.collection_pct) == (Decimal("50.0"), Decimal("100.0"),
                                                                       Decimal("50.0"))
    assert rows[1].pct_attainment is None and rows[1].ordered == Decimal("0.00")
    by_growth = quotas.partner_ranking(partners=partner_list_visible_to(actor=admin).filter(
        pk__in=[channel.partner.pk, channel.other.pk]), period="month", period_start=today, sort="growth")
    assert by_growth[0].partner.pk == channel.partner.pk
    # a salesperson of another region ranks nobody of theirs
    assert channel.partner.pk not in {r.partner.pk for r in quotas.partner_ranking(
        partners=partner_list_visible_to(actor=people["sales2"]), period="month", period_start=today)}
    with pytest.raises(ValidationError):
        quotas.partner_ranking(partners=partner_list_visible_to(actor=admin), period="day", period_start=today)


def test_settings_and_task(channel, people):
    from config.settings.celery import CELERY_BEAT_SCHEDULE
    from crm.partners import services
    from crm.partners.tasks import deals_expire_task

    with pytest.raises(ValidationError) as err:
        services.partner_settings_update(actor=people["admin"], data={"deal_protection_days": "0",
                                                                      "stock_display": "all",
                                                                      "low_stock_threshold": "x"})
    assert {"deal_protection_days", "stock_display", "low_stock_threshold"} <= set(err.value.message_dict)
    with pytest.raises(PermissionDenied):
        services.partner_settings_update(actor=people["manager"], data={"deal_protection_days": "10"})
    assert services.partner_settings_update(actor=people["admin"], data={"deal_protection_days": "30"}
                                            ).deal_protection_days == 30
    assert deals_expire_task.name == "partners.deals_expire" and deals_expire_task() == 0
    assert CELERY_BEAT_SCHEDULE["partners-deals-expire"]["args"] == ("partners.deals_expire",)
