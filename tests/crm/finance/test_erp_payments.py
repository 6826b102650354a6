"""The ERP reports payments through POST /api/v1/erp/payments: the finance app's handler
records them as the system against our invoice number, the tax invoice number, or an order's
unpaid invoices (the oldest first), once per external id; a message that does not fit is a
422 naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from crm.finance.models import Invoice, Payment
from crm.orders.models import Order
from tests.conftest import host_of

from .factories import days_ago, invoice_make

pytestmark = pytest.mark.django_db
PAYMENTS = "/api/v1/erp/payments"


def _erp(tenant, admin, name="用友 U8"):
    from crm.integrations.services import erp_client_create

    _client, token = erp_client_create(actor=admin, name=name, scopes=["payments"])
    api = APIClient(HTTP_HOST=host_of(tenant))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


@pytest.fixture
def erp(tenant_a, people):
    return _erp(tenant_a, people["admin"])


def test_a_payment_by_invoice_number_once_per_external_id(alpha, tenant_a, in_tenant, people, shipped, erp):
    order = shipped()
    invoice = invoice_make(actor=people["finance"], order=order)
    message = {"external_id": "RC-2026-0001", "invoice_number": invoice.number.lower(), "amount": "113.00",
               "received_on": days_ago(1), "method": "bank_transfer", "reference": "ICBC-778899"}
    first = erp.post(PAYMENTS, message, format="json")
    assert first.status_code == 200, first.json()
    result = first.json()["result"]
    assert result["order"] == order.number and result["order_status"] == "paid"
    assert result["payments"][0]["invoice"] == invoice.number and result["payments"][0]["amount"] == "113.00"
    again = erp.post(PAYMENTS, message, format="json")
    assert again.status_code == 200 and again.json()["replayed"] is True and again["Idempotent-Replayed"] == "true"
    changed = erp.post(PAYMENTS, {**message, "amount": "100.00"}, format="json")
    assert changed.status_code == 409 and changed.json()["external_ids"] == ["RC-2026-0001"]  # the inbound log's rule
    with in_tenant(tenant_a):
        [payment] = Payment.objects.filter(invoice=invoice)
        assert payment.source == "erp" and payment.recorded_by is None and payment.external_id == "RC-2026-0001"
        assert "用友 U8" in payment.note and payment.reference == "ICBC-778899"
        assert Order.objects.get(pk=order.pk).status == "paid"


def test_the_same_external_id_from_another_erp_client(alpha, tenant_a, in_tenant, people, shipped, erp):
    invoice = invoice_make(actor=people["finance"], order=shipped(quantity="2"))
    message = {"external_id": "RC-SHARED-1", "invoice_number": invoice.number, "amount": "26.00"}
    assert erp.post(PAYMENTS, message, format="json").status_code == 200
    with in_tenant(tenant_a):
        other, third = _erp(tenant_a, people["admin"], name="金蝶 K3"), _erp(tenant_a, people["admin"], name="SAP")
    same = other.post(PAYMENTS, message, format="json")  # the same payment: one payment, the same result
    assert same.status_code == 200 and same.json()["result"]["payments"][0]["amount"] == "26.00"
    different = third.post(PAYMENTS, {**message, "amount": "30.00"}, format="json")  # the payment's own id: 422
    assert different.status_code == 422 and "external_id" in different.json()["result"]["errors"]
    with in_tenant(tenant_a):
        assert Payment.objects.filter(invoice=invoice).count() == 1


def test_by_tax_number_and_by_order_number_split_over_the_oldest_invoices(alpha, tenant_a, in_tenant, people,
                                                                           shipped, erp):
    finance = people["finance"]
    order = shipped(quantity="3")  # 339.00
    old = invoice_make(actor=finance, order=order, total="113.00", issued_on=days_ago(50), tax_number="11110001")
    new = invoice_make(actor=finance, order=order, issued_on=days_ago(5))  # 226.00
    by_tax = erp.post(PAYMENTS, {"external_id": "RC-T-1", "tax_number": "11110001", "amount": "13.00"}, format="json")
    assert by_tax.status_code == 200 and by_tax.json()["result"]["payments"][0]["invoice"] == old.number
    split = erp.post(PAYMENTS, {"external_id": "RC-O-1", "order_number": order.number, "amount": "150.00"},
                     format="json")
    assert split.status_code == 200, split.json()
    parts = split.json()["result"]["payments"]
    assert [(p["invoice"], p["amount"]) for p in parts] == [(old.number, "100.00"), (new.number, "50.00")]
    assert split.json()["result"]["order_status"] == "invoiced"
    with in_tenant(tenant_a):
        assert Invoice.objects.get(pk=old.pk).status == "paid"
        assert Invoice.objects.get(pk=new.pk).paid_amount == Decimal("50.00")
        assert sorted(Payment.objects.filter(order=order, external_id__startswith="RC-O-1")
                      .values_list("external_id", flat=True)) == ["RC-O-1", "RC-O-1#2"]
    rest = erp.post(PAYMENTS, {"external_id": "RC-O-2", "order_number": order.number, "amount": "176.00"},
                    format="json")
    assert rest.status_code == 200 and rest.json()["result"]["order_status"] == "paid"


@pytest.mark.parametrize(("change", "field"), [
    ({"invoice_number": "INV-NOPE"}, "invoice_number"),
    ({"invoice_number": None, "tax_number": "99999999"}, "tax_number"),
    ({"invoice_number": None, "order_number": "SO-NOPE"}, "order_number"),
    ({"invoice_number": None}, "invoice_number"),
    ({"amount": "0"}, "amount"), ({"amount": "-1"}, "amount"), ({"amount": "1.005"}, "amount"),
    ({"amount": "113.01"}, "amount"), ({"received_on": "2099-01-01"}, "received_on"),
    ({"method": "barter"}, "method"), ({"currency": "USD"}, "currency"),
])
def test_a_message_that_does_not_fit_is_refused_naming_the_field(alpha, tenant_a, in_tenant, people, shipped, erp,
                                                                 change, field):
    invoice = invoice_make(actor=people["finance"], order=shipped())
    message = {"external_id": f"RC-BAD-{field}-{len(str(change))}", "invoice_number": invoice.number,
               "amount": "10.00", **change}
    refused = erp.post(PAYMENTS, message, format="json")
    assert refused.status_code == 422, refused.json()
    assert field in refused.json()["result"]["errors"], refused.json()
    with in_tenant(tenant_a):
        assert not Payment.objects.filter(invoice=invoice).exists()
    fixed = erp.post(PAYMENTS, {**message, **{"invoice_number": invoice.number, "amount": "10.00",
                                              "received_on": days_ago(0), "method": "", "currency": "CNY",
                                              "tax_number": "", "order_number": ""}}, format="json")
    assert fixed.status_code == 200  # the same external id may come again once fixed
