"""Write-side operations of finance. Keyword-only, transactional, audited.

Invoices (发票) are issued by finance for a shipped order, several per order when the amount is
over a VAT invoice's limit; together they never exceed the order's total. When they cover it,
the order moves shipped -> invoiced (crm.orders.services.order_invoiced_mark). An invoice is due
on its issue date plus the order's payment terms. Voiding one (红冲) needs it to have no live
payment and moves a fully invoiced order back to shipped.

Payments (回款) are recorded against one invoice (partial and several per invoice allowed; never
more than it still owes). When every invoice of a fully invoiced order is paid, the order
moves invoiced -> paid; voiding a payment (冲销) moves it back.

Every operation looks the records up inside the actor's scope (a NotInScope is a 404 in the
API), locks the order first and then its invoice (the same order everywhere: no deadlocks),
returns early when the work is already done, writes an audit row per record and one entry on
the order's timeline (through crm.orders.services), and sends the webhook (invoice.issued,
payment.received), the owner's notification and the sales dashboard's collection fact with
the transaction. Amounts over what is left raise AmountTooLarge (422 naming the field); a
state that does not allow the operation raises FinanceConflict (409); bad input raises
ValidationError naming the field (400); a stale version raises StaleVersion (412).

``actor=None`` is the system: the ERP reporting a payment (erp_payment_apply)."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.inputs import clean_currency, clean_decimal, clean_text
from crm.integrations.enums import WebhookEventType
from crm.integrations.services import webhook_emit, webhook_is_subscribed
from crm.orders.enums import EventKind, OrderStatus
from crm.orders.services import NotInScope as OrderNotInScope
from crm.orders.services import (
    order_finance_note,
    order_invoiced_mark,
    order_invoiced_revert,
    order_lock,
    order_paid_mark,
    order_paid_revert,
)
from crm.org.services import StaleVersion

from .enums import (
    LIVE_STATUSES,
    MAX_BACKDATE_DAYS,
    MAX_REMINDER_INTERVAL_DAYS,
    UNPAID_STATUSES,
    InvoiceKind,
    InvoiceStatus,
    PaymentMethod,
    PaymentSource,
)
from .models import FinanceSettings, Invoice, Payment
from .permissions import (
    can_issue_invoice,
    can_manage_finance_settings,
    can_record_payment,
    can_void_invoice,
    can_void_payment,
)
from .selectors import finance_settings_get, unscoped_invoices_to_remind

__all__ = ["StaleVersion"]  # re-exported: one exception for every stale edit (412 in the API)

MAX_MONEY = Decimal("999999999999.99")  # Decimal(14, 2)
CENT = Decimal("0.01")
INVOICE_FIELDS = ("number", "order", "customer", "owner", "kind", "tax_number", "currency", "net_amount",
                  "tax_amount", "total", "paid_amount", "status", "issued_on", "due_on", "note")
PAYMENT_FIELDS = ("number", "invoice", "order", "customer", "amount", "currency", "received_on", "method",
                  "reference", "source", "external_id", "note")
SETTINGS_FIELDS = ("reminder_interval_days", "invoice_limit")
_TAX_NUMBER = re.compile(r"^[0-9A-Za-z-]{1,30}$")


# -- errors ----------------------------------------------------------------------------------------------
class NotInScope(OrderNotInScope):
    """An invoice, payment or order named in the input does not exist or is outside the
    actor's scope (a 404, the same for both). ``field`` names the input that named it."""


class FinanceConflict(ValidationError):
    """The record's state does not allow the operation (a 409): an order not shipped, an
    invoice with live payments, a void invoice, a closed order."""

    def __init__(self, message: str, *, code: str, current: str = ""):
        super().__init__(message, code=code)
        self.current = current


class AmountTooLarge(ValidationError):
    """An amount over what is left to invoice or still owed (a 422 naming the field)."""

    def __init__(self, field: str, message: str, *, code: str):
        super().__init__({field: message}, code=code)
        self.field = field
        self.message = message
        self.code = code


# -- checks ------------------------------------------------------------------------------------------------
def _require_active(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_("只有在职员工可以操作。"))


def _require(allowed: bool, message: str) -> None:
    if not allowed:
        raise PermissionDenied(message)


def _money(value, *, field: str, label: str, positive: bool = True) -> Decimal:
    """An amount with at most 2 decimals, > 0 (``positive``) or >= 0, at most MAX_MONEY."""
    return clean_decimal(value, field=field, label=label, places=2, maximum=MAX_MONEY, positive=positive)


def _day(value, *, field: str, label: str) -> datetime.date:
    """A date (default today), not in the future and not more than MAX_BACKDATE_DAYS ago."""
    today = timezone.localdate()
    if value in (None, ""):
        return today
    if isinstance(value, datetime.datetime):
        day = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    elif isinstance(value, datetime.date):
        day = value
    else:
        try:
            day = parse_date(str(value).strip())
        except ValueError:
            day = None
        if day is None:
            raise ValidationError({field: _("%(label)s应为日期，格式 YYYY-MM-DD。") % {"label": label}})
    if day > today:
        raise ValidationError({field: _("%(label)s不能是将来的日期。") % {"label": label}})
    if day < today - datetime.timedelta(days=MAX_BACKDATE_DAYS):
        raise ValidationError({field: _("%(label)s不能早于 %(day)s。") % {
            "label": label, "day": (today - datetime.timedelta(days=MAX_BACKDATE_DAYS)).isoformat()}})
    return day


def _choice(value, choices, *, field: str, label: str, default: str) -> str:
    text = str(value or "").strip() or default
    if text not in choices.values:
        raise ValidationError({field: _("%(label)s“%(value)s”无效，可选：%(choices)s。") % {
            "label": label, "value": text[:30], "choices": ", ".join(choices.values)}})
    return text


