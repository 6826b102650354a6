"""Orders of partners (distributors), as partner users see and place them in the portal.

Rules:
* a partner user is a user of kind "partner" with a crm.partners PartnerMember; the partner must
  be active (suspended or terminated partners are locked out: 404 / a clear message);
* partner admins see every order of their partner; partner sales see the orders they created,
  or all of the partner's when the partner admin allows it (Partner.sales_see_all);
* an order is for the partner's own customer record, owned by its channel manager (staff scopes
  see it as they see the channel manager's orders), priced from the partner tier's price list
  only: a product not on it, inactive, or below its minimum order quantity is refused;
  partners set neither prices nor discounts;
* submitting starts the "partner_order" approval (channel manager, business secretary, finance
  above a threshold; the credit step when over the partner's credit limit);
* the timeline shown to partners leaves out internal approval comments and approvers' names:
  it shows which step the order is at, the rejection reason returned to them, shipments with
  tracking, invoices and payments.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from crm.approvals.services import approval_recall
from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.catalog.models import Product
from crm.catalog.selectors import prices_for, quantity_text, tier_offer
from crm.partners.enums import MemberRole
from crm.partners.selectors import portal_member_active

from . import services as s
from .calc import line_amounts
from .enums import DEFAULT_CURRENCY, MAX_LINES, EventKind, OrderStatus, SubmittedVia
from .models import Order, OrderEvent, OrderLine
from .selectors import doc_type_of

PARTNER_HEADER = ("delivery_address", "delivery_contact", "delivery_phone", "delivery_date", "notes")


class PartnerLockedOut(s.NotInScope):
    """Not a user of an active partner (suspended, terminated, deactivated, or staff): 404."""


def _member(actor):
    member = portal_member_active(actor)
    if member is None:
        raise PartnerLockedOut("partner", _("你的渠道伙伴账号当前不可用（已停用或合作已暂停）。"))
    return member


def partner_order_scope_q(member) -> Q:
    q = Q(partner_id=member.partner_id)
    if member.role != MemberRole.ADMIN and not member.partner.sales_see_all:
        q &= Q(created_by_id=member.user_id)
    return q


def partner_orders_visible_to(*, actor) -> QuerySet[Order]:
    """The orders a partner user may see (none for anyone else)."""
    member = portal_member_active(actor)
    if member is None:
        return Order.objects.none()
    return Order.objects.filter(partner_order_scope_q(member))


def partner_order_list(*, actor, status: str = "", number: str = "") -> QuerySet[Order]:
    """Newest first ((partner, created_at) index), filtered by status and a number prefix."""
    qs = partner_orders_visible_to(actor=actor)
    if status:
        if status not in OrderStatus.values:
            raise ValidationError({"status": _("未知的订单状态“%(s)s”。") % {"s": status}})
        qs = qs.filter(status=status)
    if number:
        qs = qs.filter(number__startswith=number.strip().upper())
    return qs.order_by("-created_at", "-id")


def partner_order_get(*, actor, order_id) -> Order:
    """The order if the partner user may see it; NotInScope (404) otherwise."""
    try:
        pk = int(order_id)
    except (TypeError, ValueError):
        raise s.NotInScope("order_id", _("订单不存在。")) from None
    order = partner_orders_visible_to(actor=actor).filter(pk=pk).first()
    if order is None:
        raise s.NotInScope("order_id", _("订单不存在。"))
    return order


def partner_order_lines(*, order: Order) -> list[OrderLine]:
    """The lines of an order the caller read through this module's scope, in their order."""
    return list(OrderLine.objects.filter(order_id=order.pk).order_by("position", "id"))


def _locked(actor, order_id) -> Order:
    order = partner_order_get(actor=actor, order_id=order_id)
    return Order.objects.select_for_update(of=("self",)).get(pk=order.pk)


