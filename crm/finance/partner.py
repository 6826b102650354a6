"""Invoices, payments and the statement of receivables as a partner (distributor) sees them in
the portal. The tenant sells to the partner, so these are the invoices and payments of the
partner's own customer record (crm.partners Partner.customer).

Scope: a partner admin sees all of them; a partner sales user those of the orders they may see
(crm.orders.partner: their own, or all of the partner's when the admin allows it). Voided
invoices and payments are shown as such; internal notes, owners and bank references are not
part of what the portal shows (the serializers and templates pick the fields)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from .enums import UNPAID_STATUSES, InvoiceStatus
from .models import Invoice, Payment

ZERO = Decimal("0.00")


def _scope_q(actor) -> Q | None:
    from crm.partners.selectors import portal_member_active

    member = portal_member_active(actor)
    if member is None:
        return None
    q = Q(customer_id=member.partner.customer_id)
    if not member.is_admin and not member.partner.sales_see_all:
        q &= Q(order__partner_id=member.partner_id, order__created_by_id=member.user_id)
    return q


def partner_invoices_visible_to(*, actor) -> QuerySet[Invoice]:
    q = _scope_q(actor)
    if q is None:
        return Invoice.objects.none()
    return Invoice.objects.filter(q).select_related("order").order_by("-issued_on", "-id")


def partner_payments_visible_to(*, actor) -> QuerySet[Payment]:
    q = _scope_q(actor)
    if q is None:
        return Payment.objects.none()
    return Payment.objects.filter(q).select_related("invoice", "order").order_by("-received_on", "-id")


def partner_invoices_of_order(*, order) -> list[Invoice]:
    """The invoices of an order the caller already read through crm.orders.partner's scope."""
    return list(Invoice.objects.filter(order_id=order.pk).order_by("issued_on", "id"))


def partner_payments_of_order(*, order) -> list[Payment]:
    return list(Payment.objects.filter(order_id=order.pk).select_related("invoice").order_by("received_on", "id"))


@dataclass
class PartnerStatement:
    currency: str = "CNY"
    as_of: datetime.date | None = None
    invoiced: Decimal = ZERO  # live invoices (not voided)
    paid: Decimal = ZERO  # received on them
    outstanding: Decimal = ZERO  # still owed
    overdue: Decimal = ZERO  # owed past the due date
    overdue_count: int = 0
    open_count: int = 0
    credit_limit: Decimal | None = None
    open_invoices: list = field(default_factory=list)


def partner_statement(*, actor, on: datetime.date | None = None, open_limit: int = 20) -> PartnerStatement:
    """The totals of the partner's receivables: invoiced, paid, outstanding and overdue (as of
    ``on``, today by default), and the oldest open invoices first (up to ``open_limit``)."""
    from crm.partners.selectors import portal_member_active

    member = portal_member_active(actor)
    today = on or timezone.localdate()
    statement = PartnerStatement(as_of=today)
    if member is None:
        return statement
    statement.credit_limit = member.partner.credit_limit if member.is_admin else None
    live = partner_invoices_visible_to(actor=actor).exclude(status=InvoiceStatus.VOID)
    # every total in one statement (the portal's home page reads it on each visit)
    open_q = Q(status__in=UNPAID_STATUSES)
    late_q = open_q & Q(due_on__lt=today)
    totals = live.aggregate(invoiced=Sum("total"), paid=Sum("paid_amount"),
                            owed_total=Sum("total", filter=open_q), owed_paid=Sum("paid_amount", filter=open_q),
                            late_total=Sum("total", filter=late_q), late_paid=Sum("paid_amount", filter=late_q),
                            late_count=Count("id", filter=late_q), open_count=Count("id", filter=open_q))
    statement.invoiced = totals["invoiced"] or ZERO
    statement.paid = totals["paid"] or ZERO
    unpaid = live.filter(open_q)
    statement.outstanding = (totals["owed_total"] or ZERO) - (totals["owed_paid"] or ZERO)
    statement.overdue = (totals["late_total"] or ZERO) - (totals["late_paid"] or ZERO)
    statement.overdue_count = totals["late_count"]
    statement.open_count = totals["open_count"]
    statement.open_invoices = list(unpaid.order_by("due_on", "id")[:open_limit])
    for invoice in statement.open_invoices:
        invoice.owed = invoice.total - invoice.paid_amount
        invoice.is_overdue = invoice.due_on < today
    return statement
