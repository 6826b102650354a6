"""Credit control counts what a customer owes: the outstanding amounts of its invoices plus
the part of its approved and shipped orders that is not invoiced yet; paid orders nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.orders.selectors import credit_status_for_customer, open_receivables_for_customer
from tests.crm.orders.factories import approve_pending, line, submitted_make

from .factories import invoice_make, payment_make

pytestmark = pytest.mark.django_db


def test_open_receivables_follow_invoices_and_payments(alpha, people, shop, shipped):
    finance = people["finance"]

    def owed(**kwargs):
        return open_receivables_for_customer(customer_id=shop.customer.pk, **kwargs)

    assert owed() == 0
    approved = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                              lines=[line(shop.gps, "2")]), people["secretary"])  # 226.00
    order = shipped(quantity="3")  # 339.00
    assert owed() == Decimal("565.00")
    first = invoice_make(actor=finance, order=order, total="113.00")
    assert owed() == Decimal("565.00")  # invoiced or not, still owed
    payment_make(actor=finance, invoice=first, amount="100.00")
    assert owed() == Decimal("465.00")  # 226 approved + 226 not invoiced + 13 outstanding
    second = invoice_make(actor=finance, order=order)  # the order is fully invoiced now
    assert owed() == Decimal("465.00")
    payment_make(actor=finance, invoice=first, amount="13.00")
    payment_make(actor=finance, invoice=second, amount="226.00")  # the order is paid
    assert owed() == approved.total == Decimal("226.00")
    assert owed(exclude_order_id=approved.pk) == 0
    assert owed(currency="USD") == 0
    status = credit_status_for_customer(customer_id=shop.customer.pk)
    assert status.open_receivables == Decimal("226.00")


def test_a_voided_payment_is_owed_again_and_an_over_limit_order_needs_the_override(alpha, people, shop, shipped):
    from crm.approvals.selectors import approval_request_pending_for
    from crm.finance.services import payment_void
    from crm.orders.services import customer_credit_set

    finance = people["finance"]
    order = shipped(quantity="2")  # 226.00
    invoice = invoice_make(actor=finance, order=order)
    payment = payment_make(actor=finance, invoice=invoice, amount="226.00")
    assert open_receivables_for_customer(customer_id=shop.customer.pk) == 0
    customer_credit_set(actor=finance, customer_id=shop.customer.pk, limit="300.00")
    within = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "2")])
    assert approval_request_pending_for(doc_type="order", object_id=within.pk).facts["credit_over_limit"] is False  # nothing owed: 226 is within 300
    payment_void(actor=finance, payment_id=payment.pk, reason="退票")
    assert open_receivables_for_customer(customer_id=shop.customer.pk) == Decimal("226.00")
    over = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "1")])
    assert approval_request_pending_for(doc_type="order", object_id=over.pk).facts["credit_over_limit"] is True
