"""Finance test data, made through the services (as users make it), never by ORM chains.
Call inside the tenant's schema."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.utils import timezone

from crm.finance import services
from crm.orders import services as orders
from tests.crm.orders.factories import approve_pending, line, submitted_make


def shipped_order_make(*, people, customer, owner, product, quantity="1", **data):
    """An order approved by the secretary (and finance when it is big) and fully shipped."""
    order = submitted_make(actor=owner, customer=customer, lines=[line(product, quantity)], **data)
    approvers = [people["secretary"]]
    if order.total >= Decimal("100000.00"):
        approvers.append(people["finance"])
    order = approve_pending(order, *approvers)
    orders.shipment_create(actor=people["warehouse"], order_id=order.pk, data={})
    order.refresh_from_db()
    assert order.status == "shipped", order.status
    return order


def days_ago(n: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=n)).isoformat()


def invoice_make(*, actor, order, **data):
    return services.invoice_issue(actor=actor, order_id=order.pk, data=data)


def payment_make(*, actor, invoice, amount, **data):
    return services.payment_record(actor=actor, invoice_id=invoice.pk, data={"amount": str(amount), **data})