def _text(value, *, field: str, label: str, max_length: int, required: bool = False) -> str:
    return clean_text(value, field=field, label=label, max_length=max_length, required=required)


def _tax_number(value) -> str:
    text = _text(value, field="tax_number", label=_("发票号码"), max_length=30)
    if text and not _TAX_NUMBER.match(text):
        raise ValidationError({"tax_number": _("发票号码只能包含数字、字母和连字符，最长 30 位。")})
    return text.upper()


def _pk(value, field: str, message: str) -> int:
    if isinstance(value, bool):
        raise NotInScope(field, message)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise NotInScope(field, message) from None
    if number <= 0:
        raise NotInScope(field, message)
    return number


def _amount_text(value: Decimal, currency: str = "") -> str:
    return f"{value:,.2f}" + (f" {currency}" if currency else "")


# -- lookups inside the actor's scope -----------------------------------------------------------------------
def _order_locked(actor, order_id):
    try:
        return order_lock(actor=actor, order_id=order_id)
    except OrderNotInScope:
        raise NotInScope("order_id", _("订单不存在或不在你的可见范围内。")) from None


def _invoice_seen(actor, invoice_id) -> Invoice:
    message = _("发票不存在或不在你的可见范围内。")
    pk = _pk(invoice_id, "invoice_id", message)
    qs = Invoice.objects.all() if actor is None else Invoice.objects.visible_to(actor)
    invoice = qs.filter(pk=pk).first()
    if invoice is None:
        raise NotInScope("invoice_id", message)
    return invoice


def _payment_seen(actor, payment_id) -> Payment:
    message = _("收款记录不存在或不在你的可见范围内。")
    pk = _pk(payment_id, "payment_id", message)
    qs = Payment.objects.all() if actor is None else Payment.objects.visible_to(actor)
    payment = qs.filter(pk=pk).first()
    if payment is None:
        raise NotInScope("payment_id", message)
    return payment


def _status_label(value: str) -> str:
    return str(dict(OrderStatus.choices).get(value, value))


# -- numbers, side effects -------------------------------------------------------------------------------
def _next_number(kind: str, prefix: str) -> str:
    """INV2026-000123 / PAY2026-000045: a per-tenant, per-year sequence per kind, taken in the
    creating transaction (a rolled back create gives its number back)."""
    from .models import FinanceCounter

    year = timezone.localdate().year
    table = connection.ops.quote_name(FinanceCounter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (kind, year, last) VALUES (%s, %s, 1) "  # noqa: S608 (the table name is ours)
            f"ON CONFLICT (kind, year) DO UPDATE SET last = {table}.last + 1 RETURNING last", [kind, year])
        (number,) = cursor.fetchone()
    return f"{prefix}{year}-{number:06d}"


def _after_commit(task, *args) -> None:
    """Queue ``task`` once the transaction commits, in this tenant's schema; a broker that is
    down is logged, never an error of the operation already committed."""
    schema = connection.schema_name
    transaction.on_commit(lambda: task.apply_async(args=list(args), headers={"_schema_name": schema}),
                          robust=True)


def _notify(what: str, object_id: int) -> None:
    from .tasks import finance_notify_task

    _after_commit(finance_notify_task, what, object_id)


def invoice_webhook_payload(invoice: Invoice) -> dict:
    """The ``data`` of invoice.issued for the ERP (crm.integrations)."""
    return {"id": invoice.pk, "number": invoice.number, "tax_number": invoice.tax_number, "kind": invoice.kind,
            "status": invoice.status, "order": {"id": invoice.order_id, "number": invoice.order.number},
            "customer": {"id": invoice.customer_id, "name": invoice.customer.name},
            "buyer_name": invoice.buyer_name, "buyer_tax_id": invoice.buyer_tax_id, "currency": invoice.currency,
            "net_amount": str(invoice.net_amount), "tax_amount": str(invoice.tax_amount), "total": str(invoice.total),
            "paid_amount": str(invoice.paid_amount), "issued_on": invoice.issued_on, "due_on": invoice.due_on,
            "version": invoice.version}


def payment_webhook_payload(payment: Payment) -> dict:
    """The ``data`` of payment.received for the ERP: the payment, and where its invoice and
    order stand after it."""
    invoice = payment.invoice
    return {"id": payment.pk, "number": payment.number, "amount": str(payment.amount), "currency": payment.currency,
            "received_on": payment.received_on, "method": payment.method, "reference": payment.reference,
            "source": payment.source, "external_id": payment.external_id,
            "invoice": {"id": invoice.pk, "number": invoice.number, "tax_number": invoice.tax_number,
                        "status": invoice.status, "paid_amount": str(invoice.paid_amount),
                        "outstanding": str(invoice.outstanding)},
            "order": {"id": payment.order_id, "number": payment.order.number, "status": payment.order.status},
            "customer": {"id": payment.customer_id, "name": payment.customer.name}}


def _collection_fact(payment: Payment, sign: int) -> None:
    """The sales dashboard's collection figure (crm.analytics), in the same transaction; a
    void subtracts what the payment added."""
    if not apps.is_installed("crm.analytics"):
        return
    from crm.analytics.services import sales_fact_record

    sales_fact_record(kind="collection", day=payment.received_on, owner_id=payment.owner_id,
                      department_id=payment.department_id, region_id=payment.region_id, currency=payment.currency,
                      amount=payment.amount * sign, count=sign)


