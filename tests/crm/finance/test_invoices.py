"""Issuing and voiding invoices: from a shipped order only, several per order but never more
than its total, the amounts checked to the cent, the order moving to invoiced when they cover
it and back to shipped when one is voided; finance only; the actor's scope; audit rows and
the order's timeline."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from crm.audit.models import AuditEntry
from crm.finance import services
from crm.finance.models import Invoice
from crm.orders.models import Order, OrderEvent

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db


def kinds(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", flat=True))


def test_one_invoice_for_the_whole_order_moves_it_to_invoiced(alpha, people, shipped):
    order = shipped(quantity="2")  # 2 × 100.00 + 13 % = 226.00
    invoice = invoice_make(actor=people["finance"], order=order, tax_number="44031234", kind="vat_special")
    assert (invoice.net_amount, invoice.tax_amount, invoice.total) == (Decimal("200.00"), Decimal("26.00"),
                                                                      Decimal("226.00"))
    assert invoice.number.startswith(f"INV{timezone.localdate().year}-") and invoice.status == "open"
    assert invoice.issued_on == timezone.localdate()
    assert invoice.due_on == timezone.localdate() + datetime.timedelta(days=30)  # the order's payment terms
    assert (invoice.customer_id, invoice.owner_id, invoice.department_id, invoice.region_id) == (
        order.customer_id, order.owner_id, order.department_id, order.region_id)
    assert invoice.buyer_name == order.customer.name and invoice.created_by == people["finance"]
    order.refresh_from_db()
    assert order.status == "invoiced" and order.invoiced_at is not None
    event = OrderEvent.objects.filter(order=order).order_by("-id").first()
    assert (event.kind, event.from_status, event.to_status) == ("invoiced", "shipped", "invoiced")
    assert event.data["number"] == invoice.number and invoice.number in event.note
    entry = AuditEntry.objects.get(action="issue", object_id=str(invoice.pk), content_type__model="invoice")
    assert entry.actor == people["finance"] and entry.changes["total"]["new"] == "226.00"


def test_several_invoices_per_order_split_the_tax_and_the_last_takes_what_is_left(alpha, people, shop, shipped):
    order = shipped(quantity="3", product=shop.cable)  # 3 × 33.33 = 99.99 net, 6 %: 6.00 tax, 105.99
    assert (order.net_total, order.tax_total, order.total) == (Decimal("99.99"), Decimal("6.00"), Decimal("105.99"))
    first = invoice_make(actor=people["finance"], order=order, total="50.00")
    assert first.tax_amount == Decimal("2.83") and first.net_amount == Decimal("47.17")  # 50 × 6.00 / 105.99
    order.refresh_from_db()
    assert order.status == "shipped"  # not covered yet
    assert kinds(order)[-1] == "invoiced"  # the partial invoice is on the timeline without a status change
    second = invoice_make(actor=people["finance"], order=order)  # empty total: the rest
    assert second.total == Decimal("55.99") and second.tax_amount == Decimal("3.17")
    assert first.net_amount + second.net_amount == order.net_total
    order.refresh_from_db()
    assert order.status == "invoiced"
    with pytest.raises(services.FinanceConflict):
        invoice_make(actor=people["finance"], order=order, total="0.01")


def test_over_invoicing_is_refused_naming_the_field(alpha, people, shipped):
    order = shipped()  # 113.00
    invoice_make(actor=people["finance"], order=order, total="100.00")
    with pytest.raises(services.AmountTooLarge) as refused:
        invoice_make(actor=people["finance"], order=order, total="13.01")
    assert refused.value.field == "total" and "13.00" in refused.value.message
    assert Invoice.objects.filter(order=order).count() == 1
    with pytest.raises(services.AmountTooLarge) as tax:
        invoice_make(actor=people["finance"], order=order, total="13.00", tax_amount="5.00")
    assert tax.value.field == "tax_amount"
    assert invoice_make(actor=people["finance"], order=order, total="13.00").tax_amount == Decimal("1.50")


@pytest.mark.parametrize(("value", "message"), [
    ("0", "价税合计必须大于 0。"), ("-5", "价税合计必须大于 0。"), ("1.005", "价税合计最多保留 2 位小数。"),
    ("abc", "价税合计必须是数字。"), ("NaN", "价税合计必须是数字。"),
])
def test_bad_amounts_are_refused(alpha, people, shipped, value, message):
    order = shipped()
    with pytest.raises(ValidationError) as refused:
        invoice_make(actor=people["finance"], order=order, total=value)
    assert refused.value.message_dict == {"total": [message]}
    assert not Invoice.objects.filter(order=order).exists()


@pytest.mark.parametrize(("data", "field"), [
    ({"kind": "receipt"}, "kind"), ({"issued_on": "2026-13-40"}, "issued_on"),
    ({"tax_number": "12 34"}, "tax_number"), ({"tax_amount": "5"}, "total"),
    ({"total": "10", "tax_amount": "11"}, "tax_amount"), ({"note": "x" * 501}, "note"),
])
def test_bad_input_names_the_field(alpha, people, shipped, data, field):
    order = shipped()
    with pytest.raises(ValidationError) as refused:
        invoice_make(actor=people["finance"], order=order, **data)
    assert field in refused.value.message_dict


def test_issue_dates_are_not_in_the_future(alpha, people, shipped):
    order = shipped()
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    with pytest.raises(ValidationError) as refused:
        invoice_make(actor=people["finance"], order=order, issued_on=tomorrow)
    assert "不能是将来的日期" in refused.value.message_dict["issued_on"][0]
    invoice = invoice_make(actor=people["finance"], order=order, issued_on=days_ago(10))
    assert invoice.due_on == timezone.localdate() + datetime.timedelta(days=20)


def test_the_due_date_follows_the_orders_payment_terms(alpha, people, shipped):
    order = shipped(payment_terms_days="60")
    invoice = invoice_make(actor=people["finance"], order=order, issued_on=days_ago(1))
    assert (invoice.due_on - invoice.issued_on).days == 60


@pytest.mark.parametrize("status", ["draft", "in_approval", "approved", "partially_shipped", "cancelled"])
def test_an_order_that_has_not_shipped_cannot_be_invoiced(alpha, people, shop, status):
    from tests.crm.orders.factories import order_make

    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    Order.objects.filter(pk=order.pk).update(status=status)
    with pytest.raises(services.FinanceConflict) as refused:
        invoice_make(actor=people["finance"], order=order)
    assert refused.value.code == "order_not_invoiceable" and refused.value.current == status
    assert not Invoice.objects.filter(order=order).exists()


def test_only_finance_issues_and_voids(alpha, people, shipped):
    order = shipped()
    for key in ("sales", "secretary", "warehouse", "manager", "exec"):
        with pytest.raises(PermissionDenied):
            invoice_make(actor=people[key], order=order)
    invoice = invoice_make(actor=people["admin"], order=order)  # the tenant admin may
    with pytest.raises(PermissionDenied):
        services.invoice_void(actor=people["sales"], invoice_id=invoice.pk, reason="x")
    assert Invoice.objects.filter(order=order).count() == 1


def test_the_per_invoice_limit(alpha, people, shipped):
    services.finance_settings_update(actor=people["finance"], data={"invoice_limit": "100.00"})
    order = shipped()  # 113.00: over one invoice's limit
    with pytest.raises(services.AmountTooLarge) as refused:
        invoice_make(actor=people["finance"], order=order)
    assert refused.value.code == "exceeds_invoice_limit" and "100.00" in refused.value.message
    invoice_make(actor=people["finance"], order=order, total="100.00")
    invoice_make(actor=people["finance"], order=order)
    order.refresh_from_db()
    assert order.status == "invoiced"


def test_a_tax_number_is_used_once_and_the_same_invoice_again_returns_it(alpha, people, shipped):
    order, other = shipped(), shipped()
    first = invoice_make(actor=people["finance"], order=order, tax_number="12345678", total="50.00")
    again = invoice_make(actor=people["finance"], order=order, tax_number="12345678", total="50.00")
    assert again.pk == first.pk and Invoice.objects.filter(order=order).count() == 1
    with pytest.raises(ValidationError) as refused:
        invoice_make(actor=people["finance"], order=other, tax_number="12345678")
    assert first.number in refused.value.message_dict["tax_number"][0]


def test_void_moves_the_order_back_to_shipped_and_needs_no_live_payment(alpha, people, shipped):
    finance = people["finance"]
    order = shipped()
    invoice = invoice_make(actor=finance, order=order)
    payment = payment_make(actor=finance, invoice=invoice, amount="13.00")
    with pytest.raises(services.FinanceConflict) as refused:
        services.invoice_void(actor=finance, invoice_id=invoice.pk, reason="开错抬头")
    assert refused.value.code == "invoice_has_payments"
    with pytest.raises(ValidationError):  # a reason is required
        services.invoice_void(actor=finance, invoice_id=invoice.pk, reason=" ")
    services.payment_void(actor=finance, payment_id=payment.pk, reason="到账后退回")
    invoice.refresh_from_db()
    with pytest.raises(services.StaleVersion):
        services.invoice_void(actor=finance, invoice_id=invoice.pk, reason="开错抬头", version=invoice.version - 1)
    voided = services.invoice_void(actor=finance, invoice_id=invoice.pk, reason="开错抬头", version=invoice.version)
    assert voided.status == "void" and voided.voided_by == finance and voided.void_reason == "开错抬头"
    order.refresh_from_db()
    assert order.status == "shipped" and order.invoiced_at is None
    event = OrderEvent.objects.filter(order=order).order_by("-id").first()
    assert (event.kind, event.from_status, event.to_status) == ("invoice_voided", "invoiced", "shipped")
    assert services.invoice_void(actor=finance, invoice_id=invoice.pk, reason="again").void_reason == "开错抬头"
    assert AuditEntry.objects.filter(action="void", object_id=str(invoice.pk), content_type__model="invoice").count() == 1
    again = invoice_make(actor=finance, order=order)  # the order can be invoiced anew
    assert again.total == order.total
    order.refresh_from_db()
    assert order.status == "invoiced"


def test_unknown_ids_look_like_nothing(alpha, people, shipped):
    order = shipped()
    invoice = invoice_make(actor=people["finance"], order=order, total="10.00")
    for bad in (999999999, "abc", None, True, -1):
        with pytest.raises(services.NotInScope):
            services.invoice_issue(actor=people["finance"], order_id=bad, data={})
        with pytest.raises(services.NotInScope):
            services.invoice_void(actor=people["finance"], invoice_id=bad, reason="x")
        with pytest.raises(services.NotInScope):
            services.payment_record(actor=people["finance"], invoice_id=bad, data={"amount": "1"})
    assert Invoice.objects.get(pk=invoice.pk).status == "open"
