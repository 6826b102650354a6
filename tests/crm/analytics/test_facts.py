"""Facts recorded as things happen (crm.analytics.services.sales_fact_record, called by the order
services): an order approved (through its approval, or at once with no step), an approved order
cancelled (reversed on the day it counted), shipments (the value shipped, cumulative rounding),
each in the business change's transaction; the tenant's calendar day (Asia/Shanghai)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from crm.analytics import services as analytics
from crm.analytics.calc import shipped_value
from crm.analytics.models import DailySalesFact
from crm.orders import services
from tests.crm.orders.factories import line, order_make, submitted_make

from .factories import approved, daily_rows, monthly_rows

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=SHANGHAI)


def local_today():
    from django.utils import timezone

    return timezone.localdate()


# -- orders ---------------------------------------------------------------------------------------------
def test_approval_records_the_order_total_on_its_day_and_month(shop, people):
    sales = people["sales"]
    order = approved(shop, people, lines=[line(shop.gps, "3")])  # 300.00 + 13 % = 339.00
    assert order.status == "approved" and order.total == Decimal("339.00")
    today = local_today()
    key = ("order", sales.pk, order.department_id, order.region_id, "CNY")
    assert daily_rows() == [(today, *key, Decimal("339.00"), 1)]
    assert monthly_rows() == [(today.replace(day=1), *key, Decimal("339.00"), 1)]
    second = approved(shop, people, lines=[line(shop.cable, "1")])  # 33.33 + 6 % = 35.33
    assert daily_rows() == [(today, *key, order.total + second.total, 2)]
    assert monthly_rows() == [(today.replace(day=1), *key, Decimal("374.33"), 2)]


def test_an_order_approved_at_once_without_steps_counts_too(shop, people):
    from crm.approvals.services import approval_policy_default_seed

    policy = approval_policy_default_seed(doc_type="order")
    policy.active = False
    policy.save(update_fields=["active"])
    order = submitted_make(actor=people["sales2"], customer=shop.customer2, lines=[line(shop.gps, "1")])
    assert order.status == "approved"
    assert [(r[1], r[2], r[6], r[7]) for r in daily_rows()] == [("order", people["sales2"].pk, order.total, 1)]


def test_nothing_counts_before_approval_and_a_rejection_counts_nothing(shop, people):
    from tests.crm.orders.factories import approve_pending  # noqa: F401

    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "1")])
    assert order.status == "in_approval" and daily_rows() == []
    from crm.approvals.selectors import approval_request_pending_for
    from crm.approvals.services import approval_reject

    request = approval_request_pending_for(doc_type="order", object_id=order.pk)
    approval_reject(actor=people["secretary"], request_id=request.pk, comment="价格不对")
    assert daily_rows() == [] and monthly_rows() == []


def test_cancelling_an_approved_order_reverses_its_fact_on_the_day_it_counted(shop, people):
    keep = approved(shop, people, lines=[line(shop.gps, "1")])
    gone = approved(shop, people, lines=[line(shop.gps, "2")])
    services.order_cancel(actor=people["sales"], order_id=gone.pk, reason="客户取消")
    services.order_cancel(actor=people["sales"], order_id=gone.pk, reason="再点一次")  # changes nothing
    assert [(r[1], r[6], r[7]) for r in daily_rows()] == [("order", keep.total, 1)]
    assert [(r[1], r[6], r[7]) for r in monthly_rows()] == [("order", keep.total, 1)]
    services.order_cancel(actor=people["sales"], order_id=keep.pk)
    assert daily_rows() == [] and monthly_rows() == []  # nothing left: no empty rows either
    draft = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    services.order_cancel(actor=people["sales"], order_id=draft.pk)  # never counted: nothing to reverse
    assert daily_rows() == []


def test_a_late_evening_approval_in_shanghai_counts_in_that_day_and_month(shop, people):
    """23:30 on 31 January in Shanghai is 15:30 UTC: January. 00:30 on 1 February in Shanghai
    is still 31 January in UTC: February."""
    late = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "1")])
    early = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "2")])
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 1, 31, 23, 30)):
        late = approved_now(late, people)
    with mock.patch("django.utils.timezone.now", return_value=at(2026, 2, 1, 0, 30)):
        early = approved_now(early, people)
    assert late.approved_at.astimezone(datetime.UTC).date() == datetime.date(2026, 1, 31)
    assert early.approved_at.astimezone(datetime.UTC).date() == datetime.date(2026, 1, 31)
    assert [(r[0], r[6]) for r in daily_rows()] == [(datetime.date(2026, 1, 31), late.total),
                                                    (datetime.date(2026, 2, 1), early.total)]
    assert [(r[0], r[6]) for r in monthly_rows()] == [(datetime.date(2026, 1, 1), late.total),
                                                      (datetime.date(2026, 2, 1), early.total)]


def approved_now(order, people):
    from tests.crm.orders.factories import approve_pending

    return approve_pending(order, people["secretary"])


# -- shipments ------------------------------------------------------------------------------------------
def test_shipments_record_the_value_shipped_and_their_thirds_add_up_to_the_line(shop, people):
    keeper = people["warehouse"]
    order = approved(shop, people, lines=[line(shop.cable, "3", unit_price="94.34"),  # 283.02 + 6 % 16.98 = 300.00
                                          line(shop.gps, "1")])  # 113.00
    cable, gps = order.lines.order_by("position")
    assert cable.gross_amount == Decimal("300.00")
    for day in (3, 4):
        services.shipment_create(actor=keeper, order_id=order.pk, data={
            "lines": [{"order_line_id": cable.pk, "quantity": "1"}], "shipped_at": f"2026-03-0{day}T10:00:00"})
    services.shipment_create(actor=keeper, order_id=order.pk, data={"shipped_at": "2026-03-31T23:59:00"})  # the rest
    rows = daily_rows("shipment")
    assert [(r[0], r[6], r[7]) for r in rows] == [
        (datetime.date(2026, 3, 3), Decimal("100.00"), 1), (datetime.date(2026, 3, 4), Decimal("100.00"), 1),
        (datetime.date(2026, 3, 31), Decimal("213.00"), 1)]  # 100.00 + 113.00
    assert monthly_rows("shipment") == [(datetime.date(2026, 3, 1), "shipment", people["sales"].pk,
                                         order.department_id, order.region_id, "CNY", Decimal("413.00"), 3)]
    assert sum(r[6] for r in rows) == order.total


@pytest.mark.parametrize(("gross", "quantity", "steps", "values"), [
    ("100.00", "3", ["1", "1", "1"], ["33.33", "33.34", "33.33"]),
    ("10.00", "3", ["2", "1"], ["6.67", "3.33"]),
    ("0.05", "2", ["1", "1"], ["0.03", "0.02"]),  # 0.025 half up
    ("99.99", "0.003", ["0.001", "0.002"], ["33.33", "66.66"]),
])
def test_shipped_value_uses_cumulative_rounding(gross, quantity, steps, values):
    before, out = Decimal("0"), []
    for step in steps:
        out.append(shipped_value(gross_amount=Decimal(gross), quantity=Decimal(quantity), shipped_before=before,
                                 shipped_now=Decimal(step)))
        before += Decimal(step)
    assert out == [Decimal(v) for v in values] and sum(out) == Decimal(gross)


def test_an_erp_delivery_counts_as_a_shipment(shop, people):
    from crm.orders.services import erp_shipment_apply

    order = approved(shop, people, lines=[line(shop.gps, "2")])
    context = mock.Mock(external_id="DN-7", describe=lambda: "ERP")
    erp_shipment_apply({"order_number": order.number, "lines": [{"sku": shop.gps.sku, "quantity": "2"}],
                        "shipped_at": "2026-04-01"}, context=context)
    assert [(r[0], r[6]) for r in daily_rows("shipment")] == [(datetime.date(2026, 4, 1), order.total)]


# -- in the caller's transaction --------------------------------------------------------------------------
def test_a_fact_rolls_back_with_the_business_change(shop, people):
    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "1")])

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        approved_now(order, people)
        assert len(daily_rows()) == 1
        raise Boom
    order.refresh_from_db()
    assert order.status == "in_approval" and daily_rows() == [] and monthly_rows() == []


def test_the_version_moves_after_the_commit_only(shop, people, django_capture_on_commit_callbacks):
    before = analytics.facts_version()
    assert before is not None  # Redis answers
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        approved(shop, people)
    assert analytics.facts_version() == before  # not before the commit
    for callback in callbacks:
        if callback.__name__ == "bump":  # the dashboard's; not the notifications
            callback()
    assert analytics.facts_version() > before


# -- the service's own checks ------------------------------------------------------------------------------
@pytest.mark.parametrize(("changes", "field"), [
    ({"kind": "refund"}, "kind"),
    ({"currency": "RMB1"}, "currency"),
    ({"amount": Decimal("1.005")}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"count": 1.5}, "count"),
    ({"owner_id": "x"}, "owner_id"),
    ({"day": "2026-01-01"}, "day"),
])
def test_bad_facts_are_refused_naming_the_field(alpha, changes, field):
    values = {"kind": "collection", "day": datetime.date(2026, 1, 5), "owner_id": 1, "department_id": None,
              "region_id": None, "currency": "CNY", "amount": Decimal("10.00"), **changes}
    with pytest.raises(ValidationError) as refused:
        analytics.sales_fact_record(**values)
    assert field in refused.value.message_dict
    assert not DailySalesFact.objects.exists()


def test_collections_and_their_voids_add_up_per_key(alpha):
    day = datetime.date(2026, 5, 20)
    common = {"day": day, "owner_id": 7, "department_id": None, "region_id": 3, "currency": "cny"}
    analytics.sales_fact_record(kind="collection", amount=Decimal("500.00"), **common)
    analytics.sales_fact_record(kind="collection", amount=Decimal("250.50"), **common)
    analytics.sales_fact_record(kind="collection", amount=Decimal("99.00"), **{**common, "currency": "USD"})
    assert daily_rows() == [(day, "collection", 7, None, 3, "CNY", Decimal("750.50"), 2),
                            (day, "collection", 7, None, 3, "USD", Decimal("99.00"), 1)]
    analytics.sales_fact_record(kind="collection", amount=Decimal("-250.50"), count=-1, **common)  # a void
    assert daily_rows()[0][6:] == (Decimal("500.00"), 1)
    analytics.sales_fact_record(kind="collection", amount=Decimal("0"), count=0, **common)  # nothing
    assert monthly_rows()[0][6:] == (Decimal("500.00"), 1)
