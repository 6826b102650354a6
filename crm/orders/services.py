"""Write-side operations of orders. Keyword-only, transactional, audited.

Records are looked up inside the actor's scope (crm.org.scoping): an order or customer the
actor may not see raises ``NotInScope`` (a 404 in the API), as if it did not exist. Bad input
raises ValidationError naming the field (order lines under ``lines``, each message starting
with the line number). A transition that the current state does not allow raises
``TransitionRefused`` (a 409 naming the current and the wanted state). Edits carry the
version the client edited; a stale one raises StaleVersion (412).

The lifecycle is ``enums.ALLOWED_TRANSITIONS``; there is one service per arrow. Each locks the
order row (SELECT ... FOR UPDATE), returns early when the work is already done (a retry
changes nothing), checks the transition and the actor, writes an OrderEvent (the timeline)
and an audit row in the same transaction, and queues notifications with
``transaction.on_commit``.

Approval (crm.approvals): ``order_submit`` moves a draft to submitted and opens an approval
request (doc type "order"); the engine calls back ``order_approval_approved`` /
``order_approval_rejected`` / ``order_approval_recalled`` inside its own transaction (see
crm.orders.approval). When no policy step applies, the request is approved at once and the
order goes straight to approved.

Stock (crm.catalog): approval reserves the order's lines (reference ("order", id)). When stock
is short (and the tenant allows no back orders) the approval still succeeds: the order is
approved with ``stock_state = short`` and the shortage named in ``stock_note`` and on the
timeline; the owner is told, and the reservation is retried with ``order_stock_reserve``
(the "retry reservation" action, open to the warehouse and the order's managers). Shipping
does not need a reservation: it takes free stock and is refused only when there is not
enough. Cancelling releases whatever the order still holds.

Lock order (no deadlocks): approval request -> order -> stock (the catalog's advisory lock on
the document, then stock levels in id order). Services that involve a pending approval
(recall, cancel while in approval) therefore go through the engine first and lock the order
afterwards, never the other way round.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from crm.analytics.calc import shipped_value
from crm.analytics.enums import FactKind
from crm.analytics.services import sales_fact_record
from crm.approvals.enums import RequestStatus
from crm.approvals.selectors import approval_request_pending_for
from crm.approvals.services import approval_recall, approval_submit
from crm.audit.services import (
    audit_diff,
    audit_entries_save,
    audit_entry_build,
    audit_record,
    audit_snapshot,
)
from crm.catalog.selectors import (
    catalog_settings_get,
    prices_for,
    product_list_visible_to,
    unscoped_warehouse_active,
    warehouse_list,
)
from crm.catalog.services import stock_release, stock_reserve, stock_ship
from crm.customers.selectors import customer_get_for_actor
from crm.inputs import clean_currency, clean_text, parse_decimal
from crm.integrations.enums import WebhookEventType
from crm.integrations.services import webhook_emit, webhook_is_subscribed
from crm.org.selectors import staff_in_scope_of
from crm.org.services import StaleVersion

from .calc import line_amounts, totals
from .enums import (
    ATTACHMENT_MAX_BYTES,
    ATTACHMENT_TYPES,
    ATTACHMENTS_PER_ORDER,
    DEFAULT_CURRENCY,
    MAX_LINES,
    RESERVING_STATUSES,
    EventKind,
    OrderStatus,
    StockState,
    SubmittedVia,
    can_transition,
)
from .models import (
    CustomerCredit,
    Order,
    OrderAttachment,
    OrderEvent,
    OrderLine,
    Shipment,
    ShipmentLine,
)
from .permissions import (
    can_attach_to_order,
    can_close_order,
    can_create_order,
    can_manage_credit,
    can_manage_order,
    can_mark_paid,
    can_reserve_stock,
    can_ship_orders,
)
from .selectors import doc_type_of

__all__ = ["StaleVersion"]  # re-exported: one exception for every stale edit (412 in the API)

ORDER_FIELDS = ("customer", "status", "currency", "warehouse", "delivery_address", "delivery_contact",
                "delivery_phone", "delivery_date", "payment_terms_days", "notes", "net_total", "tax_total", "total",
                "owner", "line_count")
MAX_MONEY = Decimal("999999999999.99")  # Decimal(14, 2)
MAX_QTY = Decimal("99999999999.999")  # Decimal(14, 3)
REFERENCE = "order"  # the stock ledger's reference type


# -- errors ----------------------------------------------------------------------------------------
class NotInScope(ObjectDoesNotExist):
    """A record named in the input does not exist or is outside the actor's scope (a 404,
    the same for both). ``field`` names the input that named it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class TransitionRefused(ValidationError):
    """The order's state does not allow the operation (a 409): ``current`` is the state it
    is in, ``wanted`` the one asked for. A ValidationError, so forms show it."""

    def __init__(self, message: str, *, code: str = "transition_not_allowed", current: str, wanted: str):
        super().__init__(message, code=code)
        self.current = current
        self.wanted = wanted


class StockShort(ValidationError):
    """A shipment needs more than the warehouse has (a 409 naming the product)."""

    def __init__(self, messages):
        super().__init__({"lines": messages}, code="stock_short")


class AttachmentTooLarge(ValidationError):
    """The file is over the size limit (a 413)."""


def _label(status: str) -> str:
    return str(dict(OrderStatus.choices).get(status, status))


def _refused(order: Order, wanted: str, message: str | None = None) -> TransitionRefused:
    text = message or _("订单 %(number)s 当前状态为“%(current)s”，不能变为“%(wanted)s”。") % {
        "number": order.number, "current": _label(order.status), "wanted": _label(wanted)}
    return TransitionRefused(text, current=order.status, wanted=wanted)


def _require_active(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_("只有在职员工可以操作订单。"))


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


# -- input checks ------------------------------------------------------------------------------------
def _number(value, *, label: str, places: int, maximum: Decimal, positive: bool = False,
            at_most: Decimal | None = None) -> Decimal:
    """crm.inputs.parse_decimal (ValueError with the message; the caller adds the field or
    the line), with ``at_most`` as a tighter maximum."""
    return parse_decimal(value, label=label, places=places, maximum=at_most if at_most is not None else maximum,
                         positive=positive)


def _field_number(value, *, field_name: str, **kwargs) -> Decimal:
    try:
        return _number(value, **kwargs)
    except ValueError as exc:
        raise ValidationError({field_name: str(exc)}) from None


def _text(value, *, field_name: str, label: str, max_length: int, required: bool = False) -> str:
    return clean_text(value, field=field_name, label=label, max_length=max_length, required=required)


def _currency(value) -> str:
    return clean_currency(value, default=DEFAULT_CURRENCY)


def _pk(value, field_name: str, label: str) -> int:
    if isinstance(value, bool):
        raise ValidationError({field_name: _("请选择%(label)s。") % {"label": label}})
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({field_name: _("请选择%(label)s。") % {"label": label}}) from None
    if number <= 0:
        raise ValidationError({field_name: _("请选择%(label)s。") % {"label": label}})
    return number


def _date(value, field_name: str, label: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    try:
        day = parse_date(str(value).strip())
    except ValueError:
        day = None
    if day is None:
        raise ValidationError({field_name: _("%(label)s应为日期，格式 YYYY-MM-DD。") % {"label": label}})
    return day


def _customer(actor, customer_id):
    pk = _pk(customer_id, "customer_id", _("客户"))
    try:
        return customer_get_for_actor(actor=actor, customer_id=pk)
    except ObjectDoesNotExist:
        raise NotInScope("customer_id", _("客户不存在或不在你的可见范围内。")) from None


def _owner(actor, owner_id):
    if owner_id in (None, "") or str(owner_id) == str(actor.pk):
        return actor
    pk = _pk(owner_id, "owner_id", _("负责人"))
    owner = staff_in_scope_of(actor=actor).filter(pk=pk).select_related("department", "region").first()
    if owner is None:
        raise ValidationError({"owner_id": _("负责人不存在、已停用或不在你的管理范围内。")})
    return owner


def _warehouse(actor, warehouse_id, field_name: str = "warehouse_id"):
    if warehouse_id in (None, ""):
        return None
    pk = _pk(warehouse_id, field_name, _("仓库"))
    if actor is None:  # the system (the ERP): every active warehouse
        warehouse = unscoped_warehouse_active(warehouse_id=pk)
    else:
        warehouse = warehouse_list(actor=actor, include_inactive=False).filter(pk=pk).first()
    if warehouse is None:
        raise ValidationError({field_name: _("仓库不存在或已停用。")})
    return warehouse


HEADER_TEXT = (  # (field, label, max length)
    ("delivery_address", "收货地址", 300),
    ("delivery_contact", "收货人", 100),
    ("delivery_phone", "收货电话", 40),
    ("notes", "备注", 5000),
)


def _clean_header(actor, data: dict) -> dict:
    """The order's own fields present in ``data``, checked; all problems at once."""
    clean: dict = {}
    errors: dict[str, list[str]] = {}

    def run(name, fn):
        try:
            clean[name] = fn()
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)

    for name, label, length in HEADER_TEXT:
        if name in data:
            run(name, lambda name=name, label=label, length=length: _text(
                data.get(name), field_name=name, label=_(label), max_length=length))
    if "currency" in data:
        run("currency", lambda: _currency(data.get("currency")))
    if "warehouse_id" in data:
        run("warehouse", lambda: _warehouse(actor, data.get("warehouse_id")))
    if "delivery_date" in data:
        run("delivery_date", lambda: _date(data.get("delivery_date"), "delivery_date", _("交货日期")))
    if "payment_terms_days" in data:
        def terms():
            raw = data.get("payment_terms_days")
            if raw in (None, ""):
                return 30
            try:
                days = int(str(raw).strip())
            except (TypeError, ValueError):
                raise ValidationError({"payment_terms_days": _("账期必须是 0 到 365 之间的整数天数。")}) from None
            if not 0 <= days <= 365:
                raise ValidationError({"payment_terms_days": _("账期必须是 0 到 365 之间的整数天数。")})
            return days
        run("payment_terms_days", terms)
    if errors:
        raise ValidationError(errors)
    return clean