# -- invoices ----------------------------------------------------------------------------------------------
def invoice_issue(*, actor, order_id, data: dict) -> Invoice:
    """Issue an invoice for a shipped order (finance). ``data``: total (价税合计; empty: all that
    is not invoiced yet), tax_amount (empty: in the proportion of the order's tax to what is
    left; the last invoice takes exactly what is left), kind (vat_special, vat_normal,
    electronic), tax_number (发票号码, optional, unique), issued_on (default today, not in the
    future), note. Several invoices per order are allowed; together they never exceed the
    order's total (AmountTooLarge, 422), nor the tenant's per-invoice limit. When they cover
    it the order becomes invoiced. The same tax number again for the same order returns the
    invoice it made."""
    _require_active(actor)
    _require(can_issue_invoice(actor), _("只有财务人员可以开具发票。"))
    kind = _choice(data.get("kind"), InvoiceKind, field="kind", label=_("发票种类"), default=InvoiceKind.VAT_SPECIAL)
    tax_number = _tax_number(data.get("tax_number"))
    issued_on = _day(data.get("issued_on"), field="issued_on", label=_("开票日期"))
    note = _text(data.get("note"), field="note", label=_("备注"), max_length=500)
    total = None if data.get("total") in (None, "") else _money(data.get("total"), field="total", label=_("价税合计"))
    tax = None
    if data.get("tax_amount") not in (None, ""):
        tax = _money(data.get("tax_amount"), field="tax_amount", label=_("税额"), positive=False)
        if total is None:
            raise ValidationError({"total": _("填写税额时请同时填写价税合计。")})
        if tax > total:
            raise ValidationError({"tax_amount": _("税额不能大于价税合计。")})
    with transaction.atomic():
        order = _order_locked(actor, order_id)
        if tax_number:
            existing = Invoice.objects.filter(tax_number=tax_number).first()
            if existing is not None:
                if (existing.order_id == order.pk and existing.status != InvoiceStatus.VOID
                        and (total is None or existing.total == total)):
                    return existing  # the same invoice again (a retry)
                raise ValidationError({"tax_number": _("发票号码“%(tax)s”已用于发票 %(number)s。") % {
                    "tax": tax_number, "number": existing.number}})
        if order.status != OrderStatus.SHIPPED:
            raise FinanceConflict(_(
                "订单 %(number)s 当前状态为“%(current)s”，不能开票：只有已发货且尚未开完票的订单可以开票。") % {
                "number": order.number, "current": _status_label(order.status)},
                code="order_not_invoiceable", current=order.status)
        sums = Invoice.objects.filter(order=order, status__in=LIVE_STATUSES).aggregate(
            net=Sum("net_amount"), tax=Sum("tax_amount"), total=Sum("total"))
        left_total = order.total - (sums["total"] or 0)
        left_tax = order.tax_total - (sums["tax"] or 0)
        left_net = order.net_total - (sums["net"] or 0)
        if left_total <= 0:
            raise FinanceConflict(_("订单 %(number)s 已全部开票。") % {"number": order.number},
                                  code="order_fully_invoiced", current=order.status)
        if total is None:
            total = left_total
        if total > left_total:
            raise AmountTooLarge("total", _(
                "价税合计 %(amount)s 超过订单 %(number)s 尚未开票的金额 %(left)s。") % {
                "amount": _amount_text(total), "number": order.number, "left": _amount_text(left_total, order.currency)},
                code="exceeds_uninvoiced")
        limit = finance_settings_get().invoice_limit
        if limit is not None and total > limit:
            raise AmountTooLarge("total", _(
                "价税合计 %(amount)s 超过单张发票限额 %(limit)s，请分开开具多张发票。") % {
                "amount": _amount_text(total), "limit": _amount_text(limit)}, code="exceeds_invoice_limit")
        if tax is None:
            tax = left_tax if total == left_total else (total * left_tax / left_total).quantize(
                CENT, rounding=ROUND_HALF_UP)
            if total - tax > left_net:  # a cent of rounding: the net amount never exceeds what is left
                tax = total - left_net
        elif tax > left_tax or total - tax > left_net:
            raise AmountTooLarge("tax_amount", _(
                "税额 %(tax)s 与订单尚未开票的税额 %(left_tax)s、不含税金额 %(left_net)s 不符。") % {
                "tax": _amount_text(tax), "left_tax": _amount_text(left_tax), "left_net": _amount_text(left_net)},
                code="exceeds_uninvoiced")
        customer = order.customer
        invoice = Invoice(
            number=_next_number("invoice", "INV"), order=order, customer_id=order.customer_id,
            owner_id=order.owner_id, department_id=order.department_id, region_id=order.region_id, kind=kind,
            tax_number=tax_number, buyer_name=customer.name[:200], buyer_tax_id=(customer.credit_code or "")[:30],
            currency=order.currency, net_amount=total - tax, tax_amount=tax, total=total, issued_on=issued_on,
            due_on=issued_on + datetime.timedelta(days=order.payment_terms_days), note=note, created_by=actor)
        try:
            with transaction.atomic():
                invoice.save()
        except IntegrityError:  # the same tax number, by someone else at the same moment
            raise ValidationError({"tax_number": _("发票号码“%(tax)s”已被使用。") % {"tax": tax_number}}) from None
        audit_record(actor=actor, instance=invoice, action="issue",
                     changes=audit_diff({}, audit_snapshot(invoice, INVOICE_FIELDS)))
        event = {"invoice": invoice.pk, "number": invoice.number, "tax_number": tax_number, "kind": kind,
                 "total": str(total), "currency": invoice.currency, "issued_on": issued_on.isoformat(),
                 "due_on": invoice.due_on.isoformat()}
        text = _("发票 %(number)s，价税合计 %(total)s，到期日 %(due)s") % {
            "number": invoice.number, "total": _amount_text(total, invoice.currency), "due": invoice.due_on.isoformat()}
        if (sums["total"] or 0) + total == order.total:
            order_invoiced_mark(actor=actor, order_id=order.pk, note=text, data=event)
        else:
            order_finance_note(actor=actor, order_id=order.pk, kind=EventKind.INVOICED, note=text, data=event)
        if webhook_is_subscribed(event_type=WebhookEventType.INVOICE_ISSUED):
            webhook_emit(event_type=WebhookEventType.INVOICE_ISSUED, payload=invoice_webhook_payload(invoice),
                         idempotency_key=f"invoice.issued:{invoice.pk}")
        _notify("invoice_issued", invoice.pk)
    return invoice


