"""Order test data, made through the services (as users make it), never by ORM chains.
Call inside the tenant's schema; the catalog's factories make products and stock."""

from __future__ import annotations

import itertools
import uuid
from decimal import Decimal

from crm.customers.services import customer_create
from crm.orders import services

_serial = itertools.count(1)
_run = uuid.uuid4().hex[:4].upper()


def customer_make(*, owner, level: str = "B", **data):
    n = next(_serial)
    return customer_create(actor=owner, data={"name": f"订单测试客户{_run}{n:04d}有限公司", "level": level, **data},
                           duplicate_override=True)


def line(product, quantity="1", **extra) -> dict:
    return {"product_id": product.pk, "quantity": str(quantity), **extra}


def order_make(*, actor, customer, lines=None, products=(), **data):
    """A draft order; ``lines`` as dicts (see ``line``), or one unit of each of ``products``."""
    lines = lines if lines is not None else [line(p) for p in products]
    return services.order_create(actor=actor, data={"customer_id": customer.pk, "lines": lines, **data})


def submitted_make(*, actor, customer, **kwargs):
    order = order_make(actor=actor, customer=customer, **kwargs)
    return services.order_submit(actor=actor, order_id=order.pk)


def approve_pending(order, *approvers, comment: str = "同意"):
    """Approve the order's pending request step by step with the given approvers."""
    from crm.approvals.selectors import approval_request_pending_for
    from crm.approvals.services import approval_approve

    for approver in approvers:
        request = approval_request_pending_for(doc_type="order", object_id=order.pk)
        assert request is not None, "no pending approval"
        approval_approve(actor=approver, request_id=request.pk, comment=comment)
    order.refresh_from_db()
    return order


def money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