# -- pricing ----------------------------------------------------------------------------------------------
def _price_partner_lines(member, lines) -> s.PricedOrder:
    """Check and price the lines of a partner order: product_id and quantity only (a unit price or
    discount is refused), each product on the tier's price list, at or above its minimum order
    quantity. Every problem of every line at once, under ``lines``."""
    if lines is None or isinstance(lines, (str, bytes, dict)) or not isinstance(lines, Sequence) or not lines:
        raise ValidationError({"lines": _("请至少添加一行产品。")})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": _("一张订单最多 %(n)s 行。") % {"n": MAX_LINES}})
    errors: list[tuple[int, str]] = []

    def err(n: int, message: str) -> None:
        errors.append((n, message))

    parsed = []
    for n, raw in enumerate(lines, start=1):
        prefix = s._line_prefix(n)
        if not isinstance(raw, dict):
            err(n, prefix + _("格式应为包含 product_id 和 quantity 的对象。"))
            continue
        if any(raw.get(k) not in (None, "") for k in ("unit_price", "discount_pct")):
            err(n, prefix + _("渠道订单按你的等级价格表定价，不能填写单价或折扣。"))
            continue
        try:
            product_id = s._pk(raw.get("product_id"), "product_id", _("产品"))
        except ValidationError:
            err(n, prefix + _("请选择产品。"))
            continue
        try:
            quantity = s._number(raw.get("quantity"), label=_("数量"), places=3, maximum=s.MAX_QTY, positive=True)
        except ValueError as exc:
            err(n, prefix + str(exc))
            continue
        parsed.append((n, product_id, quantity))
    tier = member.partner.tier.code
    offer = tier_offer(tier_code=tier, product_ids={p for _n, p, _q in parsed})
    products = Product.objects.in_bulk({p for _n, p, _q in parsed})
    ok = []
    for n, product_id, quantity in parsed:
        prefix = s._line_prefix(n)
        product = products.get(product_id)
        if product is None:
            err(n, prefix + _("产品 %(id)s 不存在。") % {"id": product_id})
        elif not product.is_active:
            err(n, prefix + _("产品“%(name)s”（%(sku)s）已停用，不能下单。") % {
                "name": product.name, "sku": product.sku})
        elif product_id not in offer:
            err(n, prefix + _("产品“%(name)s”（%(sku)s）不在你的价格表上，不能订购。") % {
                "name": product.name, "sku": product.sku})
        elif quantity < offer[product_id]:
            err(n, prefix + _("产品“%(name)s”的起订量为 %(min)s，当前数量 %(qty)s。") % {
                "name": product.name, "min": quantity_text(offer[product_id]), "qty": quantity_text(quantity)})
        else:
            ok.append((product, quantity))
    if errors:
        raise ValidationError({"lines": [message for _n, message in sorted(errors, key=lambda e: e[0])]})
    resolved = prices_for(products=[p for p, _q in ok], quantities=[q for _p, q in ok], partner_tier=tier)
    priced = s.PricedOrder()
    for (product, quantity), price in zip(ok, resolved, strict=True):
        amounts = line_amounts(quantity=quantity, unit_price=price.unit_price, discount_pct=Decimal("0"),
                               tax_rate=product.tax_rate)
        priced.lines.append(OrderLine(
            position=len(priced.lines) + 1, product=product, sku=product.sku, product_name=product.name,
            spec=product.spec, unit=product.unit, quantity=quantity, unit_price=price.unit_price,
            price_source=str(price.source)[:200], price_manual=False, discount_pct=Decimal("0"),
            tax_rate=product.tax_rate, net_amount=amounts.net, tax_amount=amounts.tax, gross_amount=amounts.gross))
    summed = s.totals(priced.lines)
    priced.net_total, priced.tax_total, priced.total = summed.net, summed.tax, summed.gross
    return priced


def partner_order_preview(*, actor, data: dict) -> s.PricedOrder:
    """The lines and totals the order would have, without saving (the cart's live totals)."""
    return _price_partner_lines(_member(actor), data.get("lines"))


def _header(data: dict) -> dict:
    return s._clean_header(None, {k: data[k] for k in PARTNER_HEADER if k in data})


# -- create, edit, submit -----------------------------------------------------------------------------------
def partner_order_create(*, actor, data: dict, submit: bool = True) -> Order:
    """A partner order (draft, or submitted into the approval at once with ``submit``).
    ``data``: lines [{product_id, quantity}], delivery_address, delivery_contact,
    delivery_phone, delivery_date, notes."""
    member = _member(actor)
    partner = member.partner
    header = _header(data)
    priced = _price_partner_lines(member, data.get("lines"))
    owner = partner.owner
    with transaction.atomic():
        order = Order(number=s._next_number(), customer_id=partner.customer_id, owner=owner,
                      department_id=owner.department_id, region_id=partner.region_id or owner.region_id,
                      currency=DEFAULT_CURRENCY, payment_terms_days=partner.payment_terms_days, created_by=actor,
                      partner=partner, submitted_via=SubmittedVia.PORTAL, **header)
        s._apply_priced(order, priced)
        order.save()
        s._save_lines(order, priced)
        s._event(order, EventKind.CREATED, actor=actor, to_status=order.status,
                 data={"total": str(order.total), "lines": order.line_count})
        audit_record(actor=actor, instance=order, action="create",
                     changes=audit_diff({}, audit_snapshot(order, s.ORDER_FIELDS)))
        if submit:
            _submit(actor, order)
    return order