def invoice_void(*, actor, invoice_id, reason: str, version: int | None = None) -> Invoice:
    """Void an invoice (红冲, finance), with a reason. Only an invoice without live payments
    (void them first); a fully invoiced order goes back to shipped and waits for a new
    invoice. ``version``: the one the client saw (stale: StaleVersion). Voiding it again
    changes nothing."""
    _require_active(actor)
    _require(can_void_invoice(actor), _("只有财务人员可以红冲发票。"))
    reason = _text(reason, field="reason", label=_("红冲原因"), max_length=500, required=True)
    with transaction.atomic():
        seen = _invoice_seen(actor, invoice_id)
        order = _order_locked(actor, seen.order_id)
        invoice = Invoice.objects.select_for_update().get(pk=seen.pk)
        if invoice.status == InvoiceStatus.VOID:
            return invoice
        if version is not None and int(version) != invoice.version:
            raise StaleVersion(current=invoice.version)
        live = Payment.objects.filter(invoice=invoice, voided_at__isnull=True).count()
        if live:
            raise FinanceConflict(_("发票 %(number)s 已有 %(n)s 笔收款，不能红冲：请先冲销这些收款。") % {
                "number": invoice.number, "n": live}, code="invoice_has_payments", current=invoice.status)
        before = audit_snapshot(invoice, ("status", "void_reason"))
        invoice.status, invoice.void_reason = InvoiceStatus.VOID, reason
        invoice.voided_at, invoice.voided_by = timezone.now(), actor
        invoice.version += 1
        invoice.save(update_fields=["status", "void_reason", "voided_at", "voided_by", "version", "updated_at"])
        audit_record(actor=actor, instance=invoice, action="void", note=reason,
                     changes=audit_diff(before, audit_snapshot(invoice, ("status", "void_reason"))))
        event = {"invoice": invoice.pk, "number": invoice.number, "total": str(invoice.total), "reason": reason}
        text = _("发票 %(number)s 红冲（%(total)s）：%(reason)s") % {
            "number": invoice.number, "total": _amount_text(invoice.total, invoice.currency), "reason": reason}
        if order.status == OrderStatus.INVOICED:
            order_invoiced_revert(actor=actor, order_id=order.pk, note=text[:500], data=event)
        else:
            order_finance_note(actor=actor, order_id=order.pk, kind=EventKind.INVOICE_VOIDED, note=text, data=event)
    return invoice


