"""Staff web pages of sales: the opportunity list and its pipeline board (the project list
in the project mode), an opportunity's page with its stage history, quotes and audit trail,
the quote list, the quote editor (rows that add themselves with Enter, products suggested
as you type), a quote's page and its printable form, and the forecast. Thin: forms in,
services and selectors out."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.approvals.selectors import approval_request_pending_for
from crm.audit.selectors import audit_trail_for
from crm.catalog.selectors import product_list_visible_to, product_search_as_you_type
from crm.customers.selectors import (
    contact_list_visible_to,
    customer_get_for_actor,
    customer_list_visible_to,
)
from crm.org.selectors import region_tree, staff_in_scope_of

from . import charts, selectors, services
from .calc import rmb_upper
from .enums import (
    OPPORTUNITY_SORT_DEFAULT,
    OPPORTUNITY_SORTS,
    QUOTE_DOC_TYPE,
    QUOTE_SORT_DEFAULT,
    QUOTE_SORTS,
    ForecastGroup,
    ForecastPeriod,
    OpportunityStatus,
    QuoteStatus,
)
from .forms import LostForm, OpportunityForm, QuoteHeaderForm
from .permissions import can_assign_others
from .pipeline import pipeline_get, pipelines

PAGE_SIZE = 50
MAX_ROWS = 200
SORT_LABELS = {
    "-updated_at": gettext_lazy("最近更新"), "updated_at": gettext_lazy("最早更新"),
    "expected_close_date": gettext_lazy("预计成交日期（近→远）"),
    "-expected_close_date": gettext_lazy("预计成交日期（远→近）"), "-amount": gettext_lazy("金额（大→小）"),
    "amount": gettext_lazy("金额（小→大）"), "-created_at": gettext_lazy("最新创建"),
    "created_at": gettext_lazy("最早创建"), "valid_until": gettext_lazy("有效期（近→远）"),
    "-total": gettext_lazy("金额（大→小）"),
}


# -- helpers ------------------------------------------------------------------------------------------
def _or_404(fn, **kwargs):
    try:
        return fn(**kwargs)
    except ObjectDoesNotExist:
        raise Http404 from None


def _messages_of(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _form_errors(form, exc: ValidationError, aliases: dict[str, str] | None = None) -> None:
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = aliases.get(field, field)
            for message in errors:
                form.add_error(target if target in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _back(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _term(pipeline_key: str | None = None) -> dict:
    """What the tenant calls an opportunity: a project (项目) in the project-sales mode."""
    if pipeline_key is None:
        known = pipelines()
        pipeline_key = next(iter(known), "")
    if pipeline_key == "project":
        return {"opp_label": _("项目"), "opps_label": _("项目"), "list_url": reverse("sales:projects"),
                "new_label": _("新建项目")}
    return {"opp_label": _("商机"), "opps_label": _("商机"), "list_url": reverse("sales:opportunities"),
            "new_label": _("新建商机")}


def _stage_labels() -> dict[tuple[str, str], str]:
    return {(p.key, s.key): s.label for p in pipelines().values() for s in p.stages}


def _label_rows(rows, labels) -> None:
    for row in rows:
        row.stage_label = labels.get((row.pipeline, row.stage), row.stage)


def _next_url(request, after: str | None) -> str | None:
    if not after:
        return None
    params = request.GET.copy()
    params["after"] = after
    return "?" + params.urlencode()


def _owner_choices(user) -> list:
    return list(staff_in_scope_of(actor=user).order_by("full_name", "id")) if can_assign_others(user) else []


# -- opportunities: list and pipeline board -------------------------------------------------------------------
@login_required
def opportunity_list(request, projects: bool = False):
    user = request.user
    error = None
    try:
        ordering = selectors.opportunity_sort_get(request.GET.get("sort"))
        qs = selectors.opportunity_list_filter(selectors.opportunity_list_visible_to(actor=user), request.GET)
    except ValidationError as exc:
        error = _messages_of(exc)
        ordering = OPPORTUNITY_SORTS[OPPORTUNITY_SORT_DEFAULT]
        qs = selectors.opportunity_list_visible_to(actor=user).none()
    page = selectors.keyset_page(qs, ordering=ordering, after=request.GET.get("after"), limit=PAGE_SIZE)
    labels = _stage_labels()
    _label_rows(page.rows, labels)
    term = _term("project" if projects else None)
    manager = can_assign_others(user)
    filtered = any(request.GET.get(k) for k in ("q", "status", "stage", "owner", "region", "close_from", "close_to"))
    return render(request, "sales/opportunity_list.html", {
        "rows": page.rows, "next_url": _next_url(request, page.next_after), "is_first_page": not request.GET.get("after"),
        "f": request.GET, "filter_error": error, "filtered": filtered, "term": term,
        "title": term["opps_label"], "stages": _stage_choices(), "statuses": OpportunityStatus.choices,
        "sorts": [(k, SORT_LABELS[k]) for k in OPPORTUNITY_SORTS], "owners": _owner_choices(user) if manager else [],
        "regions": region_tree() if manager else [], "section": "list",
    })


def _stage_choices() -> list[tuple[str, str]]:
    seen, choices = set(), []
    for pipeline in pipelines().values():
        for stage in pipeline.stages:
            if stage.key not in seen:
                seen.add(stage.key)
                choices.append((stage.key, stage.label))
    return choices


@login_required
def pipeline_board(request):
    user = request.user
    try:
        pipeline = pipeline_get(request.GET.get("pipeline") or None)
    except ValidationError:
        pipeline = pipeline_get()
    params = request.GET.copy()
    for key in ("status", "stage", "sort", "after", "pipeline"):
        params.pop(key, None)
    error = None
    try:
        qs = selectors.opportunity_list_filter(selectors.opportunity_list_visible_to(actor=user), params)
    except ValidationError as exc:
        error = _messages_of(exc)
        qs = selectors.opportunity_list_visible_to(actor=user).none()
    columns = selectors.pipeline_board(qs=qs, pipeline=pipeline)
    manager = can_assign_others(user)
    term = _term(pipeline.key)
    return render(request, "sales/pipeline.html", {
        "columns": columns, "pipeline": pipeline, "f": request.GET, "filter_error": error, "term": term,
        "move_stages": [s for s in pipeline.stages if s.kind != OpportunityStatus.LOST],
        "owners": _owner_choices(user) if manager else [], "regions": region_tree() if manager else [],
        "empty": not any(c.count for c in columns), "section": "pipeline",
        "pipelines": list(pipelines().values()),
    })


# -- opportunities: one record -----------------------------------------------------------------------------
@login_required
def opportunity_detail(request, opportunity_id: int):
    user = request.user
    opportunity = _or_404(selectors.opportunity_get_for_actor, actor=user, opportunity_id=opportunity_id)
    pipeline = pipeline_get(opportunity.pipeline) if opportunity.pipeline in pipelines() else None
    history = selectors.opportunity_stage_history(opportunity=opportunity)
    for change in history:
        change.from_label = pipeline.label_of(change.from_stage) if pipeline and change.from_stage else change.from_stage
        change.to_label = pipeline.label_of(change.to_stage) if pipeline else change.to_stage
    return render(request, "sales/opportunity_detail.html", {
        "opportunity": opportunity, "pipeline": pipeline,
        "stage_label": pipeline.label_of(opportunity.stage) if pipeline else opportunity.stage,
        "history": history, "quotes": selectors.quotes_for_opportunity(actor=user, opportunity_id=opportunity.pk),
        "trail": audit_trail_for(instance=opportunity), "term": _term(opportunity.pipeline),
        "lost_form": LostForm(), "section": "list",
        "open_stages": pipeline.open_stages if pipeline else (),
    })


def _customer_for_form(request, raw):
    if raw in (None, "") or not str(raw).isdigit():
        return None
    try:
        return customer_get_for_actor(actor=request.user, customer_id=int(raw))
    except ObjectDoesNotExist:
        return None


def _contacts_of(request, customer) -> list:
    if customer is None:
        return []
    return list(contact_list_visible_to(actor=request.user).filter(customer_id=customer.pk, is_active=True)
                .order_by("name", "id"))


OPPORTUNITY_ALIASES = {"customer_id": "customer", "contact_id": "contact", "owner_id": "owner"}


@login_required
def opportunity_create(request):
    user = request.user
    pipeline = pipeline_get()
    customer = _customer_for_form(request, request.POST.get("customer") or request.GET.get("customer"))
    stages = [(s.key, s.label) for s in pipeline.stages]
    form = OpportunityForm(request.POST or None, stages=stages, contacts=_contacts_of(request, customer),
                           owners=_owner_choices(user),
                           initial={"customer": customer.pk if customer else None,
                                    "stage": pipeline.open_stages[0].key if pipeline.open_stages else ""})
    if request.method == "POST" and form.is_valid():
        try:
            opportunity = services.opportunity_create(actor=user, data=form.service_data())
        except services.NotInScope as exc:
            form.add_error(OPPORTUNITY_ALIASES.get(exc.field, None), exc.message)
        except ValidationError as exc:
            _form_errors(form, exc, OPPORTUNITY_ALIASES)
        else:
            messages.success(request, _("已创建“%(name)s”。") % {"name": opportunity.name})
            return redirect("sales:opportunity-detail", opportunity.pk)
    return render(request, "sales/opportunity_form.html", {
        "form": form, "customer": customer, "term": _term(pipeline.key), "creating": True, "section": "list"},
        status=400 if request.method == "POST" else 200)


@login_required
def opportunity_edit(request, opportunity_id: int):
    user = request.user
    opportunity = _or_404(selectors.opportunity_get_for_actor, actor=user, opportunity_id=opportunity_id)
    form = OpportunityForm(request.POST or None, contacts=_contacts_of(request, opportunity.customer),
                           owners=_owner_choices(user), initial=OpportunityForm.initial_for(opportunity))
    if request.method == "POST" and form.is_valid():
        try:
            services.opportunity_update(actor=user, opportunity_id=opportunity.pk, data=form.service_data(),
                                        version=form.cleaned_data.get("version"))
        except services.StaleVersion:
            form.add_error(None, _("记录已被他人修改，请刷新后重试。"))
        except ValidationError as exc:
            _form_errors(form, exc, OPPORTUNITY_ALIASES)
        else:
            messages.success(request, _("已保存。"))
            return redirect("sales:opportunity-detail", opportunity.pk)
    return render(request, "sales/opportunity_form.html", {
        "form": form, "customer": opportunity.customer, "opportunity": opportunity,
        "term": _term(opportunity.pipeline), "creating": False, "section": "list"},
        status=400 if request.method == "POST" else 200)


def _transition(request, opportunity_id: int, call) -> object:
    _or_404(selectors.opportunity_get_for_actor, actor=request.user, opportunity_id=opportunity_id)
    try:
        call()
    except services.NotInScope:
        raise Http404 from None
    except services.StaleVersion:
        messages.error(request, _("记录已被他人修改，请刷新后重试。"))
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    else:
        messages.success(request, _("已更新。"))
    return redirect(_back(request, reverse("sales:opportunity-detail", args=[opportunity_id])))


@login_required
@require_POST
def opportunity_stage(request, opportunity_id: int):
    post = request.POST
    return _transition(request, opportunity_id, lambda: services.opportunity_move_stage(
        actor=request.user, opportunity_id=opportunity_id, stage=post.get("stage", ""),
        probability=post.get("probability") or None, lost_reason=post.get("lost_reason", ""),
        note=post.get("note", "")))


@login_required
@require_POST
def opportunity_won(request, opportunity_id: int):
    return _transition(request, opportunity_id, lambda: services.opportunity_close_won(
        actor=request.user, opportunity_id=opportunity_id, note=request.POST.get("note", "")))


@login_required
@require_POST
def opportunity_lost(request, opportunity_id: int):
    return _transition(request, opportunity_id, lambda: services.opportunity_close_lost(
        actor=request.user, opportunity_id=opportunity_id, lost_reason=request.POST.get("lost_reason", ""),
        note=request.POST.get("note", "")))


@login_required
@require_POST
def opportunity_reopen(request, opportunity_id: int):
    return _transition(request, opportunity_id, lambda: services.opportunity_reopen(
        actor=request.user, opportunity_id=opportunity_id, stage=request.POST.get("stage") or None,
        note=request.POST.get("note", "")))


# -- pickers (htmx) -----------------------------------------------------------------------------------------
@login_required
def customer_pick(request):
    """Up to ten customers the actor may see whose name contains what was typed, as radio
    buttons named ``customer`` (the forms' customer field)."""
    q = (request.GET.get("customer_q") or request.GET.get("q") or "").strip()[:100]
    customers = []
    if q:
        customers = list(customer_list_visible_to(actor=request.user)
                         .filter(Q(name__icontains=q) | Q(short_name__icontains=q)).order_by("-updated_at", "-id")[:10])
    return render(request, "sales/_customer_pick.html", {"customers": customers, "q": q,
                                                         "with_opportunities": request.GET.get("for") == "quote"})


@login_required
def customer_options(request):
    """The contact (and, for quotes, opportunity) choices of the picked customer, swapped
    into the form out of band."""
    customer = _customer_for_form(request, request.GET.get("customer"))
    opportunities = []
    if customer is not None and request.GET.get("for") == "quote":
        opportunities = list(selectors.opportunity_list_visible_to(actor=request.user)
                             .filter(customer_id=customer.pk, status=OpportunityStatus.OPEN).order_by("-updated_at"))
    return render(request, "sales/_customer_options.html", {
        "contacts": _contacts_of(request, customer), "opportunities": opportunities,
        "with_opportunities": request.GET.get("for") == "quote"})


@login_required
def product_suggest(request):
    """As-you-type product suggestions (``<option>`` rows of the editor's datalist)."""
    q = next((v for k, v in request.GET.items() if k.startswith("sku") and v.strip()), "")
    products = product_search_as_you_type(actor=request.user, q=q.strip()[:100], limit=10) if q else []
    return render(request, "sales/_product_options.html", {"products": products})


# -- quotes: list and one record ---------------------------------------------------------------------------------
@login_required
def quote_list(request):
    user = request.user
    error = None
    try:
        ordering = selectors.quote_sort_get(request.GET.get("sort"))
        qs = selectors.quote_list_filter(selectors.quote_list_visible_to(actor=user), request.GET)
    except ValidationError as exc:
        error = _messages_of(exc)
        ordering = QUOTE_SORTS[QUOTE_SORT_DEFAULT]
        qs = selectors.quote_list_visible_to(actor=user).none()
    page = selectors.keyset_page(qs, ordering=ordering, after=request.GET.get("after"), limit=PAGE_SIZE)
    filtered = any(request.GET.get(k) for k in ("q", "status", "owner", "customer", "opportunity"))
    return render(request, "sales/quote_list.html", {
        "rows": page.rows, "next_url": _next_url(request, page.next_after), "is_first_page": not request.GET.get("after"),
        "f": request.GET, "filter_error": error, "filtered": filtered, "statuses": QuoteStatus.choices,
        "sorts": [(k, SORT_LABELS[k]) for k in QUOTE_SORTS], "owners": _owner_choices(user),
        "term": _term(), "section": "quotes",
    })


@login_required
def quote_detail(request, quote_id: int):
    user = request.user
    quote = _or_404(selectors.quote_get_for_actor, actor=user, quote_id=quote_id)
    approval = (approval_request_pending_for(doc_type=QUOTE_DOC_TYPE, object_id=quote.pk)
                if quote.status == QuoteStatus.IN_APPROVAL else None)
    return render(request, "sales/quote_detail.html", {
        "quote": quote, "lines": selectors.quote_lines(quote=quote), "in_words": _in_words(quote),
        "trail": audit_trail_for(instance=quote), "term": _term(), "section": "quotes", "approval": approval,
    })


def _in_words(quote) -> str | None:
    return rmb_upper(quote.total) if quote.currency == "CNY" else None


@login_required
def quote_print(request, quote_id: int):
    quote = _or_404(selectors.quote_get_for_actor, actor=request.user, quote_id=quote_id)
    return render(request, "sales/quote_print.html", {
        "quote": quote, "lines": selectors.quote_lines(quote=quote), "in_words": _in_words(quote),
        "company": getattr(getattr(request, "tenant", None), "name", "")})


def _quote_transition(request, quote_id: int, call):
    _or_404(selectors.quote_get_for_actor, actor=request.user, quote_id=quote_id)
    try:
        quote = call()
    except services.NotInScope:
        raise Http404 from None
    except services.StaleVersion:
        messages.error(request, _("记录已被他人修改，请刷新后重试。"))
    except ValidationError as exc:
        messages.error(request, _messages_of(exc))
    else:
        messages.success(request, _("报价单 %(number)s 现为“%(status)s”。") % {
            "number": quote.number, "status": quote.get_status_display()})
    return redirect("sales:quote-detail", quote_id)


@login_required
@require_POST
def quote_send(request, quote_id: int):
    return _quote_transition(request, quote_id, lambda: services.quote_send(actor=request.user, quote_id=quote_id))


@login_required
@require_POST
def quote_recall(request, quote_id: int):
    return _quote_transition(request, quote_id, lambda: services.quote_recall(actor=request.user, quote_id=quote_id))


@login_required
@require_POST
def quote_reopen(request, quote_id: int):
    return _quote_transition(request, quote_id, lambda: services.quote_reopen(actor=request.user, quote_id=quote_id))


@login_required
@require_POST
def quote_accept(request, quote_id: int):
    return _quote_transition(request, quote_id, lambda: services.quote_accept(actor=request.user, quote_id=quote_id))


@login_required
@require_POST
def quote_reject(request, quote_id: int):
    return _quote_transition(request, quote_id, lambda: services.quote_reject(
        actor=request.user, quote_id=quote_id, reason=request.POST.get("reason", "")))


# -- the quote editor ------------------------------------------------------------------------------------------
ROW_FIELDS = ("sku", "quantity", "unit_price", "discount_percent", "description")
QUOTE_ALIASES = {"customer_id": "customer", "contact_id": "contact", "opportunity_id": "opportunity"}


def _rows_posted(post) -> list[dict]:
    """The editor's line rows as posted (sku-0, quantity-0, ...), blank rows left out."""
    try:
        count = min(int(post.get("rows", "0")), MAX_ROWS)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        row = {name: (post.get(f"{name}-{i}") or "").strip() for name in ROW_FIELDS}
        if any(row.values()):
            rows.append(row)
    return rows


def _rows_of(lines) -> list[dict]:
    return [{"sku": line.sku, "quantity": f"{line.quantity.normalize():f}", "unit_price": f"{line.unit_price}",
             "discount_percent": f"{line.discount_percent.normalize():f}" if line.discount_percent else "",
             "description": line.description} for line in lines]


def _service_lines(request, rows: list[dict]) -> tuple[list[dict], dict[int, str]]:
    """The rows as service input (SKU looked up among the products) and the rows whose SKU
    matches no product."""
    skus = {r["sku"].upper() for r in rows if r["sku"]}
    products = {p.sku: p.pk for p in product_list_visible_to(actor=request.user).filter(sku__in=skus)} if skus else {}
    lines, unknown = [], {}
    for i, row in enumerate(rows):
        product_id = products.get(row["sku"].upper())
        if row["sku"] and product_id is None:
            unknown[i] = _("第 %(n)s 行：没有 SKU 为“%(sku)s”的产品。") % {"n": i + 1, "sku": row["sku"]}
        line = {"product_id": product_id, "quantity": row["quantity"] or None,
                "unit_price": row["unit_price"] or None, "discount_percent": row["discount_percent"] or None,
                "description": row["description"]}
        lines.append({k: v for k, v in line.items() if v not in (None, "")})
    return lines, unknown


def _row_errors(exc: ValidationError, rows: list[dict], form) -> None:
    """Spread a service error over the rows (lines[i].field) and the header form."""
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for key, errors in exc.message_dict.items():
        if key.startswith("lines[") and "]" in key:
            index = int(key[6:key.index("]")])
            if 0 <= index < len(rows):
                rows[index].setdefault("errors", []).extend(errors)
                continue
        target = QUOTE_ALIASES.get(key, key)
        for message in errors:
            form.add_error(target if target in form.fields else None, message)


@login_required
def quote_create(request):
    return _quote_editor(request, quote=None)


@login_required
def quote_edit(request, quote_id: int):
    quote = _or_404(selectors.quote_get_for_actor, actor=request.user, quote_id=quote_id)
    if not quote.is_editable():
        messages.error(request, _("报价单 %(number)s 当前为“%(current)s”，只有草稿可以修改。") % {
            "number": quote.number, "current": quote.get_status_display()})
        return redirect("sales:quote-detail", quote.pk)
    return _quote_editor(request, quote=quote)


def _quote_editor(request, *, quote):
    user = request.user
    post = request.POST if request.method == "POST" else None
    action = (post or {}).get("action", "")
    if quote is not None:
        customer = quote.customer
        initial = {"customer": quote.customer_id, "opportunity": str(quote.opportunity_id or ""),
                   "contact": str(quote.contact_id or ""), "currency": quote.currency,
                   "valid_until": quote.valid_until, "notes": quote.notes, "version": quote.version}
    else:
        opportunity = None
        raw_opportunity = request.GET.get("opportunity", "")
        if raw_opportunity.isdigit():
            opportunity = selectors.opportunity_list_visible_to(actor=user).filter(pk=int(raw_opportunity)).first()
        customer = _customer_for_form(request, (post or {}).get("customer") or request.GET.get("customer")
                                      or (opportunity.customer_id if opportunity else None))
        initial = {"customer": customer.pk if customer else None,
                   "opportunity": str(opportunity.pk) if opportunity else "",
                   "currency": opportunity.currency if opportunity else "CNY"}
    if post is not None and quote is None:
        customer = _customer_for_form(request, post.get("customer"))
    opportunities = (list(selectors.opportunity_list_visible_to(actor=user).filter(customer_id=customer.pk)
                          .order_by("-updated_at")[:50]) if customer else [])
    form = QuoteHeaderForm(post, opportunities=opportunities, contacts=_contacts_of(request, customer),
                           initial=initial)
    rows = _rows_posted(post) if post is not None else _rows_of(selectors.quote_lines(quote=quote)) if quote else []
    if action.startswith("remove-") and action[7:].isdigit() and int(action[7:]) < len(rows):
        rows.pop(int(action[7:]))
    focus_row = None
    if post is None or action == "add" or not rows:
        rows.append({name: "" for name in ROW_FIELDS})
        focus_row = len(rows) - 1 if post is not None else None
    filled = [r for r in rows if any(r.get(k) for k in ROW_FIELDS)]
    preview = None
    if post is not None and form.is_valid() and action == "save":
        lines, unknown = _service_lines(request, filled)
        data = {"customer_id": form.cleaned_data["customer"], "opportunity_id": form.cleaned_data.get("opportunity") or None,
                "contact_id": form.cleaned_data.get("contact") or None, "currency": form.cleaned_data["currency"],
                "valid_until": form.cleaned_data["valid_until"], "notes": form.cleaned_data.get("notes", "")}
        try:
            if quote is None:
                saved = services.quote_create(actor=user, data=data, lines=lines)
            else:
                data.pop("customer_id")
                saved = services.quote_update(actor=user, quote_id=quote.pk, data=data, lines=lines,
                                              version=form.cleaned_data.get("version"))
        except services.NotInScope as exc:
            form.add_error(QUOTE_ALIASES.get(exc.field) if QUOTE_ALIASES.get(exc.field) in form.fields else None,
                           exc.message)
        except services.StaleVersion:
            form.add_error(None, _("记录已被他人修改，请刷新后重试。"))
        except ValidationError as exc:
            _row_errors(exc, filled, form)
        else:
            messages.success(request, _("报价单 %(number)s 已保存。") % {"number": saved.number})
            return redirect("sales:quote-detail", saved.pk)
        for i, message in unknown.items():
            filled[i]["errors"] = [message]
        rows = filled + [{name: "" for name in ROW_FIELDS}]
    elif post is not None and customer is not None and filled:
        preview = _preview(request, customer, form, filled)
    elif quote is not None and filled:
        preview = _preview(request, customer, form, filled)
    for i, row in enumerate(rows):
        row["index"] = i
    return render(request, "sales/quote_editor.html", {
        "form": form, "quote": quote, "customer": customer, "rows": rows, "row_count": len(rows),
        "focus_row": focus_row, "preview": preview, "term": _term(), "section": "quotes",
    }, status=400 if post is not None and action == "save" else 200)


def _preview(request, customer, form, rows: list[dict]):
    """Priced lines and totals of the rows as they stand (nothing saved), or the rows' errors."""
    lines, unknown = _service_lines(request, rows)
    currency = (form.data.get("currency") if form.is_bound else form.initial.get("currency")) or "CNY"
    try:
        priced = services.quote_lines_price(actor=request.user, customer_id=customer.pk, currency=currency,
                                            lines=lines)
    except ValidationError as exc:
        for key, errors in getattr(exc, "message_dict", {}).items():
            if key.startswith("lines[") and "]" in key:
                index = int(key[6:key.index("]")])
                if 0 <= index < len(rows) and index not in unknown:
                    rows[index].setdefault("errors", []).extend(errors)
        for i, message in unknown.items():
            rows[i]["errors"] = [message]
        return None
    except ObjectDoesNotExist:
        return None
    for row, line in zip(rows, priced, strict=True):
        row["line"] = line
    net = sum((line.net_amount for line in priced), Decimal("0.00"))
    tax = sum((line.tax_amount for line in priced), Decimal("0.00"))
    return {"net": net, "tax": tax, "total": net + tax, "currency": currency,
            "in_words": rmb_upper(net + tax) if currency == "CNY" else None}


# -- the forecast -------------------------------------------------------------------------------------------------
@login_required
def forecast_page(request):
    user = request.user
    error = None
    try:
        params = selectors.forecast_params(request.GET)
    except ValidationError as exc:
        error = _messages_of(exc)
        params = selectors.forecast_params({})
    result = selectors.forecast(actor=user, **params)
    keys = [s.key for s in result.periods]
    chart = charts.grouped_bars_svg(keys, [
        (_("未加权金额"), [result.period_totals[k].amount for k in keys]),
        (_("加权金额"), [result.period_totals[k].weighted for k in keys]),
        (_("赢单金额"), [result.period_totals[k].won_amount for k in keys]),
    ], title=_("销售预测"))
    return render(request, "sales/forecast.html", {
        "result": result, "chart": chart, "filter_error": error, "f": request.GET,
        "period_totals": [result.period_totals[k] for k in keys],
        "groups": [(g, [g.cells[k] for k in keys]) for g in result.groups],
        "periods": ForecastPeriod.choices, "group_choices": ForecastGroup.choices,
        "empty": not result.groups, "term": _term(), "section": "forecast",
    })
