"""The order arrows finance drives (crm.orders.services): shipped -> invoiced -> paid and the
two back again (invoiced -> shipped when an invoice is voided, paid -> invoiced when a payment
is), each its own service: finance or the system only, idempotent, audited, on the timeline."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from crm.audit.models import AuditEntry
from crm.orders import services
from crm.orders.enums import ALLOWED_TRANSITIONS, OrderStatus
from crm.orders.models import Order, OrderEvent

pytestmark = pytest.mark.django_db


def test_the_table_has_the_arrows_back():
    assert OrderStatus.SHIPPED in ALLOWED_TRANSITIONS[OrderStatus.INVOICED]
    assert OrderStatus.INVOICED in ALLOWED_TRANSITIONS[OrderStatus.PAID]
    assert OrderStatus.SHIPPED not in ALLOWED_TRANSITIONS[OrderStatus.PAID]


def test_the_four_services_forward_and_back(alpha, people, shipped):
    finance = people["finance"]
    order = shipped()
    with pytest.raises(PermissionDenied):
        services.order_invoiced_mark(actor=people["secretary"], order_id=order.pk)
    with pytest.raises(services.TransitionRefused):  # shipped -> invoiced is not a way back
        services.order_paid_revert(actor=finance, order_id=order.pk)
    assert services.order_invoiced_revert(actor=finance, order_id=order.pk).status == "shipped"  # nothing to do
    order = services.order_invoiced_mark(actor=finance, order_id=order.pk, note="发票 X", data={"invoice": 1})
    assert order.status == "invoiced" and order.invoiced_at
    with pytest.raises(PermissionDenied):
        services.order_invoiced_revert(actor=people["sales"], order_id=order.pk)
    order = services.order_invoiced_revert(actor=finance, order_id=order.pk, note="红冲")
    assert order.status == "shipped" and order.invoiced_at is None
    order = services.order_invoiced_mark(actor=None, order_id=order.pk)  # the system (the ERP) may
    order = services.order_paid_mark(actor=None, order_id=order.pk, data={"payment": 1})
    assert order.status == "paid" and order.paid_at
    with pytest.raises(services.TransitionRefused):  # a paid order goes back one step at a time
        services.order_invoiced_revert(actor=finance, order_id=order.pk)
    order = services.order_paid_revert(actor=finance, order_id=order.pk, note="冲销")
    assert order.status == "invoiced" and order.paid_at is None
    assert services.order_paid_revert(actor=finance, order_id=order.pk).status == "invoiced"
    kinds = list(OrderEvent.objects.filter(order=order).exclude(to_status="").order_by("id")
                 .values_list("kind", "to_status"))[-5:]
    assert kinds == [("invoiced", "invoiced"), ("invoice_voided", "shipped"), ("invoiced", "invoiced"),
                     ("paid", "paid"), ("payment_voided", "invoiced")]
    actions = AuditEntry.objects.filter(content_type__model="order", object_id=str(order.pk)).values_list("action",
                                                                                                      flat=True)
    assert {"invoiced", "invoice_voided", "paid", "payment_voided"} <= set(actions)
    Order.objects.filter(pk=order.pk).update(status="closed")
    with pytest.raises(services.TransitionRefused):
        services.order_paid_revert(actor=finance, order_id=order.pk)


def test_finance_notes_need_a_finance_kind_and_a_lock_needs_a_transaction(alpha, people, shipped):
    order = shipped()
    with pytest.raises(ValueError):
        services.order_finance_note(actor=people["finance"], order_id=order.pk, kind="shipped")
    with pytest.raises(PermissionDenied):
        services.order_finance_note(actor=people["sales"], order_id=order.pk, kind="paid")
    services.order_finance_note(actor=people["finance"], order_id=order.pk, kind="paid", note="x" * 900)
    assert len(OrderEvent.objects.filter(order=order, kind="paid").get().note) == 500
    with pytest.raises(services.NotInScope):
        from django.db import transaction

        with transaction.atomic():
            services.order_lock(actor=people["sales2"], order_id=order.pk)


def test_the_order_page_offers_issue_invoice_to_finance_only(alpha, people, shipped):
    from crm.orders.selectors import order_actions_for

    order = shipped()
    assert "issue_invoice" in order_actions_for(actor=people["finance"], order=order)
    assert "issue_invoice" not in order_actions_for(actor=people["sales"], order=order)
    assert not {"mark_invoiced", "mark_paid"} & set(order_actions_for(actor=people["finance"], order=order))