# -- payments ------------------------------------------------------------------------------------------------
def payment_record(*, actor, invoice_id, data: dict, source: str = PaymentSource.STAFF,
                   external_id: str | None = None) -> Payment:
    """Record money received against an invoice (finance; ``actor=None``: the ERP). ``data``:
    amount (> 0, at most 2 decimals, at most what the invoice still owes: AmountTooLarge,
    422), received_on (default today, not in the future), method (bank_transfer,
    acceptance_bill, cash, wechat, alipay, other), reference (the bank's serial number), note,
    currency (optional: must be the invoice's). Partial payments and several per invoice are
    allowed. When every invoice of a fully invoiced order is paid, the order becomes paid.
    With an ``external_id`` the same id again returns the payment it made."""
    if actor is not None:
        _require_active(actor)
        _require(can_record_payment(actor), _("只有财务人员可以登记收款。"))
    amount = _money(data.get("amount"), field="amount", label=_("收款金额"))
    received_on = _day(data.get("received_on"), field="received_on", label=_("收款日期"))
    method = _choice(data.get("method"), PaymentMethod, field="method", label=_("收款方式"),
                     default=PaymentMethod.BANK_TRANSFER)
    reference = _text(data.get("reference"), field="reference", label=_("银行流水号"), max_length=100)
    note = _text(data.get("note"), field="note", label=_("备注"), max_length=500)
    currency = clean_currency(data.get("currency")) if data.get("currency") not in (None, "") else None
    if source not in PaymentSource.values:
        raise ValueError(f"unknown payment source {source!r}")
    with transaction.atomic():
        seen = _invoice_seen(actor, invoice_id)
        if external_id:
            existing = Payment.objects.filter(external_id=external_id).first()
            if existing is not None:
                if existing.invoice_id == seen.pk and existing.amount == amount:
                    return existing
                raise ValidationError({"external_id": _("外部编号“%(id)s”已登记过另一笔收款 %(number)s。") % {
                    "id": external_id, "number": existing.number}})
        order = _order_locked(actor, seen.order_id)
        invoice = Invoice.objects.select_for_update().get(pk=seen.pk)
        if invoice.status == InvoiceStatus.VOID:
            raise FinanceConflict(_("发票 %(number)s 已红冲，不能登记收款。") % {"number": invoice.number},
                                  code="invoice_void", current=invoice.status)
        if currency is not None and currency != invoice.currency:
            raise ValidationError({"currency": _("发票 %(number)s 的币种是 %(currency)s，收款币种必须相同。") % {
                "number": invoice.number, "currency": invoice.currency}})
        owed = invoice.total - invoice.paid_amount
        if amount > owed:
            message = (_("发票 %(number)s 已全部收款。") % {"number": invoice.number} if owed <= 0 else
                       _("收款金额 %(amount)s 超过发票 %(number)s 的未收金额 %(owed)s。") % {
                           "amount": _amount_text(amount), "number": invoice.number,
                           "owed": _amount_text(owed, invoice.currency)})
            raise AmountTooLarge("amount", message, code="exceeds_outstanding")
        payment = Payment(number=_next_number("payment", "PAY"), invoice=invoice, order_id=invoice.order_id,
                          customer_id=invoice.customer_id, owner_id=invoice.owner_id,
                          department_id=invoice.department_id, region_id=invoice.region_id, amount=amount,
                          currency=invoice.currency, received_on=received_on, method=method, reference=reference,
                          note=note, source=source, external_id=external_id or None, recorded_by=actor)
        try:
            with transaction.atomic():
                payment.save()
        except IntegrityError:  # the same external id, recorded at the same moment
            raise ValidationError({"external_id": _("外部编号“%(id)s”已被使用。") % {"id": external_id}}) from None
        audit_record(actor=actor, instance=payment, action="record",
                     changes=audit_diff({}, audit_snapshot(payment, PAYMENT_FIELDS)))
        before = audit_snapshot(invoice, ("paid_amount", "status"))
        invoice.paid_amount += amount
        invoice.status = InvoiceStatus.PAID if invoice.paid_amount == invoice.total else InvoiceStatus.PARTIALLY_PAID
        invoice.settled_on = (Payment.objects.filter(invoice=invoice, voided_at__isnull=True)
                              .aggregate(day=Max("received_on"))["day"] if invoice.status == InvoiceStatus.PAID
                              else None)
        invoice.version += 1
        invoice.save(update_fields=["paid_amount", "status", "settled_on", "version", "updated_at"])
        audit_record(actor=actor, instance=invoice, action="payment", note=payment.number,
                     changes=audit_diff(before, audit_snapshot(invoice, ("paid_amount", "status"))))
        _collection_fact(payment, 1)
        event = {"payment": payment.pk, "number": payment.number, "invoice": invoice.pk,
                 "invoice_number": invoice.number, "amount": str(amount), "currency": payment.currency,
                 "method": method, "received_on": received_on.isoformat(), "source": source}
        text = _("收款 %(number)s：%(amount)s（发票 %(invoice)s，%(method)s，%(day)s）") % {
            "number": payment.number, "amount": _amount_text(amount, payment.currency), "invoice": invoice.number,
            "method": PaymentMethod(method).label, "day": received_on.isoformat()}
        everything_paid = (order.status == OrderStatus.INVOICED and not Invoice.objects.filter(
            order=order, status__in=UNPAID_STATUSES).exists())
        if everything_paid:
            order_paid_mark(actor=actor, order_id=order.pk, note=text, data=event)
        else:
            order_finance_note(actor=actor, order_id=order.pk, kind=EventKind.PAID, note=text, data=event)
        payment.invoice = invoice
        if webhook_is_subscribed(event_type=WebhookEventType.PAYMENT_RECEIVED):
            payment.order.refresh_from_db()
            webhook_emit(event_type=WebhookEventType.PAYMENT_RECEIVED, payload=payment_webhook_payload(payment),
                         idempotency_key=f"payment.received:{payment.pk}")
        _notify("payment_received", payment.pk)
    return payment


def payment_void(*, actor, payment_id, reason: str, version: int | None = None) -> Payment:
    """Void a payment (冲销, finance) with a reason: its invoice owes the amount again and a
    paid order goes back to invoiced; the sales dashboard's collections lose it. A closed
    order's payments cannot be voided. Voiding it again changes nothing."""
    _require_active(actor)
    _require(can_void_payment(actor), _("只有财务人员可以冲销收款。"))
    reason = _text(reason, field="reason", label=_("冲销原因"), max_length=500, required=True)
    with transaction.atomic():
        seen = _payment_seen(actor, payment_id)
        order = _order_locked(actor, seen.order_id)
        invoice = Invoice.objects.select_for_update().get(pk=seen.invoice_id)
        payment = Payment.objects.select_for_update().get(pk=seen.pk)
        if payment.voided_at is not None:
            return payment
        if version is not None and int(version) != payment.version:
            raise StaleVersion(current=payment.version)
        if order.status == OrderStatus.CLOSED:
            raise FinanceConflict(_("订单 %(number)s 已关闭，不能冲销它的收款。") % {"number": order.number},
                                  code="order_closed", current=order.status)
        payment.voided_at, payment.voided_by, payment.void_reason = timezone.now(), actor, reason
        payment.version += 1
        payment.save(update_fields=["voided_at", "voided_by", "void_reason", "version", "updated_at"])
        audit_record(actor=actor, instance=payment, action="void", note=reason,
                     changes={"voided": {"old": False, "new": True}, "void_reason": {"old": "", "new": reason}})
        before = audit_snapshot(invoice, ("paid_amount", "status"))
        invoice.paid_amount -= payment.amount
        invoice.status = InvoiceStatus.OPEN if invoice.paid_amount == 0 else InvoiceStatus.PARTIALLY_PAID
        invoice.settled_on = None
        invoice.version += 1
        invoice.save(update_fields=["paid_amount", "status", "settled_on", "version", "updated_at"])
        audit_record(actor=actor, instance=invoice, action="payment_void", note=payment.number,
                     changes=audit_diff(before, audit_snapshot(invoice, ("paid_amount", "status"))))
        _collection_fact(payment, -1)
        event = {"payment": payment.pk, "number": payment.number, "invoice": invoice.pk,
                 "amount": str(payment.amount), "reason": reason}
        text = _("收款 %(number)s 冲销（%(amount)s）：%(reason)s") % {
            "number": payment.number, "amount": _amount_text(payment.amount, payment.currency), "reason": reason}
        if order.status == OrderStatus.PAID:
            order_paid_revert(actor=actor, order_id=order.pk, note=text[:500], data=event)
        else:
            order_finance_note(actor=actor, order_id=order.pk, kind=EventKind.PAYMENT_VOIDED, note=text, data=event)
    return payment


