"""Invoices and payments follow a customer merge (and its undo); the customer's 360° page
shows its receivables within the viewer's scope."""

from __future__ import annotations

import pytest

from crm.audit.models import AuditEntry
from crm.finance.models import Invoice, Payment

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db


def test_a_merge_moves_invoices_and_payments_and_the_undo_moves_them_back(alpha, people, shop, shipped):
    from crm.customers import dedup
    from tests.crm.orders.factories import customer_make

    survivor, duplicate = shop.customer, customer_make(owner=people["sales"])
    invoice = invoice_make(actor=people["finance"], order=shipped(customer=duplicate))
    payment = payment_make(actor=people["finance"], invoice=invoice, amount="10.00")
    kept = invoice_make(actor=people["finance"], order=shipped(customer=survivor))
    invoice.refresh_from_db()
    record = dedup.customer_merge(actor=people["admin"], survivor_id=survivor.pk, merged_id=duplicate.pk)
    assert Invoice.objects.get(pk=invoice.pk).customer_id == survivor.pk
    assert Payment.objects.get(pk=payment.pk).customer_id == survivor.pk
    assert Invoice.objects.get(pk=invoice.pk).version == invoice.version + 1
    assert record.moved["invoices"] == [invoice.pk] and record.moved["payments"] == [payment.pk]
    assert AuditEntry.objects.filter(action="move", object_id=str(invoice.pk), content_type__model="invoice").exists()
    assert AuditEntry.objects.filter(action="move", object_id=str(payment.pk), content_type__model="payment").exists()
    dedup.customer_merge_undo(actor=people["admin"], merge_id=record.pk)
    assert Invoice.objects.get(pk=invoice.pk).customer_id == duplicate.pk
    assert Payment.objects.get(pk=payment.pk).customer_id == duplicate.pk
    assert Invoice.objects.get(pk=kept.pk).customer_id == survivor.pk


def test_the_customer_page_shows_what_it_owes(alpha, people, shop, shipped, web_as, tenant_a):
    late = invoice_make(actor=people["finance"], order=shipped(), issued_on=days_ago(40))
    payment_make(actor=people["finance"], invoice=late, amount="13.00")
    html = web_as(tenant_a, people["sales"]).get(f"/customers/{shop.customer.pk}/").content.decode()
    assert 'data-testid="customer-receivables"' in html and late.number in html
    assert "100.00" in html and f'href="/finance/invoices/{late.pk}/"' in html
    bare = web_as(tenant_a, people["sales2"]).get(f"/customers/{shop.customer2.pk}/").content.decode()
    assert 'data-testid="customer-receivables"' not in bare  # nothing owed, nothing paid: no panel
    assert web_as(tenant_a, people["sales2"]).get(f"/customers/{shop.customer.pk}/").status_code == 404
