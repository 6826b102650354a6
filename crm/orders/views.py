"""Staff web pages of orders: the list (filters, keyset pages, empty state), fast order entry
(customer picker and product search as you type, keyboard-friendly lines, totals computed by
the server as you type), the order page with its full timeline and the actions its viewer may
take, the shipment form for the warehouse. Thin: selectors in, services out."""

from __future__ import annotations

import base64
import datetime
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.approvals.services import ApprovalConflict
from crm.catalog.selectors import product_search_as_you_type, warehouse_list
from crm.org.selectors import staff_in_scope_of
from crm.org.web import flash_failure as _fail
from crm.org.web import validation_messages as _messages_of

from . import selectors, services
from .enums import ORDER_SORTS, OrderStatus
from .permissions import can_create_order, can_edit_order, can_ship_orders

PAGE_SIZE = 50
LIST_KEYS = ("status", "q", "owner", "customer", "created_from", "created_to", "sort")


# -- helpers ------------------------------------------------------------------------------------------
def _order_or_404(request, order_id):
    try:
        return selectors.order_get_for_actor(actor=request.user, order_id=order_id)
    except ObjectDoesNotExist:
        raise Http404 from None




def _cursor_encode(order, sort: str) -> str:
    field = ORDER_SORTS[sort][0].lstrip("-")
    value = getattr(order, field)
    value = value.isoformat() if isinstance(value, datetime.datetime) else str(value)
    raw = json.dumps([sort, value, order.pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _after(qs, sort: str, token: str):
    """Rows strictly after the cursor in the sort's (key, id) order; a bad cursor: page one."""
    from decimal import Decimal

    from django.db.models import Q

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        cursor_sort, value, pk = json.loads(raw)
        if cursor_sort != sort or not isinstance(pk, int):
            return qs
        field = ORDER_SORTS[sort][0].lstrip("-")
        value = datetime.datetime.fromisoformat(value) if field.endswith("_at") else Decimal(value)
    except (ValueError, TypeError, UnicodeDecodeError, ArithmeticError):
        return qs
    op = "lt" if ORDER_SORTS[sort][0].startswith("-") else "gt"
    return qs.filter(Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"id__{op}": pk}))


# -- list --------------------------------------------------------------------------------------------------
@login_required
def order_list(request):
    user = request.user
    params = {k: request.GET.get(k, "") for k in LIST_KEYS}
    error = None
    try:
        sort = selectors.order_sort_get(params["sort"])
        qs = selectors.order_list(actor=user, params=params)
    except ValidationError as exc:
        error = " ".join(_messages_of(exc))
        sort = selectors.order_sort_get("")
        qs = selectors.order_list_visible_to(actor=user).none()
    after = request.GET.get("after", "")
    if after:
        qs = _after(qs, sort, after)
    rows = list(qs[:PAGE_SIZE + 1])
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        query = request.GET.copy()
        query["after"] = _cursor_encode(rows[-1], sort)
        next_url = "?" + query.urlencode()
    filtered = any(params[k] for k in LIST_KEYS if k != "sort")
    context = {"orders": rows, "next_url": next_url, "is_first_page": not after, "f": params, "filtered": filtered,
               "filter_error": error, "statuses": OrderStatus.choices, "sorts": _sort_choices(),
               "owners": staff_in_scope_of(actor=user).order_by("full_name")[:300],
               "can_create": can_create_order(user)}
    if getattr(request, "htmx", False) and request.htmx.target == "order-results":
        return render(request, "orders/_order_rows.html", context)
    return render(request, "orders/order_list.html", context)


def _sort_choices() -> list[tuple[str, str]]:
    return [("-created_at", _("最新创建")), ("created_at", _("最早创建")), ("-total", _("金额从高到低")),
            ("total", _("金额从低到高"))]


# -- entry ----------------------------------------------------------------------------------------------
HEADER_KEYS = ("customer_id", "currency", "warehouse_id", "delivery_address", "delivery_contact", "delivery_phone",
               "delivery_date", "payment_terms_days", "notes")