# -- settings -------------------------------------------------------------------------------------------------
def finance_settings_update(*, actor, data: dict, version: int | None = None) -> FinanceSettings:
    """Change the reminder interval (reminder_interval_days, 1-90) and/or the per-invoice
    limit (invoice_limit; empty: none). Finance or the tenant admin."""
    _require_active(actor)
    _require(can_manage_finance_settings(actor), _("只有财务人员可以修改财务设置。"))
    clean: dict = {}
    errors: dict = {}
    if "reminder_interval_days" in data:
        raw = data.get("reminder_interval_days")
        try:
            days = int(str(raw).strip())
        except (TypeError, ValueError):
            days = 0
        if isinstance(raw, bool) or not 1 <= days <= MAX_REMINDER_INTERVAL_DAYS:
            errors["reminder_interval_days"] = [_("提醒间隔应为 1 到 %(max)s 之间的整数天数。") % {
                "max": MAX_REMINDER_INTERVAL_DAYS}]
        else:
            clean["reminder_interval_days"] = days
    if "invoice_limit" in data:
        raw = data.get("invoice_limit")
        try:
            clean["invoice_limit"] = None if raw in (None, "") else _money(raw, field="invoice_limit",
                                                                           label=_("单张发票限额"))
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    finance_settings_get()
    with transaction.atomic():
        row = FinanceSettings.objects.select_for_update().get(id=1)
        if version is not None and int(version) != row.version:
            raise StaleVersion(current=row.version)
        before = audit_snapshot(row, SETTINGS_FIELDS)
        for name, value in clean.items():
            setattr(row, name, value)
        changes = audit_diff(before, audit_snapshot(row, SETTINGS_FIELDS))
        if not changes:
            return row
        row.version += 1
        row.save()
        audit_record(actor=actor, instance=row, action="update", changes=changes)
    return row


# -- overdue reminders (a periodic task per tenant) ---------------------------------------------------------------
def _finance_staff() -> list:
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(roles__code="finance", is_active=True).distinct().order_by("pk"))


def _overdue_notify(recipient, invoices: Sequence[Invoice], *, today: datetime.date, own: bool) -> bool:
    from django.urls import NoReverseMatch, reverse
    from django.utils import translation

    from crm.activities.services import notification_create

    try:
        url = reverse("finance:invoices") + "?overdue=1" + (f"&owner={recipient.pk}" if own else "")
    except NoReverseMatch:  # pragma: no cover
        url = ""
    with translation.override(recipient.language or "zh-hans"):
        owed: dict[str, Decimal] = {}
        for invoice in invoices:
            owed[invoice.currency] = owed.get(invoice.currency, Decimal("0")) + invoice.total - invoice.paid_amount
        amounts = "、".join(_amount_text(v, k) for k, v in sorted(owed.items()))
        if own:
            title = _("你负责的 %(n)s 张发票已逾期，未收 %(amounts)s") % {"n": len(invoices), "amounts": amounts}
        else:
            title = _("%(n)s 张发票已逾期，未收 %(amounts)s") % {"n": len(invoices), "amounts": amounts}
        lines = [_("%(number)s %(customer)s：未收 %(owed)s，逾期 %(days)s 天（到期日 %(due)s，负责人 %(owner)s）") % {
            "number": i.number, "customer": i.customer.name, "owed": _amount_text(i.total - i.paid_amount, i.currency),
            "days": (today - i.due_on).days, "due": i.due_on.isoformat(), "owner": i.owner.full_name}
            for i in invoices]
    note = notification_create(recipient=recipient, kind="invoice_overdue", title=title, body="\n".join(lines),
                               url=url, email=True,
                               dedup_key=f"invoice-overdue:{recipient.pk}:{today.isoformat()}:{invoices[0].pk}")
    return note is not None


def overdue_reminders_send(*, today: datetime.date | None = None, batch_size: int = 200) -> dict:
    """The periodic run of one tenant: every unpaid invoice past its due date that was not
    reminded within the tenant's interval (FinanceSettings.reminder_interval_days, default 7)
    is told, in one digest per person and run, in-app and by email, to its owner and to every
    finance staff member; each invoice is marked in the same transaction, so a second run (or
    two at once) tells nobody again."""
    today = today or timezone.localdate()
    interval = finance_settings_get().reminder_interval_days
    finance = _finance_staff()
    reminded = notified = 0
    while True:
        with transaction.atomic():
            batch = list(unscoped_invoices_to_remind(today=today, interval_days=interval)
                         .select_related("customer", "owner")
                         .select_for_update(skip_locked=True, of=("self",))[:batch_size])
            if not batch:
                break
            Invoice.objects.filter(pk__in=[i.pk for i in batch]).update(last_reminded_on=today)
            by_owner: dict[int, list[Invoice]] = {}
            for invoice in batch:
                if invoice.owner.is_active:
                    by_owner.setdefault(invoice.owner_id, []).append(invoice)
            for invoices in by_owner.values():
                notified += _overdue_notify(invoices[0].owner, invoices, today=today, own=True)
            for person in finance:
                if person.pk in by_owner and len(by_owner[person.pk]) == len(batch):
                    continue  # already told: every one of them is theirs
                notified += _overdue_notify(person, batch, today=today, own=False)
            reminded += len(batch)
    from crm.activities.services import notification_emails_send

    emailed = notification_emails_send()
    return {"reminded": reminded, "notified": notified, "emailed": emailed}


