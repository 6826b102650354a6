"""The whole journey of a partner order: the partner submits it in the portal; the channel
manager, the business secretary and finance approve it in their own inbox; the warehouse ships
it with a tracking number; finance invoices it and records the payment. The partner sees each
step on the order page and in the API, and the partner's people (the order's creator and the
partner's admins, nobody else) get a notification of every status change, in-app and by email."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.activities.models import Notification
from crm.approvals.selectors import approval_request_pending_for
from crm.approvals.services import approval_approve, approval_reject
from crm.finance import services as finance
from crm.orders import services as orders
from crm.orders.models import Order
from tests.crm.catalog.factories import price_list_make, product_make, stocked_make

from .factories import line, order_make

pytestmark = pytest.mark.django_db


def _approve(order, approver, comment="同意"):
    request = approval_request_pending_for(doc_type="partner_order", object_id=order.pk)
    assert request is not None, "no pending approval"
    approval_approve(actor=approver, request_id=request.pk, comment=comment)
    order.refresh_from_db()
    return order


def _page(client, order) -> str:
    return client.get(f"/portal/orders/{order.pk}/").content.decode()


def test_partner_order_from_submission_to_payment(portal, people, web, api, django_capture_on_commit_callbacks):
    radio, _w = stocked_make(on_hand="5", warehouse=portal.warehouse,
                             product=product_make(name="门户外挂电台", list_price="130000.00"))
    price_list_make(kind="partner_tier", code="gold", items=[(radio, Decimal("120000.00"))])
    client = web(portal.psales)
    token = client.get("/portal/cart/").content.decode().split('name="token" value="')[1].split('"')[0]
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/portal/cart/", {"sku": [radio.sku], "quantity": ["1"], "action": "submit",
                                             "token": token, "delivery_address": "广州市天河区"})
    assert sent.status_code == 302
    order = Order.objects.get(created_by=portal.psales)
    assert order.status == "in_approval" and order.total == Decimal("135600.00")
    page = _page(client, order)
    assert "渠道经理审批" in page and "商务审核" in page and "财务复核" in page

    steps = [(people["manager"], "渠道经理审批"), (people["secretary"], "商务审核"), (people["finance"], "财务复核")]
    for n, (approver, name) in enumerate(steps):
        with django_capture_on_commit_callbacks(execute=True):
            _approve(order, approver, comment=f"内部意见{n}：毛利可以")
        steps_api = api(portal.psales).get(f"/api/v1/portal/orders/{order.pk}").json()["steps"]
        assert steps_api[n]["name"] == name and steps_api[n]["status"] == "approved"
    assert order.status == "approved"
    page = _page(client, order)
    assert "内部意见" not in page and people["secretary"].full_name not in page and "已审批" in page

    with django_capture_on_commit_callbacks(execute=True):
        orders.shipment_create(actor=people["warehouse"], order_id=order.pk,
                               data={"carrier": "顺丰速运", "tracking_number": "SF1234567890"})
    order.refresh_from_db()
    assert order.status == "shipped"
    page = _page(client, order)
    assert "顺丰速运" in page and "SF1234567890" in page
    detail = api(portal.psales).get(f"/api/v1/portal/orders/{order.pk}").json()
    assert detail["shipments"][0]["tracking_number"] == "SF1234567890"

    with django_capture_on_commit_callbacks(execute=True):
        invoice = finance.invoice_issue(actor=people["finance"], order_id=order.pk, data={})
    order.refresh_from_db()
    assert order.status == "invoiced" and invoice.number in _page(client, order)
    statement = api(portal.padmin).get("/api/v1/portal/statements").json()
    assert statement["outstanding"] == "135600.00"
    with django_capture_on_commit_callbacks(execute=True):
        finance.payment_record(actor=people["finance"], invoice_id=invoice.pk, data={"amount": "135600.00"})
    order.refresh_from_db()
    assert order.status == "paid"
    detail = api(portal.psales).get(f"/api/v1/portal/orders/{order.pk}").json()
    assert detail["status"] == "paid" and detail["payments"][0]["amount"] == "135600.00"
    assert detail["invoices"][0]["status"] == "paid"
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[:3] == ["created", "submitted", "approval_started"] and "shipped" in kinds and "paid" in kinds
    assert all(e["note"] == "" for e in detail["timeline"] if e["kind"] == "approved")
    assert api(portal.padmin).get("/api/v1/portal/statements").json()["outstanding"] == "0.00"

    # notifications: the creator and the partner's admin, for each status change; nobody else
    to_creator = Notification.objects.filter(recipient=portal.psales, kind="partner_order")
    to_admin = Notification.objects.filter(recipient=portal.padmin, kind="partner_order")
    statuses = ["in_approval", "approved", "shipped", "invoiced", "paid"]
    assert to_admin.count() == len(statuses) and all(n.email_wanted for n in to_admin)
    assert to_creator.count() == len(statuses) - 1  # not told of their own submission
    assert all(n.url == f"/portal/orders/{order.pk}/" for n in to_admin)
    assert not Notification.objects.filter(recipient__in=[portal.psales2, portal.other_admin]).exists()
    assert "已回款" in client.get("/portal/notifications/").content.decode()


def test_rejection_reason_reaches_the_partner_and_it_can_resubmit(portal, people, web,
                                                                   django_capture_on_commit_callbacks):
    order = order_make(actor=portal.psales, lines=[line(portal.gps, 2)], submit=True)
    request = approval_request_pending_for(doc_type="partner_order", object_id=order.pk)
    with django_capture_on_commit_callbacks(execute=True):
        approval_reject(actor=people["manager"], request_id=request.pk, comment="请按整箱订购")
    order.refresh_from_db()
    assert order.status == "draft"
    page = web(portal.psales).get(f"/portal/orders/{order.pk}/").content.decode()
    assert "请按整箱订购" in page and 'data-testid="action-edit"' in page
    note = Notification.objects.get(recipient=portal.psales, kind="partner_order")
    assert "请按整箱订购" in note.body
    resubmitted = web(portal.psales).post(f"/portal/orders/{order.pk}/submit/")
    order.refresh_from_db()
    assert resubmitted.status_code == 302 and order.status == "in_approval"