def _posted_lines(post) -> tuple[list[dict], list[dict]]:
    """The lines a form posted (rows without product and quantity are skipped), as service
    input and as rows to show again."""
    columns = {name: post.getlist(f"line-{name}") for name in
               ("key", "product_id", "sku", "name", "quantity", "unit_price", "discount_pct")}
    lines, rows = [], []
    for i in range(max((len(v) for v in columns.values()), default=0)):
        row = {name: (values[i] if i < len(values) else "").strip() for name, values in columns.items()}
        if not row["product_id"] and not row["quantity"]:
            continue
        rows.append(row)
        lines.append({"product_id": row["product_id"] or None, "quantity": row["quantity"],
                      "unit_price": row["unit_price"] or None, "discount_pct": row["discount_pct"] or None})
    return lines, rows


def _posted(post) -> tuple[dict, list[dict]]:
    data = {k: post.get(k, "").strip() for k in HEADER_KEYS if k in post}
    data["lines"], rows = _posted_lines(post)
    return data, rows


def _rows_of(order) -> list[dict]:
    return [{"key": str(i), "product_id": str(x.product_id), "sku": x.sku, "name": x.product_name,
             "quantity": f"{x.quantity.normalize():f}",
             "unit_price": f"{x.unit_price:f}" if x.price_manual else "",
             "discount_pct": "" if not x.discount_pct else f"{x.discount_pct.normalize():f}"}
            for i, x in enumerate(selectors.order_lines(order=order))]


def _entry_context(request, *, order=None, data=None, rows=None, errors=None, customer=None) -> dict:
    data = data or {}
    if customer is None and data.get("customer_id"):
        customer = _customer_for(request, data.get("customer_id"))
    rows = [{**row, "key": str(i)} for i, row in enumerate(rows or [])] or [{"key": "0"}]  # one empty line to start
    return {"order": order, "data": data, "rows": rows, "errors": errors or {}, "customer": customer,
            "warehouses": warehouse_list(actor=request.user, include_inactive=False), "next_key": len(rows)}


def _customer_for(request, customer_id):
    from crm.customers.selectors import customer_get_for_actor

    try:
        return customer_get_for_actor(actor=request.user, customer_id=int(customer_id))
    except (ObjectDoesNotExist, TypeError, ValueError):
        return None


@login_required
@require_POST
def order_from_quote(request):
    """The quote page's "convert into an order": a draft order to check and submit."""
    if not can_create_order(request.user):
        raise PermissionDenied
    try:
        order = services.order_create_from_quote(actor=request.user, quote_id=request.POST.get("quote_id"))
    except services.NotInScope:
        raise Http404 from None
    except ValidationError as exc:  # not accepted, or a line the catalog no longer sells
        messages.error(request, " ".join(exc.messages))
        quote_id = request.POST.get("quote_id", "")
        return redirect("sales:quote-detail", quote_id=int(quote_id)) if quote_id.isdigit() else redirect("orders:list")
    messages.success(request, _("已由报价单生成订单 %(number)s，请核对后提交。") % {"number": order.number})
    return redirect("orders:detail", order_id=order.pk)


@login_required
def order_create(request):
    if not can_create_order(request.user):
        raise PermissionDenied
    if request.method != "POST":
        initial = {"payment_terms_days": "30"}
        customer = _customer_for(request, request.GET.get("customer")) if request.GET.get("customer") else None
        if customer is not None:
            initial.update(customer_id=str(customer.pk), delivery_address=customer.address)
        return render(request, "orders/order_entry.html", _entry_context(request, data=initial, customer=customer))
    data, rows = _posted(request.POST)
    try:
        order = services.order_create(actor=request.user, data=data)
    except services.NotInScope as exc:
        errors = {exc.field: [exc.message]}
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    else:
        messages.success(request, _("已保存订单 %(number)s。") % {"number": order.number})
        if request.POST.get("then") == "submit":
            return _submit_and_redirect(request, order)
        return redirect("orders:detail", order_id=order.pk)
    return render(request, "orders/order_entry.html", _entry_context(request, data=data, rows=rows, errors=errors),
                  status=400)