# -- notifications (in a task, after commit) -------------------------------------------------------------------------
def finance_notify(*, what: str, object_id: int) -> int:
    """Tell the order's owner that an invoice was issued or a payment received (once each)."""
    from django.urls import NoReverseMatch, reverse
    from django.utils import translation

    from crm.activities.services import notification_create

    if what == "invoice_issued":
        invoice = Invoice.objects.select_related("owner", "order", "customer").filter(pk=object_id).first()
        if invoice is None or not invoice.owner.is_active:
            return 0
        recipient, target = invoice.owner, invoice
    elif what == "payment_received":
        payment = (Payment.objects.select_related("owner", "order", "customer", "invoice")
                   .filter(pk=object_id, voided_at__isnull=True).first())
        if payment is None or not payment.owner.is_active:
            return 0
        recipient, target = payment.owner, payment.invoice
    else:
        return 0
    try:
        url = reverse("finance:invoice-detail", args=[target.pk])
    except NoReverseMatch:  # pragma: no cover
        url = ""
    with translation.override(recipient.language or "zh-hans"):
        if what == "invoice_issued":
            title = _("订单 %(order)s 已开票 %(number)s：%(total)s，到期日 %(due)s") % {
                "order": invoice.order.number, "number": invoice.number,
                "total": _amount_text(invoice.total, invoice.currency), "due": invoice.due_on.isoformat()}
        else:
            title = _("%(customer)s 回款 %(amount)s（订单 %(order)s，发票 %(number)s）") % {
                "customer": payment.customer.name, "amount": _amount_text(payment.amount, payment.currency),
                "order": payment.order.number, "number": payment.invoice.number}
    note = notification_create(recipient=recipient, kind=what, title=title, url=url,
                               dedup_key=f"{what}:{object_id}")
    return 1 if note else 0


# -- the ERP reports payments (crm.integrations inbound "payment") ---------------------------------------------------
def _erp_result(payments: Sequence[Payment]) -> dict:
    first = payments[0]
    order = first.order
    order.refresh_from_db()
    return {"order": order.number, "order_status": order.status, "payments": [
        {"number": p.number, "invoice": p.invoice.number, "amount": str(p.amount), "currency": p.currency}
        for p in payments]}


def erp_payment_apply(payload: dict, *, context) -> dict:
    """Money the ERP received: ``{"external_id", "amount", "currency", "received_on", "method",
    "reference", "note"}`` and one of ``invoice_number`` (ours, INV...), ``tax_number`` (发票号码)
    or ``order_number`` (SO...: applied to the order's unpaid invoices, the oldest first, split
    as needed). Recorded by the system, noted with the ERP's name, idempotent by the message's
    external id (the inbound log returns the first result to a retry; the payment's own
    external id refuses the same id with another amount, 422). A message that does not fit
    raises ValidationError naming the field (422)."""
    external_id = context.external_id
    amount = _money(payload.get("amount"), field="amount", label=_("收款金额"))
    existing = list(Payment.objects.filter(Q(external_id=external_id) | Q(external_id__startswith=f"{external_id}#"))
                    .select_related("invoice", "order").order_by("pk"))
    if existing:
        if sum((p.amount for p in existing), Decimal("0")) == amount:
            return _erp_result(existing)
        raise ValidationError({"external_id": _("外部编号“%(id)s”已登记过另一笔收款（%(numbers)s）。") % {
            "id": external_id, "numbers": ", ".join(p.number for p in existing)}})
    note = _("ERP 回传：%(who)s") % {"who": context.describe()}
    extra = _text(payload.get("note"), field="note", label=_("备注"), max_length=300)
    data = {"received_on": payload.get("received_on"), "method": payload.get("method"),
            "reference": payload.get("reference"), "currency": payload.get("currency"),
            "note": f"{note} {extra}".strip()[:500]}
    invoice_number = str(payload.get("invoice_number") or "").strip().upper()
    tax_number = str(payload.get("tax_number") or "").strip().upper()
    order_number = str(payload.get("order_number") or "").strip().upper()
    if invoice_number or tax_number:
        field, wanted = ("invoice_number", invoice_number) if invoice_number else ("tax_number", tax_number)
        invoice = Invoice.objects.filter(**{"number" if invoice_number else "tax_number": wanted}).first()
        if invoice is None:
            raise ValidationError({field: _("发票“%(number)s”不存在。") % {"number": wanted}})
        payment = payment_record(actor=None, invoice_id=invoice.pk, data={**data, "amount": amount},
                                 source=PaymentSource.ERP, external_id=external_id)
        return _erp_result([payment])
    if not order_number:
        raise ValidationError({"invoice_number": _("请提供 invoice_number（发票编号）、tax_number（发票号码）或 "
                                                   "order_number（订单号）之一。")})
    invoices = list(Invoice.objects.filter(order__number=order_number, status__in=UNPAID_STATUSES)
                    .order_by("issued_on", "id"))
    if not invoices:
        raise ValidationError({"order_number": _("订单“%(number)s”不存在，或没有未收款的发票。") % {
            "number": order_number}})
    owed = sum((i.total - i.paid_amount for i in invoices), Decimal("0"))
    if amount > owed:
        raise AmountTooLarge("amount", _("收款金额 %(amount)s 超过订单 %(number)s 各发票的未收金额合计 %(owed)s。") % {
            "amount": _amount_text(amount), "number": order_number,
            "owed": _amount_text(owed, invoices[0].currency)}, code="exceeds_outstanding")
    payments, left = [], amount
    for invoice in invoices:
        if left <= 0:
            break
        part = min(left, invoice.total - invoice.paid_amount)
        suffix = "" if not payments else f"#{len(payments) + 1}"
        payments.append(payment_record(actor=None, invoice_id=invoice.pk, data={**data, "amount": part},
                                       source=PaymentSource.ERP, external_id=f"{external_id}{suffix}"))
        left -= part
    return _erp_result(payments)


