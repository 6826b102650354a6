"""The ERP follows orders through webhooks: order.approved when the approval ends and
order.shipped for each shipment, signed and sent after commit; nothing without a subscriber."""

from __future__ import annotations

import httpx
import pytest

from crm.integrations.models import WebhookEvent
from crm.integrations.outbound import transport_override
from crm.integrations.signing import webhook_verify
from crm.orders.services import shipment_create

from ..integrations.factories import Receiver, unique_url
from .factories import approve_pending, line, submitted_make

pytestmark = pytest.mark.django_db


def test_approval_and_shipment_send_signed_order_events(alpha, people, shop, django_capture_on_commit_callbacks):
    from crm.integrations.services import webhook_endpoint_create

    endpoint = webhook_endpoint_create(actor=people["admin"], url=unique_url(),
                                       events=["order.approved", "order.shipped"])
    secret = endpoint.secret
    receiver = Receiver()
    with transport_override(httpx.MockTransport(receiver)), django_capture_on_commit_callbacks(execute=True):
        order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "2")])
        order = approve_pending(order, people["secretary"])
    with transport_override(httpx.MockTransport(receiver)), django_capture_on_commit_callbacks(execute=True):
        first = order.lines.get()
        shipment_create(actor=people["warehouse"], order_id=order.pk,
                        data={"lines": [{"order_line_id": first.pk, "quantity": "1"}]})
    events = receiver.bodies()
    assert [e["type"] for e in events] == ["order.approved", "order.shipped"]
    approved, shipped = events[0]["data"], events[1]["data"]
    assert approved["number"] == order.number and approved["status"] == "approved"
    assert approved["total"] == str(order.total) == "226.00"  # 2 x 100.00 + 13 % tax
    assert approved["lines"][0]["quantity"] == "2.000" and approved["customer"]["id"] == shop.customer.pk
    assert shipped["status"] == "partially_shipped" and shipped["shipment"]["lines"][0]["quantity"] == "1"
    request = receiver.requests[0]
    assert webhook_verify(secret=secret, header=request.headers["Qiao-Signature"], body=request.content)


def test_no_order_event_is_stored_without_a_subscriber(alpha, people, shop):
    before = WebhookEvent.objects.count()
    approve_pending(submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "1")]),
                    people["secretary"])
    assert WebhookEvent.objects.count() == before