@login_required
def order_edit(request, order_id: int):
    order = _order_or_404(request, order_id)
    if not can_edit_order(request.user, order):
        messages.error(request, _("只有草稿可以修改，且只有负责人或商务人员可以修改。"))
        return redirect("orders:detail", order_id=order.pk)
    if request.method != "POST":
        data = {k: ("" if getattr(order, k, None) is None else str(getattr(order, k))) for k in HEADER_KEYS
                if k != "customer_id" and k != "warehouse_id"}
        data.update(customer_id=str(order.customer_id), warehouse_id=str(order.warehouse_id or ""),
                    delivery_date=order.delivery_date.isoformat() if order.delivery_date else "")
        return render(request, "orders/order_entry.html", _entry_context(
            request, order=order, data=data, rows=_rows_of(order), customer=order.customer))
    data, rows = _posted(request.POST)
    version = request.POST.get("version")
    try:
        services.order_update(actor=request.user, order_id=order.pk, data=data,
                              version=int(version) if str(version).isdigit() else None)
    except services.StaleVersion:
        errors = {"__all__": [_("这张订单已被他人修改，请刷新页面查看最新内容后再保存。")]}
    except services.NotInScope as exc:
        errors = {exc.field: [exc.message]}
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    else:
        messages.success(request, _("已保存。"))
        if request.POST.get("then") == "submit":
            order.refresh_from_db()
            return _submit_and_redirect(request, order)
        return redirect("orders:detail", order_id=order.pk)
    return render(request, "orders/order_entry.html", _entry_context(request, order=order, data=data, rows=rows,
                                                                     errors=errors), status=400)


def _submit_and_redirect(request, order):
    try:
        order = services.order_submit(actor=request.user, order_id=order.pk)
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("订单 %(number)s 已提交：%(status)s。") % {
            "number": order.number, "status": order.get_status_display()})
    return redirect("orders:detail", order_id=order.pk)


@login_required
@require_POST
def entry_preview(request):
    """The totals (and each line's amounts) of the order being entered, computed by the
    services exactly as saving would (htmx, as the user types)."""
    data, rows = _posted(request.POST)
    priced, errors = None, []
    if data.get("customer_id") and data["lines"]:
        try:
            priced = services.order_preview(actor=request.user, data=data)
        except services.NotInScope as exc:
            errors = [exc.message]
        except ValidationError as exc:
            errors = _messages_of(exc)
    amounts = []
    if priced is not None:
        amounts = [{"key": row["key"], "line": priced_line} for row, priced_line in zip(rows, priced.lines, strict=False)]
    return render(request, "orders/_entry_totals.html", {"priced": priced, "errors": errors, "amounts": amounts,
                                                         "has_customer": bool(data.get("customer_id"))})


@login_required
def customer_suggest(request):
    """Customers the user may see, for the entry page's customer picker (htmx)."""
    q = (request.GET.get("customer_q") or request.GET.get("q") or "").strip()[:100]
    return render(request, "orders/_customer_options.html", {
        "customers": selectors.customer_suggest(actor=request.user, q=q) if q else [], "q": q})


@login_required
def product_suggest(request):
    """Active products as the user types in a line's product box (htmx)."""
    q = next((v for k, v in request.GET.items() if k != "row" and v.strip()), "").strip()[:100]
    return render(request, "orders/_product_options.html", {
        "products": product_search_as_you_type(actor=request.user, q=q, limit=8) if q else [], "q": q,
        "row": request.GET.get("row", "")})


# -- the order page -----------------------------------------------------------------------------------------
@login_required
def order_detail(request, order_id: int):
    order = selectors.order_detail(order=_order_or_404(request, order_id))
    history = selectors.order_approval_history(order=order)
    pending = next((r for r in history if r.status == "pending"), None)
    return render(request, "orders/order_detail.html", {
        "order": order, "lines": list(order.lines.all()), "shipments": list(order.shipments.all()),
        "attachments": list(order.attachments.all()),
        "timeline": selectors.order_timeline(order=order, history=history, language=get_language() or ""),
        "pending": pending, "pending_steps": list(pending.steps.all()) if pending else [],
        "actions": set(selectors.order_actions_for(actor=request.user, order=order, history=history)),
        "credit": selectors.credit_status_for_customer(customer_id=order.customer_id)})