def _submit(actor, order: Order) -> Order:
    order.submitted_by = actor
    order.rejection_note = ""
    s._move(order, OrderStatus.SUBMITTED, actor=actor, kind=EventKind.SUBMITTED, stamps=("submitted_at",),
            fields=("submitted_by", "rejection_note"), data={"total": str(order.total)})
    return s._start_approval(actor, order)


def partner_order_update(*, actor, order_id: int, data: dict, version: int | None = None) -> Order:
    """Edit a draft (a new one, or one rejected or recalled): the header fields, and ``lines``
    replaces every line (re-priced from the tier's list)."""
    member = _member(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status != OrderStatus.DRAFT:
            raise s.TransitionRefused(_("订单 %(number)s 当前状态为“%(current)s”，只有草稿可以修改。") % {
                "number": order.number, "current": s._label(order.status)}, code="not_editable",
                current=order.status, wanted=OrderStatus.DRAFT)
        if version is not None and int(version) != order.version:
            raise s.StaleVersion(current=order.version)
        before = audit_snapshot(order, s.ORDER_FIELDS)
        for name, value in _header(data).items():
            setattr(order, name, value)
        if "lines" in data:
            priced = _price_partner_lines(member, data.get("lines"))
            OrderLine.objects.filter(order=order).delete()
            s._save_lines(order, priced)
            s._apply_priced(order, priced)
        changes = audit_diff(before, audit_snapshot(order, s.ORDER_FIELDS))
        if not changes and "lines" not in data:
            return order
        order.version += 1
        order.save()
        s._event(order, EventKind.UPDATED, actor=actor, data={"fields": sorted(changes)})
        audit_record(actor=actor, instance=order, action="update", changes=changes)
    return order


def partner_order_submit(*, actor, order_id: int, version: int | None = None) -> Order:
    """draft -> submitted -> in approval. Submitting again changes nothing."""
    _member(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status in s._SUBMITTED_ALREADY:
            return order
        if order.status != OrderStatus.DRAFT:
            raise s._refused(order, OrderStatus.SUBMITTED)
        if version is not None and int(version) != order.version:
            raise s.StaleVersion(current=order.version)
        if not order.line_count:
            raise ValidationError({"lines": _("订单没有产品行，不能提交。")})
        return _submit(actor, order)


def partner_order_recall(*, actor, order_id: int) -> Order:
    """in approval -> draft, by its submitter before anyone decided (the engine checks)."""
    _member(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status == OrderStatus.DRAFT:
            return order
        if order.status != OrderStatus.IN_APPROVAL:
            raise s._refused(order, OrderStatus.DRAFT, _(
                "订单 %(number)s 当前状态为“%(current)s”，只有审批中的订单可以撤回。") % {
                "number": order.number, "current": s._label(order.status)})
        request = s.approval_request_pending_for(doc_type=doc_type_of(order), object_id=order.pk)
        if request is None:  # pragma: no cover - in approval always has a pending request
            raise s._refused(order, OrderStatus.DRAFT)
        approval_recall(actor=actor, request_id=request.pk)
        order.refresh_from_db()
    return order


def partner_order_cancel(*, actor, order_id: int, reason: str = "") -> Order:
    """A draft -> cancelled (to withdraw an order in approval, recall it first; after approval
    only the channel manager can cancel it)."""
    _member(actor)
    reason = s._text(reason, field_name="reason", label=_("取消原因"), max_length=500)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        if order.status != OrderStatus.DRAFT:
            raise s._refused(order, OrderStatus.CANCELLED, _(
                "订单 %(number)s 当前状态为“%(current)s”：审批中的订单请先撤回，已审批的订单请联系渠道经理取消。") % {
                "number": order.number, "current": s._label(order.status)})
        order.cancel_reason = reason
        return s._move(order, OrderStatus.CANCELLED, actor=actor, kind=EventKind.CANCELLED, note=reason,
                       stamps=("cancelled_at",), fields=("cancel_reason",))


# -- what partners see of an order ----------------------------------------------------------------------------
# Events partners see, and whether their note is for them (rejection reasons, cancellations and
# shipment notes are; approval comments inside the company are not shown).
PARTNER_EVENTS = {
    EventKind.CREATED: False, EventKind.UPDATED: False, EventKind.SUBMITTED: False,
    EventKind.APPROVAL_STARTED: False, EventKind.APPROVED: False, EventKind.REJECTED: True,
    EventKind.RECALLED: False, EventKind.RETURNED: True, EventKind.SHIPPED: True, EventKind.CANCELLED: True,
    EventKind.INVOICED: False, EventKind.PAID: False, EventKind.INVOICE_VOIDED: False,
    EventKind.PAYMENT_VOIDED: False, EventKind.CLOSED: False,
}
PARTNER_EVENT_DATA = ("carrier", "tracking_number", "number", "amount", "total", "shipment", "invoice")


@dataclass
class PartnerTimelineEntry:
    at: object
    kind: str
    label: str
    note: str = ""
    data: dict | None = None
    by_partner: bool = False  # done by someone of the partner (else by the company)


@dataclass
class PartnerApprovalStep:
    position: int
    name: str
    status: str  # waiting, active, approved, rejected, skipped, cancelled


def partner_order_timeline(*, order: Order) -> list[PartnerTimelineEntry]:
    """The order's events a partner may see, oldest first, without internal comments or names."""
    entries = []
    events = OrderEvent.objects.filter(order=order, kind__in=list(PARTNER_EVENTS)).select_related("actor")
    for event in events.order_by("at", "id"):
        show_note = PARTNER_EVENTS.get(EventKind(event.kind), False)
        data = {k: v for k, v in (event.data or {}).items() if k in PARTNER_EVENT_DATA}
        entries.append(PartnerTimelineEntry(
            at=event.at, kind=event.kind, label=str(EventKind(event.kind).label), note=event.note if show_note else "",
            data=data or None, by_partner=bool(event.actor_id and event.actor and event.actor.is_partner_user)))
    return entries


def partner_order_steps(*, order: Order, language: str = "zh-hans") -> list[PartnerApprovalStep]:
    """The steps of the order's latest approval (names and states only: no approvers, no comments)."""
    from crm.approvals.selectors import approval_history_for_document

    history = approval_history_for_document(doc_type=doc_type_of(order), object_id=order.pk)
    if not history:
        return []
    latest = history[0]
    return [PartnerApprovalStep(position=step.position,
                                name=(step.name_en or step.name_zh) if language.startswith("en") else step.name_zh,
                                status=step.status)
            for step in latest.steps.all().order_by("position")]


# -- notifications to the partner (after commit, in a task) ---------------------------------------------------
def partner_order_recipients(order: Order) -> list:
    """Who of the partner hears about an order's status: its creator (a partner user) and the
    partner's admins, active users of an active partner only."""
    from crm.org.models import User
    from crm.partners.enums import PartnerStatus
    from crm.partners.models import PartnerMember

    if not order.partner_id or order.partner.status != PartnerStatus.ACTIVE:
        return []
    members = PartnerMember.objects.filter(partner_id=order.partner_id, user__is_active=True)
    ids = set(members.filter(role=MemberRole.ADMIN).values_list("user_id", flat=True))
    if order.created_by_id and members.filter(user_id=order.created_by_id).exists():
        ids.add(order.created_by_id)
    return list(User.objects.filter(pk__in=ids).order_by("pk"))


def partner_order_notify(*, order_id: int, status: str, kind: str, version: int, actor_id: int | None = None) -> int:
    """Tell the partner's people (partner_order_recipients, but the one who made the change) that
    their order moved to ``status``: in the portal and by email, in each one's language, once per
    change (the order's version)."""
    from django.urls import NoReverseMatch, reverse
    from django.utils import translation

    from crm.activities.services import notification_create

    order = Order.objects.select_related("partner").filter(pk=order_id, partner__isnull=False).first()
    if order is None:
        return 0
    try:
        url = reverse("portal:order", args=[order.pk])
    except NoReverseMatch:  # pragma: no cover - the portal is installed with the orders
        url = ""
    sent = 0
    for user in partner_order_recipients(order):
        if user.pk == actor_id:
            continue
        with translation.override(user.language or "zh-hans"):
            title = _("你的订单 %(number)s：%(status)s") % {"number": order.number, "status": s._label(status)}
            body = ""
            if kind == EventKind.REJECTED:
                body = _("审批未通过，订单已退回草稿，可修改后重新提交。意见：%(note)s") % {"note": order.rejection_note}
            elif kind == EventKind.CANCELLED and order.cancel_reason:
                body = _("取消原因：%(reason)s") % {"reason": order.cancel_reason}
        note = notification_create(recipient=user, kind="partner_order", title=title, body=body, url=url,
                                   dedup_key=f"partner-order:{order.pk}:v{version}:{user.pk}", email=True)
        sent += 1 if note else 0
    return sent
