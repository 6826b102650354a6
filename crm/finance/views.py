"""Staff web pages of finance: the aged receivables report (filters, drill-down to the invoices,
CSV/XLSX export), the invoice list (filters, keyset pages), the invoice page with its payments
and the record-payment form, issuing an invoice for a shipped order, the payment list and the
finance settings. Thin: selectors in, services out."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.orders.selectors import order_get_for_actor
from crm.org.selectors import region_tree, staff_in_scope_of
from crm.org.web import flash_failure as _fail
from crm.org.web import validation_messages as _messages_of

from . import selectors, services
from .api.views import aging_export
from .enums import (
    AGING_BUCKETS,
    INVOICE_SORTS,
    PAYMENT_SORTS,
    InvoiceKind,
    InvoiceStatus,
    PaymentMethod,
)
from .permissions import (
    can_issue_invoice,
    can_manage_finance_settings,
    can_record_payment,
    can_void_invoice,
    can_void_payment,
    is_finance,
)

PAGE_SIZE = 50
INVOICE_KEYS = ("status", "q", "owner", "customer", "order", "region", "issued_from", "issued_to", "overdue",
                "bucket", "as_of", "sort")
PAYMENT_KEYS = ("customer", "owner", "invoice", "method", "source", "received_from", "received_to", "void")
AGING_KEYS = ("as_of", "owner", "customer", "region", "currency")




def _flags(user) -> dict:
    return {"is_finance": is_finance(user), "can_settings": can_manage_finance_settings(user)}


def _page(request, qs, ordering) -> tuple[list, str | None, bool]:
    after = request.GET.get("after", "")
    if after:
        qs = selectors.rows_after(qs, ordering, after)
    rows = list(qs[:PAGE_SIZE + 1])
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        query = request.GET.copy()
        query["after"] = selectors.cursor_encode(rows[-1], ordering)
        next_url = "?" + query.urlencode()
    return rows, next_url, not after


# -- the aged receivables report -----------------------------------------------------------------------
@login_required
def receivables(request):
    user = request.user
    params = {k: request.GET.get(k, "") for k in AGING_KEYS}
    error, report = None, None
    try:
        report = selectors.aging_report(actor=user, params={**params, "cursor": request.GET.get("cursor", "")})
    except ValidationError as exc:
        error = " ".join(_messages_of(exc))
    next_url = None
    if report is not None and report.next_cursor:
        query = request.GET.copy()
        query["cursor"] = report.next_cursor
        next_url = "?" + query.urlencode()
    first = request.GET.copy()
    first.pop("cursor", None)
    export = request.GET.copy()
    export.pop("cursor", None)
    return render(request, "finance/receivables.html", {
        "report": report, "f": params, "filter_error": error, "next_url": next_url, "first_query": first.urlencode(),
        "is_first_page": not request.GET.get("cursor"), "buckets": [(k, v[0]) for k, v in AGING_BUCKETS.items()],
        "owners": staff_in_scope_of(actor=user).order_by("full_name")[:300], "regions": region_tree(),
        "export_query": export.urlencode(), **_flags(user)})


@login_required
def receivables_export(request):
    export = request.GET.get("export", "csv")
    if export not in ("csv", "xlsx"):
        raise Http404
    try:
        selectors.aging_params(request.GET)
    except ValidationError as exc:
        _fail(request, exc)
        return redirect("finance:receivables")
    return aging_export(request, export)


# -- invoices ----------------------------------------------------------------------------------------------
@login_required
def invoice_list(request):
    user = request.user
    params = {k: request.GET.get(k, "") for k in INVOICE_KEYS}
    error = None
    try:
        qs, sort = selectors.invoice_list(actor=user, params=params)
    except ValidationError as exc:
        error = " ".join(_messages_of(exc))
        qs, sort = selectors.invoice_list_visible_to(actor=user).none(), "-issued_on"
    rows, next_url, first = _page(request, qs, INVOICE_SORTS[sort])
    filtered = any(params[k] for k in INVOICE_KEYS if k != "sort")
    context = {"invoices": rows, "next_url": next_url, "is_first_page": first, "f": params, "filtered": filtered,
               "filter_error": error, "statuses": InvoiceStatus.choices, "today": timezone.localdate(),
               "owners": staff_in_scope_of(actor=user).order_by("full_name")[:300],
               "bucket_label": dict((k, v[0]) for k, v in AGING_BUCKETS.items()).get(params["bucket"]),
               "bucket_as_of": params["as_of"] or timezone.localdate().isoformat(),
               **_flags(user)}
    if getattr(request, "htmx", False) and request.htmx.target == "invoice-results":
        return render(request, "finance/_invoice_rows.html", context)
    return render(request, "finance/invoice_list.html", context)


def _invoice_or_404(request, invoice_id):
    try:
        return selectors.invoice_get_for_actor(actor=request.user, invoice_id=invoice_id)
    except ObjectDoesNotExist:
        raise Http404 from None


def _detail_context(request, invoice, *, payment_values=None, payment_errors=None) -> dict:
    invoice = selectors.invoice_detail(invoice=invoice)
    user = request.user
    payments = list(invoice.payments.all())
    values = payment_values or {"amount": f"{invoice.outstanding:f}", "received_on": timezone.localdate().isoformat(),
                                "method": PaymentMethod.BANK_TRANSFER, "reference": "", "note": ""}
    today = timezone.localdate()
    return {"invoice": invoice, "payments": payments, "today": today,
            "days_overdue": (today - invoice.due_on).days if invoice.is_unpaid() and invoice.due_on < today else 0,
            "can_pay": can_record_payment(user) and invoice.is_unpaid(),
            "can_void": can_void_invoice(user) and invoice.status != InvoiceStatus.VOID
            and not any(p.is_live() for p in payments),
            "can_void_payment": can_void_payment(user), "methods": PaymentMethod.choices, "values": values,
            "payment_errors": payment_errors or [], **_flags(user)}


@login_required
def invoice_detail(request, invoice_id: int):
    invoice = _invoice_or_404(request, invoice_id)
    return render(request, "finance/invoice_detail.html", _detail_context(request, invoice))


@login_required
@require_POST
def payment_record(request, invoice_id: int):
    invoice = _invoice_or_404(request, invoice_id)
    if not can_record_payment(request.user):
        raise PermissionDenied
    values = {k: request.POST.get(k, "").strip() for k in ("amount", "received_on", "method", "reference", "note")}
    try:
        payment = services.payment_record(actor=request.user, invoice_id=invoice.pk, data=values)
    except services.NotInScope:
        raise Http404 from None
    except (ValidationError, PermissionDenied) as exc:
        errors = _messages_of(exc) if isinstance(exc, ValidationError) else [str(exc)]
        return render(request, "finance/invoice_detail.html", _detail_context(
            request, invoice, payment_values=values, payment_errors=errors), status=400)
    messages.success(request, _("已登记收款 %(number)s：%(amount)s。") % {
        "number": payment.number, "amount": f"{payment.amount:,.2f} {payment.currency}"})
    return redirect("finance:invoice-detail", invoice_id=invoice.pk)


@login_required
@require_POST
def invoice_void(request, invoice_id: int):
    invoice = _invoice_or_404(request, invoice_id)
    version = request.POST.get("version", "")
    try:
        services.invoice_void(actor=request.user, invoice_id=invoice.pk, reason=request.POST.get("reason", ""),
                              version=int(version) if version.isdigit() else None)
    except services.StaleVersion:
        messages.error(request, _("这张发票已被他人修改，请查看最新内容后再操作。"))
    except services.NotInScope:
        raise Http404 from None
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("发票 %(number)s 已红冲。") % {"number": invoice.number})
    return redirect("finance:invoice-detail", invoice_id=invoice.pk)


@login_required
def invoice_issue(request, order_id: int):
    """The "开具发票" page of a shipped order: what is left to invoice, prefilled."""
    try:
        order = order_get_for_actor(actor=request.user, order_id=order_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    if not can_issue_invoice(request.user):
        raise PermissionDenied
    invoicing = selectors.order_invoicing(actor=request.user, order=order)
    values = {"total": f"{invoicing.remaining:f}", "tax_amount": "", "kind": InvoiceKind.VAT_SPECIAL,
              "tax_number": "", "issued_on": timezone.localdate().isoformat(), "note": ""}
    errors: list[str] = []
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        try:
            invoice = services.invoice_issue(actor=request.user, order_id=order.pk, data=values)
        except services.NotInScope:
            raise Http404 from None
        except (ValidationError, PermissionDenied) as exc:
            errors = _messages_of(exc) if isinstance(exc, ValidationError) else [str(exc)]
        else:
            messages.success(request, _("已开具发票 %(number)s。") % {"number": invoice.number})
            return redirect("finance:invoice-detail", invoice_id=invoice.pk)
    terms = datetime.timedelta(days=order.payment_terms_days)
    return render(request, "finance/invoice_issue.html", {
        "order": order, "invoicing": invoicing, "values": values, "errors": errors, "kinds": InvoiceKind.choices,
        "due_preview": timezone.localdate() + terms, "limit": selectors.finance_settings_get().invoice_limit,
        **_flags(request.user)}, status=400 if errors else 200)


# -- payments ------------------------------------------------------------------------------------------------
@login_required
def payment_list(request):
    user = request.user
    params = {k: request.GET.get(k, "") for k in PAYMENT_KEYS}
    error = None
    try:
        qs, sort = selectors.payment_list(actor=user, params=params)
    except ValidationError as exc:
        error = " ".join(_messages_of(exc))
        qs, sort = selectors.payment_list_visible_to(actor=user).none(), "-received_on"
    rows, next_url, first = _page(request, qs, PAYMENT_SORTS[sort])
    total = sum((p.amount for p in rows if p.is_live()), Decimal("0"))
    return render(request, "finance/payment_list.html", {
        "payments": rows, "next_url": next_url, "is_first_page": first, "f": params, "filter_error": error,
        "filtered": any(params.values()), "methods": PaymentMethod.choices, "page_total": total,
        "owners": staff_in_scope_of(actor=user).order_by("full_name")[:300], **_flags(user)})


@login_required
@require_POST
def payment_void(request, payment_id: int):
    try:
        payment = selectors.payment_get_for_actor(actor=request.user, payment_id=payment_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    version = request.POST.get("version", "")
    try:
        services.payment_void(actor=request.user, payment_id=payment.pk, reason=request.POST.get("reason", ""),
                              version=int(version) if version.isdigit() else None)
    except services.StaleVersion:
        messages.error(request, _("这笔收款已被他人修改，请查看最新内容后再操作。"))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("收款 %(number)s 已冲销。") % {"number": payment.number})
    return redirect("finance:invoice-detail", invoice_id=payment.invoice_id)


# -- settings ---------------------------------------------------------------------------------------------------
@login_required
def finance_settings(request):
    if not can_manage_finance_settings(request.user):
        raise PermissionDenied
    row = selectors.finance_settings_get()
    errors: dict = {}
    values = {"reminder_interval_days": str(row.reminder_interval_days),
              "invoice_limit": "" if row.invoice_limit is None else f"{row.invoice_limit:f}"}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        version = request.POST.get("version", "")
        try:
            services.finance_settings_update(actor=request.user, data=values,
                                             version=int(version) if version.isdigit() else None)
        except services.StaleVersion:
            errors = {"__all__": [_("设置已被他人修改，请刷新页面后再保存。")]}
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, _("已保存财务设置。"))
            return redirect(reverse("finance:settings"))
    return render(request, "finance/settings.html", {"row": row, "values": values, "errors": errors,
                                                     **_flags(request.user)}, status=400 if errors else 200)