# -- lines ----------------------------------------------------------------------------------------------
@dataclass
class PricedOrder:
    """Lines checked and priced (unsaved) and the totals they add up to."""

    lines: list[OrderLine] = field(default_factory=list)
    net_total: Decimal = Decimal("0.00")
    tax_total: Decimal = Decimal("0.00")
    total: Decimal = Decimal("0.00")
    max_discount_pct: Decimal = Decimal("0")


def _line_prefix(n: int) -> str:
    return _("第 %(n)s 行：") % {"n": n}


def _price_lines(*, actor, lines, customer_level: str, currency: str, on: datetime.date | None = None) -> PricedOrder:
    """Check, price and compute every line; every problem of every line is reported at once
    under ``lines`` (each message names its line). A line: product_id, quantity, unit_price
    (empty: the price list's price for the customer's level and the quantity), discount_pct
    (0-100), warehouse_id (empty: the order's, else the default warehouse)."""
    if lines is None or isinstance(lines, (str, bytes, dict)) or not isinstance(lines, Sequence):
        raise ValidationError({"lines": _("请至少添加一行产品。")})
    if not lines:
        raise ValidationError({"lines": _("请至少添加一行产品。")})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": _("一张订单最多 %(n)s 行。") % {"n": MAX_LINES}})
    errors: list[str] = []
    parsed = []
    for n, raw in enumerate(lines, start=1):
        prefix = _line_prefix(n)
        if not isinstance(raw, dict):
            errors.append(prefix + _("格式应为包含 product_id 和 quantity 的对象。"))
            continue
        problems = []
        product_id = warehouse_id = None
        try:
            product_id = _pk(raw.get("product_id"), "product_id", _("产品"))
        except ValidationError:
            problems.append(_("请选择产品。"))
        try:
            quantity = _number(raw.get("quantity"), label=_("数量"), places=3, maximum=MAX_QTY, positive=True)
        except ValueError as exc:
            problems.append(str(exc))
            quantity = None
        unit_price = None
        if raw.get("unit_price") not in (None, ""):
            try:
                unit_price = _number(raw.get("unit_price"), label=_("单价"), places=2, maximum=MAX_MONEY)
            except ValueError as exc:
                problems.append(str(exc))
        discount = Decimal("0")
        if raw.get("discount_pct") not in (None, ""):
            try:
                discount = _number(raw.get("discount_pct"), label=_("折扣率"), places=2, maximum=Decimal(100))
            except ValueError as exc:
                problems.append(str(exc))
        if raw.get("warehouse_id") not in (None, ""):
            try:
                warehouse_id = _pk(raw.get("warehouse_id"), "warehouse_id", _("仓库"))
            except ValidationError:
                problems.append(_("仓库编号无效。"))
        if problems:
            errors.append(prefix + " ".join(problems))
            continue
        parsed.append((n, product_id, quantity, unit_price, discount, warehouse_id))
    products = product_list_visible_to(actor=actor).in_bulk({p[1] for p in parsed})
    warehouses = warehouse_list(actor=actor).in_bulk({p[5] for p in parsed if p[5]})
    # the list prices of every line without a unit price, in one query
    to_price = [(n, products[p], q) for n, p, q, price, _d, _w in parsed if price is None and p in products]
    resolved_of = dict(zip([n for n, _p, _q in to_price], prices_for(
        products=[p for _n, p, _q in to_price], quantities=[q for _n, _p, q in to_price],
        customer_level=customer_level, on=on), strict=True))
    priced = PricedOrder()
    for n, product_id, quantity, unit_price, discount, warehouse_id in parsed:
        prefix = _line_prefix(n)
        product = products.get(product_id)
        if product is None:
            errors.append(prefix + _("产品 %(id)s 不存在。") % {"id": product_id})
            continue
        if not product.is_active:
            errors.append(prefix + _("产品“%(name)s”（%(sku)s）已停用，不能下单。") % {
                "name": product.name, "sku": product.sku})
            continue
        if warehouse_id:
            warehouse = warehouses.get(warehouse_id)
            if warehouse is None or not warehouse.is_active:
                errors.append(prefix + _("仓库 %(id)s 不存在或已停用。") % {"id": warehouse_id})
                continue
        if unit_price is None:
            resolved = resolved_of[n]
            if resolved.currency != currency:
                errors.append(prefix + _("产品“%(name)s”没有 %(currency)s 价格，请填写单价。") % {
                    "name": product.name, "currency": currency})
                continue
            unit_price, source, manual = resolved.unit_price, resolved.source, False
        else:
            source, manual = _("手工填写"), True
        amounts = line_amounts(quantity=quantity, unit_price=unit_price, discount_pct=discount,
                               tax_rate=product.tax_rate)
        priced.lines.append(OrderLine(
            position=len(priced.lines) + 1, product=product, sku=product.sku, product_name=product.name,
            spec=product.spec, unit=product.unit, warehouse_id=warehouse_id, quantity=quantity,
            unit_price=unit_price, price_source=str(source)[:200], price_manual=manual, discount_pct=discount, tax_rate=product.tax_rate,
            net_amount=amounts.net, tax_amount=amounts.tax, gross_amount=amounts.gross))
    if errors:
        raise ValidationError({"lines": errors})
    summed = totals(priced.lines)
    priced.net_total, priced.tax_total, priced.total = summed.net, summed.tax, summed.gross
    priced.max_discount_pct = max((line.discount_pct for line in priced.lines), default=Decimal("0"))
    return priced


def order_preview(*, actor, data: dict) -> PricedOrder:
    """The lines and totals an order with ``data`` would have, computed exactly as
    order_create computes them, without saving anything (live totals while entering)."""
    _require_active(actor)
    customer = _customer(actor, data.get("customer_id"))
    currency = _currency(data.get("currency")) if data.get("currency") else DEFAULT_CURRENCY
    return _price_lines(actor=actor, lines=data.get("lines"), customer_level=customer.level or "", currency=currency)


def _apply_priced(order: Order, priced: PricedOrder) -> None:
    order.net_total, order.tax_total, order.total = priced.net_total, priced.tax_total, priced.total
    order.max_discount_pct = priced.max_discount_pct
    order.line_count = len(priced.lines)


def _save_lines(order: Order, priced: PricedOrder) -> None:
    for line in priced.lines:
        line.order = order
    OrderLine.objects.bulk_create(priced.lines)


# -- numbers, events, transitions -----------------------------------------------------------------------
def _next_number() -> str:
    """SO<year>-<000123>: a per-tenant, per-year sequence, taken in the creating transaction."""
    from .models import OrderCounter

    year = timezone.localdate().year
    table = connection.ops.quote_name(OrderCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (year, last) VALUES (%s, 1) "  # noqa: S608 (the table name is ours)
            f"ON CONFLICT (year) DO UPDATE SET last = {table}.last + 1 RETURNING last", [year])
        (number,) = cursor.fetchone()
    return f"SO{year}-{number:06d}"


def _event_row(order: Order, kind: str, *, actor, note: str = "", data: dict | None = None, from_status: str = "",
               to_status: str = "") -> OrderEvent:
    return OrderEvent(order=order, kind=kind, actor=actor if getattr(actor, "pk", None) else None,
                      note=(note or "")[:1000], data=data or {}, from_status=from_status, to_status=to_status)


