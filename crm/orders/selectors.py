"""Read-side queries of orders. Every read starts from ``order_list_visible_to`` (the actor's
role scope, crm.org.scoping); an order outside it does not exist for the actor (a 404).
``unscoped_*`` functions bypass the scope: only the approval callbacks, the stock and credit
computations and the system use them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.approvals.enums import AssignmentStatus, StepStatus
from crm.approvals.selectors import approval_history_for_document, approval_request_pending_for
from crm.inputs import param_date as _date_param
from crm.inputs import param_int as _int_param
from crm.org.selectors import region_subtree_ids

from .enums import OPEN_RECEIVABLE_STATUSES, ORDER_SORT_DEFAULT, ORDER_SORTS, EventKind, OrderStatus
from .models import (
    CustomerCredit,
    Order,
    OrderAttachment,
    OrderEvent,
    OrderLine,
    Shipment,
    ShipmentLine,
)

DOC_TYPE = "order"
# Orders of partners (crm.partners) go through their own policy (channel manager first).
PARTNER_DOC_TYPE = "partner_order"


def doc_type_of(order) -> str:
    """The approval document type of an order: partner orders have their own policy."""
    return PARTNER_DOC_TYPE if order.partner_id else DOC_TYPE


# -- orders -------------------------------------------------------------------------------------
def order_list_visible_to(*, actor) -> QuerySet[Order]:
    return Order.objects.visible_to(actor).select_related("customer", "owner")


def order_get_for_actor(*, actor, order_id) -> Order:
    """The order if the actor may see it; Order.DoesNotExist otherwise (a 404)."""
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        raise Order.DoesNotExist from None
    return order_list_visible_to(actor=actor).select_related("warehouse", "department", "region").get(pk=order_id)


def unscoped_order_get(*, order_id) -> Order:
    return Order.objects.get(pk=order_id)


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def order_sort_get(value: str | None) -> str:
    """The ``?sort=`` value (the default when empty); ValidationError naming the choices."""
    if not value:
        return ORDER_SORT_DEFAULT
    if value not in ORDER_SORTS:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": value[:40], "choices": ", ".join(ORDER_SORTS)}})
    return value


def order_list(*, actor, params) -> QuerySet[Order]:
    """The orders the actor may see, filtered by ``params`` (a dict or QueryDict):
    status (one or several, comma-separated), customer, owner, region (with its sub-regions),
    created_from / created_to and submitted_from / submitted_to (dates, inclusive), q (an
    order number or its beginning, e.g. ``SO2026-0001``), in the order ``sort``. Every
    combination is served by an index of Order in the sort's order. A malformed parameter
    raises ValidationError naming it."""
    sort = order_sort_get(params.get("sort"))
    qs = order_list_visible_to(actor=actor)
    statuses = [s for s in (params.get("status") or "").replace(" ", "").split(",") if s]
    unknown = [s for s in statuses if s not in OrderStatus.values]
    if unknown:
        raise ValidationError({"status": _("状态“%(value)s”不存在，可选：%(choices)s。") % {
            "value": unknown[0][:30], "choices": ", ".join(OrderStatus.values)}})
    if len(statuses) == 1:
        qs = qs.filter(status=statuses[0])
    elif statuses:
        qs = qs.filter(status__in=statuses)
    for name in ("customer", "owner"):
        value = _int_param(params, name)
        if value is not None:
            qs = qs.filter(**{f"{name}_id": value})
    region = _int_param(params, "region")
    if region is not None:
        ids = region_subtree_ids(region_id=region)
        if ids is None:
            raise ValidationError({"region": _("区域不存在。")})
        qs = qs.filter(region_id__in=ids)
    for name, column in (("created", "created_at"), ("submitted", "submitted_at")):
        start, end = _date_param(params, f"{name}_from"), _date_param(params, f"{name}_to")
        if start and end and end < start:
            raise ValidationError({f"{name}_to": _("结束日期不能早于开始日期。")})
        if start:
            qs = qs.filter(**{f"{column}__gte": _day_start(start)})
        if end:
            qs = qs.filter(**{f"{column}__lt": _day_start(end + datetime.timedelta(days=1))})
    q = (params.get("q") or "").strip().upper()
    if q:
        if len(q) > 20:
            raise ValidationError({"q": _("订单号最长 20 个字符。")})
        qs = qs.filter(number__startswith=q)
    return qs.only(*LIST_FIELDS).order_by(*ORDER_SORTS[sort])


# What a list row shows (the API's OrderListSerializer, the list page): the customer's name
# and the owner's, not their whole rows (a customer carries its search vector).
LIST_FIELDS = ("id", "number", "status", "customer_id", "customer__id", "customer__name", "owner_id", "owner__id",
               "owner__full_name", "currency", "net_total", "tax_total", "total", "line_count", "stock_state",
               "submitted_via", "partner_id", "created_at", "submitted_at", "approved_at", "version")


def order_detail(*, order: Order) -> Order:
    """The order with its lines (products, warehouses), shipments (with lines) and attachments
    loaded: a fixed number of queries, whatever their count."""
    return (Order.objects.select_related("customer", "owner", "department", "region", "warehouse", "created_by",
                                         "submitted_by")
            .prefetch_related(
                Prefetch("lines", queryset=OrderLine.objects.select_related("warehouse").order_by("position")),
                Prefetch("shipments", queryset=Shipment.objects.select_related("warehouse", "created_by")
                         .prefetch_related(Prefetch("lines", queryset=ShipmentLine.objects.select_related(
                             "order_line").order_by("id")))
                         .order_by("id")),
                Prefetch("attachments", queryset=OrderAttachment.objects.select_related("uploaded_by").order_by("id")))
            .get(pk=order.pk))


def order_lines(*, order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.filter(order=order).select_related("product", "warehouse").order_by("position"))


def order_attachment_get(*, order: Order, attachment_id) -> OrderAttachment:
    return OrderAttachment.objects.get(order=order, pk=attachment_id)


def shipments_for_order(*, order: Order) -> list[Shipment]:
    return list(Shipment.objects.filter(order=order).select_related("warehouse", "created_by")
                .prefetch_related(Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line")
                                           .order_by("id"))).order_by("id"))


def order_pending_approval(*, order: Order):
    """The approval request of the order that is still pending, or None."""
    return approval_request_pending_for(doc_type=doc_type_of(order), object_id=order.pk)


def order_approval_history(*, order: Order) -> list:
    """Every approval request of the order, newest first, with steps and decisions."""
    return approval_history_for_document(doc_type=doc_type_of(order), object_id=order.pk)


# -- the timeline -----------------------------------------------------------------------------
@dataclass
class TimelineEntry:
    at: datetime.datetime | None
    kind: str
    label: str
    actor: str = ""
    note: str = ""
    data: dict = field(default_factory=dict)


def _person(user) -> str:
    return user.full_name if user is not None else _("系统")


def order_timeline(*, order: Order, history: list | None = None, language: str = "zh-hans") -> list[TimelineEntry]:
    """Everything that happened to the order, oldest first: its own events (created,
    submitted, approved, stock reserved or short, shipments, cancellation...) and every
    decision of every approval step (who, when, the comment, on whose behalf), plus the
    step that is waiting now with its approvers."""
    entries: list[TimelineEntry] = []
    labels = dict(EventKind.choices)
    for event in OrderEvent.objects.filter(order=order).select_related("actor").order_by("at", "id"):
        entries.append(TimelineEntry(at=event.at, kind=event.kind, label=str(labels.get(event.kind, event.kind)),
                                     actor=_person(event.actor), note=event.note, data=event.data or {}))
    history = order_approval_history(order=order) if history is None else history
    for request in history:
        for step in request.steps.all():
            name = step.name(language)
            if step.status == StepStatus.SKIPPED:
                continue
            for a in step.assignments.all():
                if a.status not in (AssignmentStatus.APPROVED, AssignmentStatus.REJECTED):
                    continue
                label = (_("%(step)s：同意") if a.status == AssignmentStatus.APPROVED else _("%(step)s：驳回")) % {
                    "step": name}
                who = _person(a.decided_by)
                if a.decided_by_id and a.decided_by_id != a.approver_id:
                    who = _("%(name)s（代 %(for)s）") % {"name": who, "for": a.approver.full_name}
                entries.append(TimelineEntry(at=a.decided_at, kind="approval_step", label=label, actor=who,
                                             note=a.comment, data={"request": request.pk, "step": step.position,
                                                                   "decision": a.status}))
            if step.status == StepStatus.ACTIVE:
                waiting = [a.approver.full_name for a in step.assignments.all() if a.status == AssignmentStatus.PENDING]
                entries.append(TimelineEntry(at=step.activated_at, kind="approval_waiting",
                                             label=_("%(step)s：待审批") % {"step": name},
                                             actor="、".join(waiting),
                                             data={"request": request.pk, "step": step.position}))
    far = timezone.now() + datetime.timedelta(days=3650)
    entries.sort(key=lambda e: (e.at or far, 0 if e.kind != "approval_waiting" else 1))
    return entries


# -- credit --------------------------------------------------------------------------------------
def customer_credit_get(*, customer_id) -> CustomerCredit | None:
    return CustomerCredit.objects.filter(customer_id=customer_id).first()


def open_receivables_for_customer(*, customer_id, currency: str | None = None,
                                  exclude_order_id: int | None = None) -> Decimal:
    """What the customer owes or will owe, in ``currency`` if given: the outstanding amounts
    of its invoices (issued and not yet paid, crm.finance) plus the part of its approved,
    partially shipped and shipped orders that is not invoiced yet. A paid order adds nothing;
    ``exclude_order_id`` leaves one order (and its invoices) out. (The customer's open orders
    through the (customer, created_at) index; their invoices through the order; the
    customer's unpaid invoices through (customer, issued_on).)"""
    from django.apps import apps

    if not apps.is_installed("crm.finance"):
        orders = Order.objects.filter(customer_id=customer_id, status__in=OPEN_RECEIVABLE_STATUSES)
        if currency:
            orders = orders.filter(currency=currency)
        if exclude_order_id:
            orders = orders.exclude(pk=exclude_order_id)
        return orders.aggregate(total=Sum("total"))["total"] or Decimal("0.00")
    from django.db import connection

    from crm.finance.enums import LIVE_STATUSES, UNPAID_STATUSES
    from crm.finance.models import Invoice

    # One statement (the credit check runs on every submission): the open orders' totals, less
    # their live invoices, plus what the customer's unpaid invoices still owe.
    orders_where = "o.customer_id = %(customer)s AND o.status = ANY(%(open)s)"
    invoices_where = "i.customer_id = %(customer)s AND i.status = ANY(%(unpaid)s)"
    if currency:
        orders_where += " AND o.currency = %(currency)s"
        invoices_where += " AND i.currency = %(currency)s"
    if exclude_order_id:
        orders_where += " AND o.id <> %(exclude)s"
        invoices_where += " AND i.order_id <> %(exclude)s"
    order_table, invoice_table = Order._meta.db_table, Invoice._meta.db_table
    sql = (f"SELECT COALESCE((SELECT SUM(o.total) FROM {order_table} o WHERE {orders_where}), 0)"  # noqa: S608
           f" - COALESCE((SELECT SUM(i.total) FROM {invoice_table} i JOIN {order_table} o ON o.id = i.order_id"
           f" WHERE {orders_where} AND i.status = ANY(%(live)s)), 0)"
           f" + COALESCE((SELECT SUM(i.total - i.paid_amount) FROM {invoice_table} i WHERE {invoices_where}), 0)")
    with connection.cursor() as cursor:
        cursor.execute(sql, {"customer": customer_id, "open": list(OPEN_RECEIVABLE_STATUSES),
                             "unpaid": list(UNPAID_STATUSES), "live": list(LIVE_STATUSES),
                             "currency": currency, "exclude": exclude_order_id})
        (amount,) = cursor.fetchone()
    return Decimal(amount).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class CreditStatus:
    limit: Decimal | None
    currency: str
    open_receivables: Decimal
    available: Decimal | None

    def over_with(self, amount: Decimal, currency: str) -> bool:
        """Whether an order of ``amount`` would take the customer over the limit. No limit:
        never. A limit in another currency cannot be compared: counts as over (someone with
        authority looks at it in the credit-override step)."""
        if self.limit is None:
            return False
        if currency != self.currency:
            return True
        return self.open_receivables + amount > self.limit


def credit_status_for_customer(*, customer_id, exclude_order_id: int | None = None) -> CreditStatus:
    credit = customer_credit_get(customer_id=customer_id)
    if credit is None:
        return CreditStatus(None, "CNY", open_receivables_for_customer(customer_id=customer_id, currency="CNY",
                                                                       exclude_order_id=exclude_order_id), None)
    used = open_receivables_for_customer(customer_id=customer_id, currency=credit.currency,
                                         exclude_order_id=exclude_order_id)
    return CreditStatus(credit.limit, credit.currency, used, credit.limit - used)


def credit_over_limit_with(*, customer_id, amount: Decimal, currency: str, exclude_order_id: int | None = None) -> bool:
    """Whether an order of ``amount`` takes the customer over its credit limit (open
    receivables plus the amount; see CreditStatus.over_with). No limit: never (one query)."""
    credit = customer_credit_get(customer_id=customer_id)
    if credit is None:
        return False
    if credit.currency != currency:
        return True
    used = open_receivables_for_customer(customer_id=customer_id, currency=currency, exclude_order_id=exclude_order_id)
    return used + amount > credit.limit


def customer_has_approved_order(*, customer_id, exclude_order_id: int | None = None) -> bool:
    """Whether the customer has an order that was approved before (and not cancelled)."""
    qs = Order.objects.filter(customer_id=customer_id, approved_at__isnull=False).exclude(
        status=OrderStatus.CANCELLED)
    if exclude_order_id:
        qs = qs.exclude(pk=exclude_order_id)
    return qs.exists()


# -- what the viewer may do ----------------------------------------------------------------------
def order_actions_for(*, actor, order: Order, history: list | None = None) -> list[str]:
    """The operations the actor may start on the order now (buttons on the page, ``actions``
    in the API): edit, submit, recall, cancel, ship, reserve_stock, approve, attach,
    issue_invoice (finance, on the invoicing page), close. The services check again."""
    from crm.approvals.permissions import actionable_assignment, can_recall_request
    from crm.approvals.selectors import delegator_ids_for

    from . import permissions as p
    from .enums import RESERVING_STATUSES, StockState

    if actor is None or not getattr(actor, "is_active", False):
        return []
    history = order_approval_history(order=order) if history is None else history
    pending = next((r for r in history if r.status == "pending"), None)
    manage = p.can_manage_order(actor, order)
    actions = []
    if manage and order.status == OrderStatus.DRAFT:
        actions += ["edit", "submit"]
    if pending is not None:
        steps = list(pending.steps.all())
        decided = any(a.status in (AssignmentStatus.APPROVED, AssignmentStatus.REJECTED)
                      for s in steps for a in s.assignments.all())
        if can_recall_request(actor, pending, decided=decided):
            actions.append("recall")
        active = next((s for s in steps if s.position == pending.current_position), None)
        if active is not None and pending.submitter_id != actor.pk:
            delegators = delegator_ids_for(actor=actor, doc_type=doc_type_of(order))
            if actionable_assignment(actor, pending, list(active.assignments.all()), delegators) is not None:
                actions.append("approve")
    if manage and (order.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.APPROVED)
                   or (order.status == OrderStatus.IN_APPROVAL and "recall" in actions)):
        actions.append("cancel")
    if p.can_ship_orders(actor) and order.status in RESERVING_STATUSES:
        actions.append("ship")
    if (order.status in RESERVING_STATUSES and order.stock_state != StockState.RESERVED
            and p.can_reserve_stock(actor, order)):
        actions.append("reserve_stock")
    if p.can_attach_to_order(actor, order):
        actions.append("attach")
    if p.can_mark_paid(actor) and order.status == OrderStatus.SHIPPED:
        actions.append("issue_invoice")  # crm.finance: invoices move the order to invoiced, payments to paid
    if p.can_close_order(actor) and order.status == OrderStatus.PAID:
        actions.append("close")
    return actions


def customer_suggest(*, actor, q: str, limit: int = 8) -> list:
    """Customers the actor may see matching ``q`` (name, pinyin, phone: the customers app's
    one-click search), for the order entry's customer picker."""
    from crm.customers import search
    from crm.customers.selectors import customer_list_visible_to

    parsed = search.parse_query(q)
    if parsed is None:
        return []
    return search.search_customers(qs=customer_list_visible_to(actor=actor), parsed=parsed, limit=limit, actor=actor)
