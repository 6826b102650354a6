"""Payments: partial and several per invoice, never more than the invoice still owes, the
invoice's status and settlement date following them, the order moving to paid when every
invoice of a fully invoiced order is paid and back when one is voided; the sales dashboard's
collections; finance only; audit rows and the order's timeline."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.audit.models import AuditEntry
from crm.finance import services
from crm.finance.models import Invoice, Payment
from crm.orders.models import Order, OrderEvent

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db


def test_partial_payments_several_per_invoice_then_the_order_is_paid(alpha, people, shipped):
    finance = people["finance"]
    order = shipped(quantity="2")  # 226.00
    invoice = invoice_make(actor=finance, order=order, issued_on=days_ago(20))
    first = payment_make(actor=finance, invoice=invoice, amount="100.00", received_on=days_ago(10),
                         method="acceptance_bill", reference="HP-001")
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.outstanding) == ("partially_paid", Decimal("100.00"),
                                                                         Decimal("126.00"))
    assert first.number.startswith(f"PAY{timezone.localdate().year}-") and first.recorded_by == finance
    assert (first.owner_id, first.customer_id, first.order_id) == (order.owner_id, order.customer_id, order.pk)
    assert Order.objects.get(pk=order.pk).status == "invoiced"
    second = payment_make(actor=finance, invoice=invoice, amount="100.00", received_on=days_ago(3))
    third = payment_make(actor=finance, invoice=invoice, amount="26.00", received_on=days_ago(5))
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_amount == invoice.total
    assert invoice.settled_on == second.received_on  # the latest payment's day, not the last recorded
    order.refresh_from_db()
    assert order.status == "paid" and order.paid_at is not None
    events = list(OrderEvent.objects.filter(order=order, kind="paid").order_by("id"))
    assert len(events) == 3 and events[-1].to_status == "paid" and events[0].to_status == ""
    assert events[-1].data["number"] == third.number
    audit = AuditEntry.objects.filter(content_type__model="invoice", object_id=str(invoice.pk), action="payment")
    assert audit.count() == 3


def test_more_than_owed_is_refused_naming_the_amount(alpha, people, shipped):
    finance = people["finance"]
    invoice = invoice_make(actor=finance, order=shipped())  # 113.00
    with pytest.raises(services.AmountTooLarge) as refused:
        payment_make(actor=finance, invoice=invoice, amount="113.01")
    assert refused.value.field == "amount" and refused.value.code == "exceeds_outstanding"
    assert "113.00" in refused.value.message
    payment_make(actor=finance, invoice=invoice, amount="113.00")
    with pytest.raises(services.AmountTooLarge) as paid:
        payment_make(actor=finance, invoice=invoice, amount="0.01")
    assert "已全部收款" in paid.value.message
    assert Payment.objects.filter(invoice=invoice).count() == 1


@pytest.mark.parametrize(("amount", "message"), [
    ("0", "收款金额必须大于 0。"), ("-1", "收款金额必须大于 0。"), ("0.001", "收款金额最多保留 2 位小数。"),
    ("1.234", "收款金额最多保留 2 位小数。"), ("", "请填写收款金额。"), ("一百", "收款金额必须是数字。"),
])
def test_bad_amounts(alpha, people, shipped, amount, message):
    invoice = invoice_make(actor=people["finance"], order=shipped())
    with pytest.raises(ValidationError) as refused:
        payment_make(actor=people["finance"], invoice=invoice, amount=amount)
    assert refused.value.message_dict == {"amount": [message]}
    assert not Payment.objects.filter(invoice=invoice).exists()
    assert Invoice.objects.get(pk=invoice.pk).paid_amount == 0


@pytest.mark.parametrize(("data", "field"), [
    ({"method": "bitcoin"}, "method"), ({"received_on": "yesterday"}, "received_on"),
    ({"currency": "USD"}, "currency"), ({"reference": "x" * 101}, "reference"),
])
def test_bad_payment_input_names_the_field(alpha, people, shipped, data, field):
    invoice = invoice_make(actor=people["finance"], order=shipped())
    with pytest.raises(ValidationError) as refused:
        payment_make(actor=people["finance"], invoice=invoice, amount="1.00", **data)
    assert field in refused.value.message_dict


def test_only_finance_records_and_voids(alpha, people, shipped):
    invoice = invoice_make(actor=people["finance"], order=shipped())
    for key in ("sales", "secretary", "warehouse", "manager"):
        with pytest.raises(PermissionDenied):
            payment_make(actor=people[key], invoice=invoice, amount="1.00")
    payment = payment_make(actor=people["admin"], invoice=invoice, amount="1.00")
    with pytest.raises(PermissionDenied):
        services.payment_void(actor=people["sales"], payment_id=payment.pk, reason="x")
    assert Payment.objects.get(pk=payment.pk).voided_at is None


def test_a_void_invoice_takes_no_payment(alpha, people, shipped):
    invoice = invoice_make(actor=people["finance"], order=shipped())
    services.invoice_void(actor=people["finance"], invoice_id=invoice.pk, reason="作废重开")
    with pytest.raises(services.FinanceConflict) as refused:
        payment_make(actor=people["finance"], invoice=invoice, amount="1.00")
    assert refused.value.code == "invoice_void"


def test_voiding_a_payment_reopens_the_invoice_and_the_order(alpha, people, shipped):
    finance = people["finance"]
    order = shipped()
    invoice = invoice_make(actor=finance, order=order)
    payment = payment_make(actor=finance, invoice=invoice, amount=invoice.total)
    order.refresh_from_db()
    assert order.status == "paid"
    with pytest.raises(ValidationError):
        services.payment_void(actor=finance, payment_id=payment.pk, reason="")
    payment.refresh_from_db()
    with pytest.raises(services.StaleVersion):
        services.payment_void(actor=finance, payment_id=payment.pk, reason="退票", version=payment.version + 1)
    voided = services.payment_void(actor=finance, payment_id=payment.pk, reason="退票", version=payment.version)
    assert voided.voided_at and voided.voided_by == finance and voided.void_reason == "退票"
    invoice.refresh_from_db()
    assert (invoice.status, invoice.paid_amount, invoice.settled_on) == ("open", Decimal("0.00"), None)
    order.refresh_from_db()
    assert order.status == "invoiced" and order.paid_at is None
    event = OrderEvent.objects.filter(order=order).order_by("-id").first()
    assert (event.kind, event.from_status, event.to_status) == ("payment_voided", "paid", "invoiced")
    again = services.payment_void(actor=finance, payment_id=payment.pk, reason="again")
    assert again.void_reason == "退票"  # nothing changes the second time
    payment_make(actor=finance, invoice=invoice, amount=invoice.total)
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_closed_orders_payments_stay(alpha, people, shipped):
    from crm.orders.services import order_close

    finance = people["finance"]
    order = shipped()
    invoice = invoice_make(actor=finance, order=order)
    payment = payment_make(actor=finance, invoice=invoice, amount=invoice.total)
    order_close(actor=finance, order_id=order.pk)
    with pytest.raises(services.FinanceConflict) as refused:
        services.payment_void(actor=finance, payment_id=payment.pk, reason="x")
    assert refused.value.code == "order_closed"


def test_an_order_with_two_invoices_is_paid_when_both_are(alpha, people, shipped):
    finance = people["finance"]
    order = shipped(quantity="2")  # 226.00
    first = invoice_make(actor=finance, order=order, total="113.00")
    payment_make(actor=finance, invoice=first, amount="113.00")  # paid, but the order is not fully invoiced
    assert Order.objects.get(pk=order.pk).status == "shipped"
    second = invoice_make(actor=finance, order=order)
    assert Order.objects.get(pk=order.pk).status == "invoiced"
    payment_make(actor=finance, invoice=second, amount="113.00")
    assert Order.objects.get(pk=order.pk).status == "paid"


def test_collections_reach_the_sales_dashboard_and_a_void_takes_them_back(alpha, people, shipped):
    if not apps.is_installed("crm.analytics"):
        pytest.skip("crm.analytics is not installed")
    from crm.finance.selectors import unscoped_payment_facts

    facts = apps.get_model("analytics", "DailySalesFact")
    finance = people["finance"]
    order = shipped()
    invoice = invoice_make(actor=finance, order=order, issued_on=days_ago(9))
    day = timezone.localdate() - datetime.timedelta(days=4)  # counted on the day received
    payment = payment_make(actor=finance, invoice=invoice, amount="50.00", received_on=day.isoformat())
    row = facts.objects.get(kind="collection", day=day, owner_id=order.owner_id, currency="CNY")
    assert (row.amount, row.count) == (Decimal("50.00"), 1)
    assert (row.department_id, row.region_id) == (order.department_id, order.region_id)
    mine = [f for f in unscoped_payment_facts(day) if f["owner_id"] == order.owner_id and f["received_on"] == day]
    assert mine == [{"received_on": day, "owner_id": order.owner_id, "department_id": order.department_id,
                     "region_id": order.region_id, "currency": "CNY", "amount": Decimal("50.00"), "count": 1}]
    services.payment_void(actor=finance, payment_id=payment.pk, reason="退回")
    left = facts.objects.filter(kind="collection", day=day, owner_id=order.owner_id, currency="CNY")
    assert [(f.amount, f.count) for f in left] in ([], [(Decimal("0.00"), 0)])  # taken back (or the row dropped)
    assert not [f for f in unscoped_payment_facts(day) if f["owner_id"] == order.owner_id]


def test_payments_copy_the_invoices_scope_and_follow_the_visibility_rules(alpha, people, shipped):
    order = shipped()
    invoice = invoice_make(actor=people["finance"], order=order)
    payment = payment_make(actor=people["finance"], invoice=invoice, amount="10.00")
    assert Payment.objects.visible_to(people["sales"]).filter(pk=payment.pk).exists()
    assert not Payment.objects.visible_to(people["sales2"]).filter(pk=payment.pk).exists()
    assert Invoice.objects.visible_to(people["manager"]).filter(pk=invoice.pk).exists() == Order.objects.visible_to(
        people["manager"]).filter(pk=order.pk).exists()
