"""The ERP follows invoices and payments through webhooks: invoice.issued and
payment.received, signed by the integrations machinery and sent after commit; nothing is
stored without a subscriber."""

from __future__ import annotations

import httpx
import pytest

from crm.integrations.models import WebhookEvent
from crm.integrations.outbound import transport_override
from crm.integrations.signing import webhook_verify

from ..integrations.factories import Receiver, unique_url
from .factories import invoice_make, payment_make

pytestmark = pytest.mark.django_db


def test_invoice_and_payment_send_signed_events(alpha, people, shipped, django_capture_on_commit_callbacks):
    from crm.integrations.services import webhook_endpoint_create

    endpoint = webhook_endpoint_create(actor=people["admin"], url=unique_url(),
                                       events=["invoice.issued", "payment.received"])
    secret = endpoint.secret
    order = shipped()
    receiver = Receiver()
    with transport_override(httpx.MockTransport(receiver)), django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_make(actor=people["finance"], order=order, tax_number="44550001")
    with transport_override(httpx.MockTransport(receiver)), django_capture_on_commit_callbacks(execute=True):
        payment = payment_make(actor=people["finance"], invoice=invoice, amount=invoice.total, reference="SN-1")
    events = receiver.bodies()
    assert [e["type"] for e in events] == ["invoice.issued", "payment.received"]
    issued, received = events[0]["data"], events[1]["data"]
    assert issued["number"] == invoice.number and issued["tax_number"] == "44550001" and issued["total"] == "113.00"
    assert issued["order"] == {"id": order.pk, "number": order.number} and issued["due_on"] == invoice.due_on.isoformat()
    assert received["number"] == payment.number and received["amount"] == "113.00" and received["reference"] == "SN-1"
    assert received["invoice"]["status"] == "paid" and received["order"]["status"] == "paid"
    for request in receiver.requests:
        assert webhook_verify(secret=secret, header=request.headers["Qiao-Signature"], body=request.content)
    assert {r.headers["Qiao-Event"] for r in receiver.requests} == {"invoice.issued", "payment.received"}


def test_no_event_is_stored_without_a_subscriber(alpha, people, shipped):
    before = WebhookEvent.objects.count()
    invoice = invoice_make(actor=people["finance"], order=shipped())
    payment_make(actor=people["finance"], invoice=invoice, amount="1.00")
    assert WebhookEvent.objects.count() == before