def _event(order: Order, kind: str, *, actor, note: str = "", data: dict | None = None, from_status: str = "",
           to_status: str = "") -> OrderEvent:
    event = _event_row(order, kind, actor=actor, note=note, data=data, from_status=from_status, to_status=to_status)
    event.save(force_insert=True)
    return event


@dataclass
class _Writes:
    """What one service changes on a (locked) order in several steps (e.g. approved, then its
    stock reserved), written together by ``flush``: one UPDATE of the order, one INSERT of its
    timeline events, one of its audit rows, in the order they were added."""

    fields: list[str] = field(default_factory=list)
    events: list[OrderEvent] = field(default_factory=list)
    audits: list = field(default_factory=list)

    def event(self, order: Order, kind: str, **kwargs) -> None:
        self.events.append(_event_row(order, kind, **kwargs))

    def audit(self, *, actor, instance, action: str, changes: dict | None = None, note: str = "") -> None:
        self.audits.append(audit_entry_build(actor=actor, instance=instance, action=action, changes=changes,
                                             note=note))

    def flush(self, order: Order) -> None:
        if self.fields:
            order.save(update_fields=list(dict.fromkeys(self.fields)))
        if self.events:
            OrderEvent.objects.bulk_create(self.events)
        audit_entries_save(self.audits)
        self.fields, self.events, self.audits = [], [], []


def _move(order: Order, wanted: str, *, actor, kind: str, note: str = "", stamps: Sequence[str] = (),
          fields: Sequence[str] = (), data: dict | None = None, changes: dict | None = None,
          writes: _Writes | None = None) -> Order:
    """Move the (locked) order to ``wanted`` if the table allows it: save, timeline, audit
    (with ``writes``: added to them, written when the caller flushes them)."""
    if not can_transition(order.status, wanted):
        raise _refused(order, wanted)
    old = order.status
    now = timezone.now()
    order.status = wanted
    for stamp in stamps:
        setattr(order, stamp, now)
    order.version += 1
    pending = writes if writes is not None else _Writes()
    pending.fields += ["status", "version", "updated_at", *stamps, *fields]
    pending.event(order, kind, actor=actor, note=note, data=data, from_status=old, to_status=wanted)
    pending.audit(actor=actor, instance=order, action=kind,
                  changes={"status": {"old": old, "new": wanted}, **(changes or {})}, note=(note or "")[:500])
    if writes is None:
        pending.flush(order)
    if order.partner_id and wanted != OrderStatus.SUBMITTED:  # the partner hears of every change
        from .tasks import partner_order_notify_task

        _after_commit(partner_order_notify_task, order.pk, wanted, kind, order.version, getattr(actor, "pk", None))
    return order


def _locked(actor, order_id) -> Order:
    """The order row, locked, if the actor may see it (``actor=None``: the system)."""
    try:
        pk = int(order_id)
    except (TypeError, ValueError):
        raise NotInScope("order_id", _("订单不存在或不在你的可见范围内。")) from None
    qs = Order.objects.all() if actor is None else Order.objects.visible_to(actor)
    order = qs.select_for_update(of=("self",)).filter(pk=pk).first()
    if order is None:
        raise NotInScope("order_id", _("订单不存在或不在你的可见范围内。"))
    return order


def _visible(actor, order_id) -> Order:
    try:
        pk = int(order_id)
    except (TypeError, ValueError):
        raise NotInScope("order_id", _("订单不存在或不在你的可见范围内。")) from None
    order = Order.objects.visible_to(actor).filter(pk=pk).first()
    if order is None:
        raise NotInScope("order_id", _("订单不存在或不在你的可见范围内。"))
    return order


def _after_commit(task, *args) -> None:
    """Queue ``task`` once the transaction commits, in this tenant's schema; a broker that is
    down is logged, never an error of the operation already committed."""
    schema = connection.schema_name
    transaction.on_commit(lambda: task.apply_async(args=list(args), headers={"_schema_name": schema}),
                          robust=True)


def order_webhook_payload(order: Order) -> dict:
    """The ``data`` of the order events for the ERP (crm.integrations): header, totals, lines."""
    lines = list(order.lines.order_by("position", "id"))
    return {"id": order.pk, "number": order.number, "status": order.status, "currency": order.currency,
            "customer": {"id": order.customer_id, "name": order.customer.name},
            "owner": {"id": order.owner_id, "name": order.owner.full_name} if order.owner_id else None,
            "net_total": str(order.net_total), "tax_total": str(order.tax_total), "total": str(order.total),
            "approved_at": order.approved_at, "shipped_at": order.shipped_at, "version": order.version,
            "lines": [{"sku": line.sku, "name": line.product_name, "quantity": str(line.quantity),
                       "unit_price": str(line.unit_price), "shipped_quantity": str(line.shipped_quantity)}
                      for line in lines]}


def _webhook(order: Order, event_type: str, **extra) -> None:
    """order.approved / order.shipped for the subscribed endpoints, sent after commit (nothing
    is stored when no endpoint subscribes)."""
    if not webhook_is_subscribed(event_type=event_type):
        return
    order.refresh_from_db()
    webhook_emit(event_type=event_type, payload={**order_webhook_payload(order), **extra},
                 idempotency_key=f"{event_type}:{order.pk}:v{order.version}")


def _notify(order: Order, what: str, detail: str = "") -> None:
    from .tasks import orders_notify_task

    _after_commit(orders_notify_task, order.pk, what, detail)


# -- create and edit ----------------------------------------------------------------------------------
def order_create(*, actor, data: dict, partner_id: int | None = None,
                 submitted_via: str = SubmittedVia.STAFF) -> Order:
    """A draft order for a customer the actor may see. ``data``: customer_id, lines (see
    _price_lines), currency (CNY), warehouse_id, delivery_address, delivery_contact,
    delivery_phone, delivery_date, payment_terms_days (30), notes, owner_id (the actor, or a
    colleague in the actor's scope). The owner's department and region scope the order."""
    _require_active(actor)
    _require(can_create_order(actor), _("你没有创建订单的权限。"))
    if submitted_via not in SubmittedVia.values:
        raise ValidationError({"submitted_via": _("来源只能是 staff 或 portal。")})
    customer = _customer(actor, data.get("customer_id"))
    owner = _owner(actor, data.get("owner_id"))
    header = _clean_header(actor, {"currency": DEFAULT_CURRENCY, **data})
    priced = _price_lines(actor=actor, lines=data.get("lines"), customer_level=customer.level or "",
                          currency=header["currency"])
    with transaction.atomic():
        order = Order(number=_next_number(), customer=customer, owner=owner, department_id=owner.department_id,
                      region_id=owner.region_id or customer.region_id, price_level=customer.level or "",
                      created_by=actor, partner_id=partner_id, submitted_via=submitted_via, **header)
        _apply_priced(order, priced)
        order.save()
        _save_lines(order, priced)
        _event(order, EventKind.CREATED, actor=actor, to_status=order.status,
               data={"total": str(order.total), "lines": order.line_count})
        audit_record(actor=actor, instance=order, action="create",
                     changes=audit_diff({}, audit_snapshot(order, ORDER_FIELDS)))
    return order