_ACTIONS = {
    "submit": lambda r, o: services.order_submit(actor=r.user, order_id=o.pk),
    "recall": lambda r, o: services.order_recall(actor=r.user, order_id=o.pk),
    "cancel": lambda r, o: services.order_cancel(actor=r.user, order_id=o.pk, reason=r.POST.get("reason", "")),
    "reserve_stock": lambda r, o: services.order_stock_reserve(actor=r.user, order_id=o.pk),
    "close": lambda r, o: services.order_close(actor=r.user, order_id=o.pk, note=r.POST.get("note", "")),
}
_DONE = {"submit": gettext_lazy("订单已提交。"), "recall": gettext_lazy("已撤回，订单回到草稿。"),
         "cancel": gettext_lazy("订单已取消。"), "reserve_stock": gettext_lazy("已重新尝试预留库存。"),
         "close": gettext_lazy("订单已关闭。")}
# Invoiced and paid are not buttons here: finance issues invoices and records payments
# (crm.finance), which move the order.


@login_required
@require_POST
def order_action(request, order_id: int, action: str):
    order = _order_or_404(request, order_id)
    if action not in _ACTIONS:
        raise Http404
    try:
        _ACTIONS[action](request, order)
    except services.NotInScope:
        raise Http404 from None
    except (ValidationError, PermissionDenied, ApprovalConflict) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _DONE[action])
    return redirect("orders:detail", order_id=order.pk)


@login_required
def order_ship(request, order_id: int):
    order = _order_or_404(request, order_id)
    if not can_ship_orders(request.user):
        raise PermissionDenied
    lines = [x for x in selectors.order_lines(order=order) if x.remaining_quantity > 0]
    for x in lines:
        x.entered = request.POST.get(f"qty-{x.pk}", f"{x.remaining_quantity.normalize():f}")
    errors: list[str] = []
    values = {"carrier": "", "tracking_number": "", "note": "", "external_id": "",
              "shipped_at": timezone.localdate().isoformat()}
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in values}
        wanted = []
        for x in lines:
            raw = request.POST.get(f"qty-{x.pk}", "").strip()
            if raw and raw not in ("0", "0.0", "0.000"):
                wanted.append({"order_line_id": x.pk, "quantity": raw})
        if not wanted:
            errors = [_("请至少填写一行本次发货数量。")]
        else:
            try:
                shipment = services.shipment_create(actor=request.user, order_id=order.pk, data={
                    **values, "lines": wanted, "warehouse_id": request.POST.get("warehouse_id") or None})
            except (ValidationError, PermissionDenied) as exc:
                errors = _messages_of(exc) if isinstance(exc, ValidationError) else [str(exc)]
            else:
                messages.success(request, _("已发货：%(number)s。") % {"number": shipment.number})
                return redirect("orders:detail", order_id=order.pk)
    return render(request, "orders/order_ship.html", {
        "order": order, "lines": lines, "values": values, "errors": errors,
        "warehouses": warehouse_list(actor=request.user, include_inactive=False)},
        status=400 if errors else 200)


@login_required
@require_POST
def attachment_upload(request, order_id: int):
    order = _order_or_404(request, order_id)
    try:
        services.attachment_add(actor=request.user, order_id=order.pk, upload=request.FILES.get("file"))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("已上传附件。"))
    return redirect("orders:detail", order_id=order.pk)


@login_required
def attachment_download(request, order_id: int, attachment_id: int):
    order = _order_or_404(request, order_id)
    try:
        attachment = selectors.order_attachment_get(order=order, attachment_id=attachment_id)
        handle = attachment.file.open("rb")
    except (ObjectDoesNotExist, FileNotFoundError):
        raise Http404 from None
    return FileResponse(handle, as_attachment=True, filename=attachment.name, content_type=attachment.content_type)