# -- merges of customers (crm.customers.links) ----------------------------------------------------------------------
def unscoped_invoice_ids_of_customer(customer_id: int) -> list[int]:
    return list(Invoice.objects.filter(customer_id=customer_id).values_list("pk", flat=True))


def invoices_move_to_customer(*, ids: Sequence[int], customer_id: int, actor=None) -> int:
    """A merge moves the duplicate's invoices to the survivor (its undo moves them back). The
    buyer's name stays as it was printed on the invoice."""
    from crm.customers.links import move_records

    return move_records(Invoice, ids=ids, customer_id=customer_id, actor=actor)


def unscoped_payment_ids_of_customer(customer_id: int) -> list[int]:
    return list(Payment.objects.filter(customer_id=customer_id).values_list("pk", flat=True))


def payments_move_to_customer(*, ids: Sequence[int], customer_id: int, actor=None) -> int:
    from crm.customers.links import move_records

    return move_records(Payment, ids=ids, customer_id=customer_id, actor=actor)


# -- demo data --------------------------------------------------------------------------------------------------------
def _demo_shipped(*, seller, customer, lines, secretary, finance, keeper):
    """A demo order driven to shipped through the order services (None if stock runs short)."""
    from crm.approvals.selectors import approval_request_pending_for
    from crm.approvals.services import approval_approve
    from crm.orders import services as orders

    order = orders.order_create(actor=seller, data={"customer_id": customer.pk, "lines": lines,
                                                    "delivery_address": customer.address, "notes": "演示订单"})
    order = orders.order_submit(actor=seller, order_id=order.pk)
    for approver in (secretary, finance):
        request = approval_request_pending_for(doc_type="order", object_id=order.pk)
        if request is not None:
            approval_approve(actor=approver, request_id=request.pk, comment="同意")
    try:
        orders.shipment_create(actor=keeper, order_id=order.pk, data={"carrier": "顺丰速运"})
    except ValidationError:
        return None
    return order


def finance_load_demo() -> int:
    """Demo receivables for the standard mode: invoices for shipped orders, issued weeks and
    months ago, some paid, some partly paid, some overdue in every aging column, one order
    paid in full; made through the real services. Idempotent: a tenant that has invoices gets
    nothing. Returns the number of invoices issued."""
    from django.contrib.auth import get_user_model

    from crm.catalog.selectors import product_list_visible_to
    from crm.customers.selectors import customer_list_visible_to
    from crm.orders.selectors import order_list_visible_to

    if Invoice.objects.exists():
        return 0
    User = get_user_model()

    def staff(role):
        return list(User.objects.filter(roles__code=role, is_active=True).order_by("pk"))

    sellers, secretaries, finance, keepers = (staff("salesperson"), staff("business_secretary"), staff("finance"),
                                              staff("warehouse"))
    if not (sellers and secretaries and finance and keepers):
        return 0
    clerk, today = finance[0], timezone.localdate()
    products = {p.sku: p for p in product_list_visible_to(actor=secretaries[0]).filter(is_active=True)}
    demo_lines = [("ACC-BAT-3400", "6"), ("ACC-CHG-2", "4"), ("ACC-TRIPOD-AL", "3"), ("ACC-PRISM-1", "4")]

    def ago(days):
        return (today - datetime.timedelta(days=days)).isoformat()

    made = 0
    with transaction.atomic():
        shipped = list(order_list_visible_to(actor=clerk).filter(status=OrderStatus.SHIPPED).order_by("pk"))
        for n, seller in enumerate(sellers[:2] * 2):
            customers = list(customer_list_visible_to(actor=seller).filter(owner=seller).order_by("pk"))
            sku, qty = demo_lines[n % len(demo_lines)]
            if customers and sku in products:
                order = _demo_shipped(seller=seller, customer=customers[(n + 1) % len(customers)],
                                      lines=[{"product_id": products[sku].pk, "quantity": qty}],
                                      secretary=secretaries[0], finance=clerk, keeper=keepers[0])
                if order is not None:
                    shipped.append(order)
        plans = [
            # (invoices: [(share of the order, issued days ago)], payments: [(share of the first invoice, days ago)])
            ([(Decimal("1"), 75)], [(Decimal("0.4"), 40)]),  # partly paid, 45 days overdue
            ([(Decimal("0.5"), 130), (Decimal("0.5"), 20)], []),  # 100 days overdue, and not yet due
            ([(Decimal("1"), 50)], [(Decimal("1"), 25)]),  # paid in full: the order is paid
            ([(Decimal("1"), 5)], []),  # issued this week
            ([(Decimal("1"), 95)], [(Decimal("0.25"), 70)]),  # 65 days overdue
        ]
        for order, (invoices, payments) in zip(shipped, plans, strict=False):
            issued = []
            for share, days in invoices:
                total = (order.total * share).quantize(CENT) if share != 1 else None
                if issued and share != 1 and len(issued) == len(invoices) - 1:
                    total = None  # the last takes what is left
                issued.append(invoice_issue(actor=clerk, order_id=order.pk, data={
                    "total": total, "issued_on": ago(days), "kind": InvoiceKind.VAT_SPECIAL,
                    "tax_number": f"{44000000 + order.pk * 10 + len(issued):08d}"}))
                made += 1
            for share, days in payments:
                invoice = issued[0]
                amount = invoice.total if share == 1 else (invoice.total * share).quantize(CENT)
                payment_record(actor=clerk, invoice_id=invoice.pk, data={
                    "amount": amount, "received_on": ago(days), "method": PaymentMethod.BANK_TRANSFER,
                    "reference": f"BOC{invoice.pk:010d}"})
    return made