def order_update(*, actor, order_id: int, data: dict, version: int | None = None) -> Order:
    """Edit a draft (its owner or an order manager): the fields of order_create, and
    ``lines`` replaces every line. ``version`` must be the one edited (else StaleVersion).
    Without ``lines`` the lines keep their prices."""
    _require_active(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        _require(can_manage_order(actor, order), _("只有订单负责人或商务人员可以修改订单。"))
        if not order.is_editable():
            raise TransitionRefused(_("订单 %(number)s 当前状态为“%(current)s”，只有草稿可以修改。") % {
                "number": order.number, "current": _label(order.status)}, code="not_editable",
                current=order.status, wanted=OrderStatus.DRAFT)
        if version is not None and int(version) != order.version:
            raise StaleVersion(current=order.version)
        before = audit_snapshot(order, ORDER_FIELDS)
        header = _clean_header(actor, data)
        for name, value in header.items():
            setattr(order, name, value)
        if "customer_id" in data and str(data.get("customer_id")) != str(order.customer_id):
            customer = _customer(actor, data.get("customer_id"))
            order.customer = customer
            order.price_level = customer.level or ""
        if "lines" in data:
            priced = _price_lines(actor=actor, lines=data.get("lines"), customer_level=order.price_level,
                                  currency=order.currency)
            OrderLine.objects.filter(order=order).delete()
            _save_lines(order, priced)
            _apply_priced(order, priced)
        elif "currency" in header and header["currency"] != before["currency"]:
            raise ValidationError({"currency": _("修改币种时请同时提交订单行（单价按新币种）。")})
        changes = audit_diff(before, audit_snapshot(order, ORDER_FIELDS))
        if not changes and "lines" not in data:
            return order
        order.version += 1
        order.save()
        _event(order, EventKind.UPDATED, actor=actor, data={"fields": sorted(changes)})
        audit_record(actor=actor, instance=order, action="update", changes=changes)
    return order


# -- submit and approval ---------------------------------------------------------------------------------
_SUBMITTED_ALREADY = frozenset({OrderStatus.SUBMITTED, OrderStatus.IN_APPROVAL, OrderStatus.APPROVED,
                                OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.INVOICED,
                                OrderStatus.PAID, OrderStatus.CLOSED})


def _start_approval(actor, order: Order) -> Order:
    """submitted -> in_approval (a request with steps) or approved (none applies)."""
    from .approval import submitting

    token = submitting.set(order)
    try:
        request = approval_submit(actor=actor, doc_type=doc_type_of(order), object_id=order.pk)
    finally:
        submitting.reset(token)
    if request.status != RequestStatus.PENDING:  # approved at once: the callback moved the order
        order.refresh_from_db()
        return order
    _move(order, OrderStatus.IN_APPROVAL, actor=actor, kind=EventKind.APPROVAL_STARTED,
          data={"request": request.pk, "amount": str(order.total)})
    return order


def order_submit(*, actor, order_id: int, version: int | None = None) -> Order:
    """draft -> submitted -> in approval (or approved at once when no approval step
    applies). Its owner or an order manager submits; a draft without lines cannot be.
    Submitting an order that is already submitted (or further) changes nothing."""
    _require_active(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        _require(can_manage_order(actor, order), _("只有订单负责人或商务人员可以提交订单。"))
        if order.status in _SUBMITTED_ALREADY:
            return order
        if not can_transition(order.status, OrderStatus.SUBMITTED):
            raise _refused(order, OrderStatus.SUBMITTED)
        if version is not None and int(version) != order.version:
            raise StaleVersion(current=order.version)
        if not order.line_count:
            raise ValidationError({"lines": _("订单没有产品行，不能提交。")})
        order.submitted_by = actor
        order.rejection_note = ""
        _move(order, OrderStatus.SUBMITTED, actor=actor, kind=EventKind.SUBMITTED, stamps=("submitted_at",),
              fields=("submitted_by", "rejection_note"), data={"total": str(order.total)})
        _start_approval(actor, order)
    return order


def order_approval_start(*, actor, order_id: int) -> Order:
    """submitted -> in approval (for orders that wait in "submitted", e.g. from the partner
    portal, until staff take them up). Already in approval or further: nothing changes."""
    _require_active(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        _require(can_manage_order(actor, order), _("只有订单负责人或商务人员可以提交审批。"))
        if order.status in _SUBMITTED_ALREADY - {OrderStatus.SUBMITTED}:
            return order
        if order.status != OrderStatus.SUBMITTED:
            raise _refused(order, OrderStatus.IN_APPROVAL)
        return _start_approval(actor, order)


def order_return(*, actor, order_id: int, note: str = "") -> Order:
    """submitted -> draft: handed back to its owner before the approval started."""
    _require_active(actor)
    note = _text(note, field_name="note", label=_("退回原因"), max_length=1000)
    with transaction.atomic():
        order = _locked(actor, order_id)
        _require(can_manage_order(actor, order), _("只有订单负责人或商务人员可以退回订单。"))
        if order.status == OrderStatus.DRAFT:
            return order
        order.rejection_note = note
        return _move(order, OrderStatus.DRAFT, actor=actor, kind=EventKind.RETURNED, note=note,
                     fields=("rejection_note",))


def order_recall(*, actor, order_id: int) -> Order:
    """in approval -> draft: the submitter takes the order back before anyone decided
    (delegates to the approval engine's recall, which checks exactly that). A draft stays
    as it is."""
    _require_active(actor)
    with transaction.atomic():
        order = _visible(actor, order_id)
        if order.status == OrderStatus.DRAFT:
            return order
        if order.status != OrderStatus.IN_APPROVAL:
            raise _refused(order, OrderStatus.DRAFT, _(
                "订单 %(number)s 当前状态为“%(current)s”，只有审批中的订单可以撤回（变为“%(wanted)s”）。") % {
                "number": order.number, "current": _label(order.status), "wanted": _label(OrderStatus.DRAFT)})
        request = approval_request_pending_for(doc_type=doc_type_of(order), object_id=order.pk)
        if request is None:  # pragma: no cover - in approval always has a pending request
            raise _refused(order, OrderStatus.DRAFT)
        approval_recall(actor=actor, request_id=request.pk)  # calls order_approval_recalled
        order.refresh_from_db()
    return order


# The engine's callbacks (crm.orders.approval registers them). They run inside the engine's
# transaction, after it locked the approval request; the actor is the approver (recall: the
# submitter), whose scope is not asked again: the engine decided they may act.
def order_approval_approved(*, order_id: int, actor) -> Order:
    """in approval (or submitted) -> approved, then reserve the stock (or flag it short)."""
    order = _locked(None, order_id)
    if order.approved_at is not None and order.status != OrderStatus.DRAFT:
        return order
    writes = _Writes()  # the order is saved once, with its stock state
    _move(order, OrderStatus.APPROVED, actor=actor, kind=EventKind.APPROVED, stamps=("approved_at",),
          data={"total": str(order.total)}, writes=writes)
    _reserve(order, actor=actor, writes=writes)
    _webhook(order, WebhookEventType.ORDER_APPROVED)
    sales_fact_record(kind=FactKind.ORDER, day=order.approved_at, owner_id=order.owner_id,  # the dashboard
                      department_id=order.department_id, region_id=order.region_id, currency=order.currency,
                      amount=order.total)  # last: no other lock is taken after the facts' (a rebuild may wait)
    return order


def order_approval_rejected(*, order_id: int, actor, comment: str) -> Order:
    """in approval -> draft, editable again, with the approver's comment kept."""
    order = _locked(None, order_id)
    if order.status == OrderStatus.DRAFT:
        return order
    order.rejection_note = (comment or "")[:1000]
    return _move(order, OrderStatus.DRAFT, actor=actor, kind=EventKind.REJECTED, note=comment,
                 stamps=("rejected_at",), fields=("rejection_note",))


def order_approval_recalled(*, order_id: int, actor) -> Order:
    order = _locked(None, order_id)
    if order.status == OrderStatus.DRAFT:
        return order
    return _move(order, OrderStatus.DRAFT, actor=actor, kind=EventKind.RECALLED)


# -- stock ----------------------------------------------------------------------------------------------
def _effective_warehouses(order: Order, lines: list[OrderLine]) -> dict:
    """Fix each line's warehouse (the line's, else the order's, else the default warehouse)
    so that reservation and shipments use the same one (one UPDATE). Without any, None stays.
    Returns the Warehouse rows it read on the way (the default one), by id."""
    if all(line.warehouse_id for line in lines):
        return {}
    read = {}
    warehouse_id = order.warehouse_id
    if not warehouse_id:
        settings_row = catalog_settings_get()
        if settings_row.default_warehouse_id and settings_row.default_warehouse.is_active:
            warehouse_id = settings_row.default_warehouse_id
            read[warehouse_id] = settings_row.default_warehouse
    if not warehouse_id:
        return read
    for line in lines:
        if line.warehouse_id is None:
            line.warehouse_id = warehouse_id
    OrderLine.objects.filter(order=order, warehouse__isnull=True).update(warehouse_id=warehouse_id)
    return read


def _reserve(order: Order, *, actor, writes: _Writes | None = None) -> bool:
    """Reserve what the (locked) order has not shipped yet. True when it holds its stock;
    False when stock is short (the order is flagged, the owner told). The order's changes
    (with those already in ``writes``) are written in one go at the end."""
    writes = writes if writes is not None else _Writes()
    lines = list(OrderLine.objects.filter(order=order).select_related("product", "warehouse").order_by("position"))
    # the products and warehouses of the lines, as just read: the catalog need not read them again
    products = {line.product_id: line.product for line in lines}
    warehouses = {line.warehouse_id: line.warehouse for line in lines if line.warehouse_id}
    warehouses.update(_effective_warehouses(order, lines))
    wanted = [(line.product_id, line.warehouse_id, line.quantity - line.shipped_quantity)
              for line in lines if line.quantity > line.shipped_quantity]
    if not wanted:
        writes.flush(order)
        return True
    try:
        result = stock_reserve(actor=actor, reference_type=REFERENCE, reference_id=order.pk, lines=wanted,
                               note=order.number, products=products, warehouses=warehouses)
    except ValidationError as exc:
        note = " ".join(str(m) for m in exc.messages)[:1000]
        order.stock_state, order.stock_note = StockState.SHORT, note
        writes.fields += ["stock_state", "stock_note", "updated_at"]
        writes.event(order, EventKind.STOCK_SHORT, actor=actor, note=note)
        writes.audit(actor=actor, instance=order, action="stock_short", note=note[:500],
                     changes={"stock_state": {"old": None, "new": StockState.SHORT}})
        writes.flush(order)
        _notify(order, "stock_short", note)
        return False
    old = order.stock_state
    order.stock_state, order.stock_note = StockState.RESERVED, ""
    writes.fields += ["stock_state", "stock_note", "updated_at"]
    if result.changed:
        writes.event(order, EventKind.STOCK_RESERVED, actor=actor, data={"lines": [
            {"product": m.product_id, "warehouse": m.warehouse_id, "quantity": str(m.quantity)}
            for m in result.movements]})
        writes.audit(actor=actor, instance=order, action="stock_reserved",
                     changes={"stock_state": {"old": old, "new": StockState.RESERVED}})
    writes.flush(order)
    return True


def _release(order: Order, *, actor, note: str, state: str) -> None:
    result = stock_release(actor=actor, reference_type=REFERENCE, reference_id=order.pk, note=note)
    if result.changed:
        _event(order, EventKind.STOCK_RELEASED, actor=actor, note=note, data={"lines": [
            {"product": m.product_id, "warehouse": m.warehouse_id, "quantity": str(m.quantity)}
            for m in result.movements]})
    if order.stock_state != state:
        order.stock_state = state
        order.save(update_fields=["stock_state", "updated_at"])


def order_stock_reserve(*, actor, order_id: int) -> Order:
    """Retry the reservation of an approved order whose stock was short (the warehouse or
    the order's managers). An order that holds its stock changes nothing."""
    _require_active(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        _require(can_reserve_stock(actor, order), _("你没有为这张订单预留库存的权限。"))
        if order.status not in RESERVING_STATUSES:
            raise TransitionRefused(_("订单 %(number)s 当前状态为“%(current)s”，只有已审批或部分发货的订单需要预留库存。") % {
                "number": order.number, "current": _label(order.status)}, code="not_reservable",
                current=order.status, wanted=order.status)
        if order.stock_state == StockState.RESERVED:
            return order
        _reserve(order, actor=actor)
    return order


# -- cancel -----------------------------------------------------------------------------------------------
def order_cancel(*, actor, order_id: int, reason: str = "") -> Order:
    """draft, submitted or approved -> cancelled, releasing the stock it holds. An order in
    approval is first recalled (by its submitter, before anyone decided; otherwise the
    approver has to reject it first). Once goods have been shipped it cannot be cancelled.
    Cancelling it again changes nothing."""
    _require_active(actor)
    reason = _text(reason, field_name="reason", label=_("取消原因"), max_length=500)
    with transaction.atomic():
        order = _visible(actor, order_id)
        _require(can_manage_order(actor, order), _("只有订单负责人或商务人员可以取消订单。"))
        if order.status == OrderStatus.IN_APPROVAL:
            request = approval_request_pending_for(doc_type=doc_type_of(order), object_id=order.pk)
            if request is not None:
                if request.submitter_id != actor.pk:
                    raise _refused(order, OrderStatus.CANCELLED, _(
                        "订单 %(number)s 正在审批中，不能直接取消：请提交人先撤回，或由审批人驳回后再取消。") % {
                        "number": order.number})
                approval_recall(actor=actor, request_id=request.pk)
        order = _locked(actor, order_id)
        if order.status == OrderStatus.CANCELLED:
            return order
        order.cancel_reason = reason
        _move(order, OrderStatus.CANCELLED, actor=actor, kind=EventKind.CANCELLED, note=reason,
              stamps=("cancelled_at",), fields=("cancel_reason",))
        _release(order, actor=actor, note=_("订单 %(number)s 取消") % {"number": order.number},
                 state=StockState.RELEASED if order.stock_state == StockState.RESERVED else StockState.NONE)
        if order.approved_at is not None:  # it counted on the dashboard: reversed on the day it counted
            sales_fact_record(kind=FactKind.ORDER, day=order.approved_at, owner_id=order.owner_id,
                              department_id=order.department_id, region_id=order.region_id,
                              currency=order.currency, amount=-order.total, count=-1)
    return order


# -- shipments ----------------------------------------------------------------------------------------------
def _shipped_at(value) -> datetime.datetime:
    if value in (None, ""):
        return timezone.now()
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        moment = parse_datetime(str(value).strip())
        if moment is None:
            day = _date(value, "shipped_at", _("发货时间"))
            moment = datetime.datetime.combine(day, datetime.time(hour=12))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment > timezone.now() + datetime.timedelta(days=1):
        raise ValidationError({"shipped_at": _("发货时间不能是将来。")})
    return moment


def shipment_create(*, actor, order_id: int, data: dict) -> Shipment:
    """Goods out for an approved (or partially shipped) order, from one warehouse: ``data``
    lines [{order_line_id, quantity}] (none: everything not yet shipped from that
    warehouse), warehouse_id (default: the lines' warehouse), carrier, tracking_number,
    shipped_at, note, external_id (the delivery note number; the same number again returns
    the shipment it made). Never more than ordered; stock never below zero (StockShort when
    the warehouse has too little, unless the tenant allows back orders). The order becomes
    partially shipped or shipped. ``actor=None`` is the system: the ERP reporting a delivery
    (erp_shipment_apply)."""
    if actor is not None:
        _require_active(actor)
        _require(can_ship_orders(actor), _("只有仓库人员可以发货。"))
    external_id = _text(data.get("external_id"), field_name="external_id", label=_("外部编号"), max_length=100)
    carrier = _text(data.get("carrier"), field_name="carrier", label=_("承运商"), max_length=100)
    tracking = _text(data.get("tracking_number"), field_name="tracking_number", label=_("运单号"), max_length=100)
    note = _text(data.get("note"), field_name="note", label=_("备注"), max_length=500)
    shipped_at = _shipped_at(data.get("shipped_at"))
    with transaction.atomic():
        order = _locked(actor, order_id)
        if external_id:
            existing = Shipment.objects.filter(external_id=external_id).first()
            if existing is not None:
                if existing.order_id == order.pk:
                    return existing
                raise ValidationError({"external_id": _("外部编号“%(id)s”已用于其他订单的发货。") % {"id": external_id}})
        if order.status not in (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED):
            raise _refused(order, OrderStatus.SHIPPED, _(
                "订单 %(number)s 当前状态为“%(current)s”，不能发货（变为“%(wanted)s”）：只有已审批或部分发货的订单可以发货。") % {
                "number": order.number, "current": _label(order.status), "wanted": _label(OrderStatus.SHIPPED)})
        lines = list(OrderLine.objects.filter(order=order).select_related("product").order_by("position"))
        _effective_warehouses(order, lines)
        by_id = {line.pk: line for line in lines}
        warehouse = _warehouse(actor, data.get("warehouse_id")) if data.get("warehouse_id") not in (None, "") else None
        requested = data.get("lines") or []
        if not isinstance(requested, Sequence) or isinstance(requested, (str, bytes)):
            raise ValidationError({"lines": _("发货行应为列表：[{order_line_id, quantity}]。")})
        errors: list[str] = []
        wanted: list[tuple[OrderLine, Decimal]] = []
        if not requested:
            if warehouse is None:
                warehouse_ids = {line.warehouse_id for line in lines if line.remaining_quantity > 0}
                if len(warehouse_ids) > 1:
                    raise ValidationError({"warehouse_id": _("这张订单的产品分别从几个仓库发货，请选择本次发货的仓库。")})
                warehouse = _warehouse(actor, next(iter(warehouse_ids), None)) if warehouse_ids - {None} else None
            wanted = [(line, line.remaining_quantity) for line in lines if line.remaining_quantity > 0
                      and (warehouse is None or line.warehouse_id in (None, warehouse.pk))]
            if not wanted:
                raise ValidationError({"lines": _("没有待发货的产品。")})
        else:
            seen = set()
            for n, raw in enumerate(requested, start=1):
                prefix = _("发货第 %(n)s 行：") % {"n": n}
                if not isinstance(raw, dict):
                    errors.append(prefix + _("格式应为包含 order_line_id 和 quantity 的对象。"))
                    continue
                try:
                    line_id = _pk(raw.get("order_line_id"), "order_line_id", _("订单行"))
                except ValidationError:
                    errors.append(prefix + _("请指定订单行。"))
                    continue
                line = by_id.get(line_id)
                if line is None:
                    errors.append(prefix + _("订单行 %(id)s 不属于这张订单。") % {"id": line_id})
                    continue
                if line_id in seen:
                    errors.append(prefix + _("订单行 %(id)s 重复。") % {"id": line_id})
                    continue
                seen.add(line_id)
                try:
                    quantity = _number(raw.get("quantity"), label=_("数量"), places=3, maximum=MAX_QTY, positive=True)
                except ValueError as exc:
                    errors.append(prefix + str(exc))
                    continue
                if quantity > line.remaining_quantity:
                    errors.append(prefix + _("产品“%(name)s”订购 %(ordered)s，已发 %(shipped)s，本次最多还能发 %(left)s，不能发 %(qty)s。") % {
                        "name": line.product_name, "ordered": _qty(line.quantity), "shipped": _qty(line.shipped_quantity),
                        "left": _qty(line.remaining_quantity), "qty": _qty(quantity)})
                    continue
                wanted.append((line, quantity))
            if errors:
                raise ValidationError({"lines": errors})
            if warehouse is None:
                ids = {line.warehouse_id for line, _q in wanted}
                if len(ids) > 1:
                    raise ValidationError({"warehouse_id": _("一张发货单只能从一个仓库发货，请分开发货。")})
                warehouse = _warehouse(actor, next(iter(ids))) if None not in ids else None
        if warehouse is None:
            raise ValidationError({"warehouse_id": _("请选择发货仓库（这张订单没有指定仓库，也没有默认仓库）。")})
        for line, _q in wanted:
            if line.warehouse_id not in (None, warehouse.pk):
                errors.append(_("产品“%(name)s”从仓库“%(line)s”发货，不能记在仓库“%(warehouse)s”的发货单上。") % {
                    "name": line.product_name, "line": line.warehouse.name if line.warehouse else "-",
                    "warehouse": warehouse.name})
        if errors:
            raise ValidationError({"lines": errors})
        count = Shipment.objects.filter(order=order).count()
        number = f"{order.number}-{count + 1:02d}"
        external_id = external_id or f"{number}"
        try:
            stock_ship(actor=actor, reference_type=REFERENCE, reference_id=order.pk, external_id=external_id,
                       lines=[(line.product_id, warehouse.pk, quantity) for line, quantity in wanted], note=number)
        except ValidationError as exc:
            if "external_id" in getattr(exc, "error_dict", {}):
                raise
            raise StockShort([str(m) for m in exc.messages]) from None
        shipment = Shipment.objects.create(order=order, number=number, external_id=external_id, warehouse=warehouse,
                                           carrier=carrier, tracking_number=tracking, shipped_at=shipped_at,
                                           note=note, created_by=actor)
        ShipmentLine.objects.bulk_create([ShipmentLine(shipment=shipment, order_line=line, quantity=quantity)
                                          for line, quantity in wanted])
        value = sum((shipped_value(gross_amount=line.gross_amount, quantity=line.quantity,  # the dashboard's
                                   shipped_before=line.shipped_quantity, shipped_now=quantity)
                     for line, quantity in wanted), Decimal("0.00"))
        for line, quantity in wanted:
            line.shipped_quantity += quantity
        OrderLine.objects.bulk_update([line for line, _q in wanted], ["shipped_quantity"])
        complete = all(line.shipped_quantity >= line.quantity for line in lines)
        summary = {"shipment": shipment.pk, "number": number, "warehouse": warehouse.name, "carrier": carrier,
                   "tracking_number": tracking, "lines": [
                       {"sku": line.sku, "name": line.product_name, "quantity": _qty(quantity)}
                       for line, quantity in wanted]}
        _move(order, OrderStatus.SHIPPED if complete else OrderStatus.PARTIALLY_SHIPPED, actor=actor,
              kind=EventKind.SHIPPED, note=" ".join(x for x in (carrier, tracking) if x), data=summary,
              stamps=("shipped_at",) if complete else ())
        if complete:
            _release(order, actor=actor, note=_("订单 %(number)s 发货完成") % {"number": order.number},
                     state=StockState.CONSUMED)
        sales_fact_record(kind=FactKind.SHIPMENT, day=shipped_at, owner_id=order.owner_id,  # the dashboard; last
                          department_id=order.department_id, region_id=order.region_id, currency=order.currency,
                          amount=value)
        _notify(order, "shipped", number)
        _webhook(order, WebhookEventType.ORDER_SHIPPED, shipment=summary)
    return shipment


def _qty(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


# -- invoiced, paid, closed (crm.finance drives these from its invoices and payments) ---------------------
# Finance issues invoices for a shipped order (several are allowed) and records payments against
# them; it moves the order through the services below, in its own transaction, after locking the
# order with ``order_lock`` (always the order before its invoices: no deadlocks). Each writes the
# timeline entry of the invoice or payment that caused it, so the timeline shows every invoice
# and payment once. ``actor=None`` is the system (the ERP reporting a payment).
FINANCE_EVENT_KINDS = frozenset({EventKind.INVOICED, EventKind.PAID, EventKind.INVOICE_VOIDED,
                                 EventKind.PAYMENT_VOIDED})


def _finance_actor(actor, message: str) -> None:
    if actor is None:
        return
    _require_active(actor)
    _require(can_mark_paid(actor), message)


def order_lock(*, actor, order_id: int) -> Order:
    """The order row, locked (SELECT ... FOR UPDATE) until the caller's transaction ends, if the
    actor may see it (``actor=None``: the system); NotInScope otherwise. crm.finance takes it
    before writing an invoice or a payment of the order, so that concurrent invoices cannot
    together exceed the order's total."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_lock is only meaningful inside a transaction")
    return _locked(actor, order_id)


def order_finance_note(*, actor, order_id: int, kind: str, note: str = "", data: dict | None = None) -> Order:
    """An invoice, a payment or a void that changes no status (a partial invoice, a payment that
    leaves something unpaid), on the order's timeline."""
    if kind not in FINANCE_EVENT_KINDS:
        raise ValueError(f"not a finance event: {kind!r}")
    _finance_actor(actor, _("只有财务人员可以登记开票和回款。"))
    with transaction.atomic():
        order = _locked(actor, order_id)
        _event(order, kind, actor=actor, note=(note or "")[:500], data=data)
    return order


def order_invoiced_mark(*, actor, order_id: int, note: str = "", data: dict | None = None) -> Order:
    """shipped -> invoiced: the order's invoices now cover its total (crm.finance, when it issues
    the last one; ``data`` describes that invoice on the timeline). Finance or the system;
    already invoiced or further: nothing changes."""
    _finance_actor(actor, _("只有财务人员可以登记开票。"))
    note = _text(note, field_name="note", label=_("备注"), max_length=500)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status in (OrderStatus.INVOICED, OrderStatus.PAID, OrderStatus.CLOSED):
            return order
        return _move(order, OrderStatus.INVOICED, actor=actor, kind=EventKind.INVOICED, note=note,
                     stamps=("invoiced_at",), data=data)


def order_invoiced_revert(*, actor, order_id: int, note: str = "", data: dict | None = None) -> Order:
    """invoiced -> shipped: an invoice was voided (红冲) and the others no longer cover the
    total, so the order waits for a new invoice. Finance or the system; already shipped:
    nothing changes. A paid order cannot go back (its payments must be voided first)."""
    _finance_actor(actor, _("只有财务人员可以红冲发票。"))
    note = _text(note, field_name="note", label=_("备注"), max_length=500)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status == OrderStatus.SHIPPED:
            return order
        order.invoiced_at = None
        return _move(order, OrderStatus.SHIPPED, actor=actor, kind=EventKind.INVOICE_VOIDED, note=note,
                     fields=("invoiced_at",), data=data)


def order_paid_mark(*, actor, order_id: int, note: str = "", data: dict | None = None) -> Order:
    """invoiced -> paid: every invoice of the fully invoiced order is paid (crm.finance, when it
    records the payment that completes them; ``data`` describes that payment on the timeline).
    Finance or the system; already paid or closed: nothing changes."""
    _finance_actor(actor, _("只有财务人员可以登记回款。"))
    note = _text(note, field_name="note", label=_("备注"), max_length=500)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status in (OrderStatus.PAID, OrderStatus.CLOSED):
            return order
        return _move(order, OrderStatus.PAID, actor=actor, kind=EventKind.PAID, note=note, stamps=("paid_at",),
                     data=data)


def order_paid_revert(*, actor, order_id: int, note: str = "", data: dict | None = None) -> Order:
    """paid -> invoiced: a payment was voided (冲销), so something is owed again. Finance or the
    system; already invoiced: nothing changes. A closed order cannot go back."""
    _finance_actor(actor, _("只有财务人员可以冲销回款。"))
    note = _text(note, field_name="note", label=_("备注"), max_length=500)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status == OrderStatus.INVOICED:
            return order
        if order.status != OrderStatus.PAID:
            raise _refused(order, OrderStatus.INVOICED)
        order.paid_at = None
        return _move(order, OrderStatus.INVOICED, actor=actor, kind=EventKind.PAYMENT_VOIDED, note=note,
                     fields=("paid_at",), data=data)


def order_close(*, actor, order_id: int, note: str = "") -> Order:
    """paid -> closed (finance or the business office); anything still reserved is released."""
    _require_active(actor)
    _require(can_close_order(actor), _("只有财务或商务人员可以关闭订单。"))
    note = _text(note, field_name="note", label=_("备注"), max_length=500)
    with transaction.atomic():
        order = _locked(actor, order_id)
        if order.status == OrderStatus.CLOSED:
            return order
        _move(order, OrderStatus.CLOSED, actor=actor, kind=EventKind.CLOSED, note=note, stamps=("closed_at",))
        _release(order, actor=actor, note=_("订单 %(number)s 关闭") % {"number": order.number},
                 state=order.stock_state)
    return order


# -- attachments ------------------------------------------------------------------------------------------
_MAGIC = {
    "pdf": (b"%PDF",),
    "png": (b"\x89PNG",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "xlsx": (b"PK\x03\x04",),
    "docx": (b"PK\x03\x04",),
    "xls": (b"\xd0\xcf\x11\xe0",),
    "doc": (b"\xd0\xcf\x11\xe0",),
}


def attachment_add(*, actor, order_id: int, upload) -> OrderAttachment:
    """Attach a file (a contract, a purchase order, a delivery receipt) to an order: at most
    ATTACHMENT_MAX_BYTES, one of ATTACHMENT_TYPES, whose content matches its extension."""
    _require_active(actor)
    if upload is None:
        raise ValidationError({"file": _("请选择要上传的文件。")})
    name = os.path.basename(str(getattr(upload, "name", "") or "")).strip()[:200]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in ATTACHMENT_TYPES:
        raise ValidationError({"file": _("不支持的文件类型“%(ext)s”，只能上传：%(types)s。") % {
            "ext": extension or "-", "types": ", ".join(sorted(ATTACHMENT_TYPES))}}, code="unsupported_type")
    size = int(getattr(upload, "size", 0) or 0)
    if size > ATTACHMENT_MAX_BYTES:
        raise AttachmentTooLarge({"file": _("文件不能超过 %(limit)s MB（这个文件约 %(size)s MB）。") % {
            "limit": ATTACHMENT_MAX_BYTES // (1024 * 1024), "size": f"{size / (1024 * 1024):.1f}"}}, code="too_large")
    if size == 0:
        raise ValidationError({"file": _("文件是空的。")})
    head = upload.read(8)
    upload.seek(0)
    if extension in _MAGIC and not any(head.startswith(m) for m in _MAGIC[extension]):
        raise ValidationError({"file": _("文件内容与扩展名“%(ext)s”不符。") % {"ext": extension}}, code="unsupported_type")
    with transaction.atomic():
        order = _locked(actor, order_id)
        _require(can_attach_to_order(actor, order), _("你没有为这张订单上传附件的权限。"))
        if OrderAttachment.objects.filter(order=order).count() >= ATTACHMENTS_PER_ORDER:
            raise ValidationError({"file": _("每张订单最多 %(n)s 个附件。") % {"n": ATTACHMENTS_PER_ORDER}})
        attachment = OrderAttachment(order=order, name=name, content_type=ATTACHMENT_TYPES[extension], size=size,
                                     uploaded_by=actor)
        attachment.file.save(name, upload, save=False)
        attachment.save()
        _event(order, EventKind.ATTACHMENT, actor=actor, note=name, data={"attachment": attachment.pk, "size": size})
        audit_record(actor=actor, instance=order, action="attach", note=name[:500],
                     changes={"attachment": {"old": None, "new": name}})
    return attachment


def attachment_remove(*, actor, order_id: int, attachment_id: int) -> None:
    _require_active(actor)
    with transaction.atomic():
        order = _locked(actor, order_id)
        attachment = OrderAttachment.objects.filter(order=order, pk=attachment_id).first()
        if attachment is None:
            raise NotInScope("attachment_id", _("附件不存在。"))
        _require(can_manage_order(actor, order) or attachment.uploaded_by_id == actor.pk,
                 _("只有上传人或订单负责人可以删除附件。"))
        name = attachment.name
        stored = attachment.file.name
        storage = attachment.file.storage
        attachment.delete()
        audit_record(actor=actor, instance=order, action="detach", note=name[:500],
                     changes={"attachment": {"old": name, "new": None}})
        transaction.on_commit(lambda: storage.delete(stored), robust=True)


# -- credit limits ------------------------------------------------------------------------------------------
def customer_credit_set(*, actor, customer_id: int, limit, currency: str = DEFAULT_CURRENCY, note: str = "",
                        version: int | None = None) -> CustomerCredit | None:
    """Set (or, with ``limit`` None, remove) a customer's credit limit (finance). ``version``
    is the one edited (0: there was none); a stale one raises StaleVersion."""
    _require_active(actor)
    _require(can_manage_credit(actor), _("只有财务人员可以设置信用额度。"))
    customer = _customer(actor, customer_id)
    amount = None if limit in (None, "") else _field_number(limit, field_name="limit", label=_("信用额度"),
                                                            places=2, maximum=MAX_MONEY)
    currency = _currency(currency)
    note = _text(note, field_name="note", label=_("备注"), max_length=500)
    with transaction.atomic():
        row = CustomerCredit.objects.select_for_update().filter(customer=customer).first()
        if version is not None and int(version) != (row.version if row else 0):
            raise StaleVersion(current=row.version if row else 0)
        before = {"limit": str(row.limit) if row else None, "currency": row.currency if row else None}
        if amount is None:
            if row is not None:
                row.delete()
                audit_record(actor=actor, instance=customer, action="credit_limit",
                             changes=audit_diff(before, {"limit": None, "currency": None}))
            return None
        if row is None:
            row = CustomerCredit(customer=customer, limit=amount, currency=currency, note=note, updated_by=actor)
            row.save()
        else:
            row.limit, row.currency, row.note, row.updated_by = amount, currency, note, actor
            row.version += 1
            row.save()
        changes = audit_diff(before, {"limit": str(row.limit), "currency": row.currency})
        if changes:
            audit_record(actor=actor, instance=customer, action="credit_limit", changes=changes, note=note[:500])
    return row


# -- notifications (in a task, after commit) ------------------------------------------------------------------
def order_notify(*, order_id: int, what: str, detail: str = "") -> int:
    """Tell the order's owner that it shipped or that its stock is short (once per event)."""
    from django.urls import NoReverseMatch, reverse
    from django.utils import translation

    from crm.activities.services import notification_create

    order = Order.objects.select_related("owner").filter(pk=order_id).first()
    if order is None or not order.owner.is_active:
        return 0
    try:
        url = reverse("orders:detail", args=[order.pk])
    except NoReverseMatch:  # pragma: no cover
        url = ""
    language = order.owner.language or "zh-hans"
    with translation.override(language):
        if what == "shipped":
            title = _("订单 %(number)s 已发货（%(shipment)s）") % {"number": order.number, "shipment": detail}
            body = ""
        elif what == "stock_short":
            title = _("订单 %(number)s 已审批，但库存不足，尚未预留") % {"number": order.number}
            body = detail
        else:
            return 0
    note = notification_create(recipient=order.owner, kind=f"order_{what}", title=title, body=body, url=url,
                               dedup_key=f"order-{what}:{order.pk}:{detail[:60]}")
    return 1 if note else 0


# -- demo data ------------------------------------------------------------------------------------------------
DEMO_ORDERS = (
    # (salesperson index, customer index, [(sku, quantity, discount)], what happens, note)
    (0, 0, [("HZ-G970II", "1", "0"), ("ACC-BAT-3400", "4", "0"), ("ACC-POLE-25", "1", "0")], "draft", ""),
    (1, 0, [("UG-G138BD", "10", "5"), ("ACC-CHG-2", "5", "0")], "in_approval", ""),
    (0, 1, [("SN-NTS362R", "1", "0"), ("ACC-PRISM-1", "2", "0"), ("ACC-TRIPOD-AL", "1", "0")], "approved", ""),
    (1, 1, [("HZ-G990", "3", "3")], "finance", ""),
    (0, 2, [("UG-MG10", "4", "0"), ("ACC-BAT-3400", "8", "0")], "partially_shipped", ""),
    (1, 2, [("TP-ATB4A", "2", "0"), ("ACC-TRIPOD-AL", "2", "0")], "shipped", ""),
    (0, 0, [("HD-V200", "2", "12")], "rejected", "折扣超出 10% 的权限，请与客户重新确认价格后再提交。"),
    (1, 0, [("LC-D810", "1", "0")], "cancelled", "客户改为下季度采购"),
)


def orders_load_demo(*, actor=None) -> int:
    """The standard mode's demo orders: a draft, orders waiting for the business secretary and
    for finance, an approved one with its stock reserved, partially and fully shipped ones, a
    rejected one back in draft and a cancelled one, for the demo salespeople's customers
    with the demo catalog. Idempotent: a tenant that has orders gets nothing. Returns the
    number of orders created."""
    from django.contrib.auth import get_user_model

    from crm.approvals.selectors import approval_request_pending_for as pending_for
    from crm.approvals.services import approval_approve, approval_reject
    from crm.customers.selectors import customer_list_visible_to

    if Order.objects.exists():
        return 0
    User = get_user_model()

    def staff(role):
        return list(User.objects.filter(roles__code=role, is_active=True).order_by("pk"))

    sellers, secretaries, finance, keepers = (staff("salesperson"), staff("business_secretary"), staff("finance"),
                                              staff("warehouse"))
    if not (sellers and secretaries and finance and keepers):
        return 0
    products = {p.sku: p for p in product_list_visible_to(actor=secretaries[0]).filter(is_active=True)}
    customers = [list(customer_list_visible_to(actor=seller).filter(owner=seller).order_by("pk")) for seller in sellers]
    if not products or not all(customers):
        return 0
    made = 0
    with transaction.atomic():
        for seller_index, customer_index, lines, outcome, note in DEMO_ORDERS:
            seller = sellers[seller_index % len(sellers)]
            mine = customers[seller_index % len(sellers)]
            customer = mine[customer_index % len(mine)]
            wanted = [{"product_id": products[sku].pk, "quantity": qty, "discount_pct": discount}
                      for sku, qty, discount in lines if sku in products]
            if not wanted:
                continue
            order = order_create(actor=seller, data={
                "customer_id": customer.pk, "lines": wanted, "delivery_address": customer.address,
                "delivery_date": timezone.localdate() + datetime.timedelta(days=7 + made),
                "notes": "演示订单"})
            made += 1
            if outcome == "draft":
                continue
            if outcome == "cancelled":
                order_cancel(actor=seller, order_id=order.pk, reason=note)
                continue
            order = order_submit(actor=seller, order_id=order.pk)
            if outcome == "in_approval":
                continue
            request = pending_for(doc_type=doc_type_of(order), object_id=order.pk)
            if outcome == "rejected":
                approval_reject(actor=secretaries[0], request_id=request.pk, comment=note)
                continue
            approval_approve(actor=secretaries[0], request_id=request.pk, comment="价格与账期符合公司政策")
            request = pending_for(doc_type=doc_type_of(order), object_id=order.pk)
            if outcome == "finance":
                continue
            if request is not None:  # at or above the finance threshold
                approval_approve(actor=finance[0], request_id=request.pk, comment="复核通过")
            if outcome in ("partially_shipped", "shipped"):
                first = OrderLine.objects.filter(order_id=order.pk).order_by("position").first()
                data = {"carrier": "顺丰速运", "tracking_number": f"SF{1000000000 + order.pk}"}
                if outcome == "partially_shipped":
                    data["lines"] = [{"order_line_id": first.pk, "quantity": "2"}]
                try:
                    shipment_create(actor=keepers[0], order_id=order.pk, data=data)
                except ValidationError:  # the demo stock ran short: leave it approved
                    pass
    return made


# -- merges of customers (crm.customers.links) --------------------------------------------------
def unscoped_order_ids_of_customer(customer_id: int) -> list[int]:
    return list(Order.objects.filter(customer_id=customer_id).values_list("pk", flat=True))


def orders_move_to_customer(*, ids: Sequence[int], customer_id: int, actor=None) -> int:
    """A merge moves the duplicate's orders to the survivor (its undo moves them back). The
    owner, department and region stay: they are the order's, not the customer's."""
    from crm.customers.links import move_records

    return move_records(Order, ids=ids, customer_id=customer_id, actor=actor)


# -- the ERP reports deliveries (crm.integrations inbound "shipment") -----------------------------
def erp_shipment_apply(payload: dict, *, context) -> dict:
    """A delivery the ERP made: ``{"external_id", "order_number", "lines": [{"sku", "quantity"}],
    "carrier", "tracking_number", "shipped_at"}``. Each line takes the first order line of
    that SKU with quantity left; the shipment is made by the system, noted with the ERP's
    name, and idempotent by the message's external id (the inbound log also returns the first
    result to a retry). A bad message raises ValidationError naming the field (422)."""
    number = str(payload.get("order_number") or "").strip()
    order = Order.objects.filter(number=number).first() if number else None
    if order is None:
        raise ValidationError({"order_number": _("订单“%(number)s”不存在。") % {"number": number or "-"}})
    items = payload.get("lines")
    if not isinstance(items, list) or not items:
        raise ValidationError({"lines": _("发货行应为非空列表：[{sku, quantity}]。")})
    left: dict[str, list] = {}
    for row in order.lines.order_by("position"):
        left.setdefault(row.sku.upper(), []).append([row, row.quantity - row.shipped_quantity])
    lines = []
    for index, item in enumerate(items, 1):
        sku = str((item or {}).get("sku") or "").strip().upper() if isinstance(item, dict) else ""
        quantity = _field_number(item.get("quantity") if isinstance(item, dict) else None,
                                 field_name="lines", label=_("第 %(n)s 行数量") % {"n": index}, places=3,
                                 maximum=Decimal("999999999"), positive=True)
        candidates = [c for c in left.get(sku, []) if c[1] >= quantity]
        if not candidates:
            raise ValidationError({"lines": _("第 %(n)s 行：订单 %(number)s 没有 SKU “%(sku)s” 的 %(quantity)s 件待发货。") % {
                "n": index, "number": order.number, "sku": sku or "-", "quantity": quantity}})
        candidates[0][1] -= quantity
        lines.append({"order_line_id": candidates[0][0].pk, "quantity": str(quantity)})
    shipment = shipment_create(actor=None, order_id=order.pk, data={
        "lines": lines, "carrier": payload.get("carrier"), "tracking_number": payload.get("tracking_number"),
        "shipped_at": payload.get("shipped_at"), "external_id": f"erp:{context.external_id}",
        "note": _("ERP 回传：%(who)s") % {"who": context.describe()}})
    order.refresh_from_db()
    return {"order": order.number, "status": order.status, "shipment": shipment.number}


# -- from a quote (crm.sales) ----------------------------------------------------------------------
def order_create_from_quote(*, actor, quote_id) -> Order:
    """A draft order from an accepted quote the actor may see: the quote's customer, currency
    and lines (product, quantity, unit price, discount). The quote becomes "converted" with
    the order's number in the same transaction. Converting it again returns that order; a
    quote that is not accepted is refused (409 naming its state)."""
    from crm.sales.selectors import quote_get_for_actor
    from crm.sales.services import quote_mark_converted

    _require_active(actor)
    with transaction.atomic():
        try:
            quote = quote_get_for_actor(actor=actor, quote_id=_pk(quote_id, "quote_id", _("报价单")), for_update=True)
        except ObjectDoesNotExist:
            raise NotInScope("quote_id", _("报价单不存在或不在你的可见范围内。")) from None
        if quote.order_ref:
            existing = Order.objects.visible_to(actor).filter(number=quote.order_ref).first()
            if existing is not None:
                return existing
        lines = [{"product_id": row.product_id, "quantity": str(row.quantity), "unit_price": str(row.unit_price),
                  "discount_pct": str(row.discount_percent)} for row in quote.lines.order_by("position")]
        order = order_create(actor=actor, data={
            "customer_id": quote.customer_id, "currency": quote.currency, "lines": lines,
            "notes": _("由报价单 %(number)s 转入") % {"number": quote.number}})
        quote_mark_converted(actor=actor, quote_id=quote.pk, order_ref=order.number)  # refuses unless accepted
    return order
