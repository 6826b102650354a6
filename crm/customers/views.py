"""Staff web pages of customers and contacts: lists with filters and keyset pages, the 360°
customer page, create/edit with the duplicate flow, the shared pool, the leaver handover,
one-click search and a small dashboard. Thin: forms in, services and selectors out."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.http import Http404, QueryDict
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.template.loader import select_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.audit.selectors import audit_trail_for
from crm.org.enums import Scope
from crm.org.scoping import subtree_ids
from crm.org.selectors import region_tree, staff_in_scope_of

from . import charts, links, search, selectors, services
from .enums import CustomerLevel
from .forms import CUSTOM_PREFIX, ContactForm, CustomerForm, HandoverForm
from .models import Contact, Customer

PAGE_SIZE = 50
FILTER_KEYS = ("owner", "region", "stage", "level", "tag", "idle_days", "updated_after", "updated_before",
               "sort")
TIMELINE_TEMPLATE = "activities/_timeline.html"


# -- helpers -------------------------------------------------------------------------------------
def _customer_or_404(request, customer_id) -> Customer:
    try:
        return selectors.customer_get_for_actor(actor=request.user, customer_id=customer_id)
    except Customer.DoesNotExist:
        raise Http404 from None


def _contact_or_404(request, contact_id) -> Contact:
    try:
        return selectors.contact_get_for_actor(actor=request.user, contact_id=contact_id)
    except Contact.DoesNotExist:
        raise Http404 from None


def _is_manager(user) -> bool:
    return user.effective_scope() != Scope.OWN


def _keyset_page(qs, request, *, sort):
    """One page of ``qs`` in ``sort`` order after the ``after`` cursor: a range scan on the
    sort's (…, key, id) index, never an OFFSET. A cursor that is malformed or from another
    sort starts again at the first page."""
    try:
        page = selectors.customer_list_page(qs, sort=sort, cursor=request.GET.get("after") or None,
                                            limit=PAGE_SIZE)
    except ValidationError:
        page = selectors.customer_list_page(qs, sort=sort, limit=PAGE_SIZE)
    next_url = None
    if page.next_cursor:
        params = request.GET.copy()
        params["after"] = page.next_cursor
        next_url = "?" + params.urlencode()
    return page.rows, next_url


def _id_page(qs, request):
    """Keyset by id alone, newest first (lists without an update-time index)."""
    qs = qs.order_by("-id")
    after = request.GET.get("after", "")
    if after.isdigit():
        qs = qs.filter(id__lt=int(after))
    rows = list(qs[:PAGE_SIZE + 1])
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        params = request.GET.copy()
        params["after"] = str(rows[-1].pk)
        next_url = "?" + params.urlencode()
    return rows, next_url


def _filter_query(params: QueryDict, *, sorting: bool = True) -> str:
    """The filter and sort part of a query string (what a saved view stores); an unknown
    or default sort is left out."""
    kept = QueryDict(mutable=True)
    for key in FILTER_KEYS:
        if key == "sort":
            value = params.get("sort", "")
            if sorting and value in selectors.CUSTOMER_SORTS and value != selectors.CUSTOMER_SORT_DEFAULT:
                kept["sort"] = value
            continue
        values = [v for v in params.getlist(key) if v]
        if values:
            kept.setlist(key, values)
    return kept.urlencode()


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field
            if field.startswith("custom."):
                target = CUSTOM_PREFIX + field.split(".", 1)[1]
            if target not in form.fields:
                target = None
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _stages() -> dict[str, str]:
    return services.stage_choices()


def _timeline_available() -> bool:
    try:
        select_template([TIMELINE_TEMPLATE])
    except (TemplateDoesNotExist, TemplateSyntaxError):
        return False
    return True


# -- customer list ---------------------------------------------------------------------------------
@login_required
def customer_list(request):
    user = request.user
    base = selectors.customer_list_visible_to(actor=user)
    error = None
    try:
        sort = selectors.customer_sort_get(request.GET.get("sort"))
    except ValidationError as exc:
        sort = selectors.customer_sort_get(None)
        messages.warning(request, _("%(error)s 已按默认方式（%(default)s）排序。") % {
            "error": " ".join(exc.messages), "default": sort.label})
    try:
        qs = selectors.customer_list_filter(base, request.GET)
    except ValidationError as exc:
        error = " ".join(exc.messages)
        qs = base.none()
    rows, next_url = _keyset_page(qs, request, sort=sort)
    stages = _stages()
    filter_query = _filter_query(request.GET)
    owners = list(staff_in_scope_of(actor=user).order_by("full_name"))
    return render(request, "customers/list.html", {
        "customers": rows, "next_url": next_url, "is_first_page": not request.GET.get("after"),
        "filter_error": error, "f": request.GET, "filter_query": filter_query,
        "filtered": bool(_filter_query(request.GET, sorting=False)),
        "sort": sort, "sorts": list(selectors.CUSTOMER_SORTS.values()),
        "filter_pairs": list(QueryDict(_filter_query(request.GET, sorting=False)).lists()),
        "saveable": bool(filter_query),
        "owners": owners, "regions": region_tree(), "stages": stages, "levels": CustomerLevel.choices,
        "saved_views": selectors.saved_views_for(actor=user),
        "can_transfer": _is_manager(user), "transfer_to": owners if _is_manager(user) else [],
    })


@login_required
@require_POST
def saved_view_save(request):
    name = request.POST.get("name", "").strip()[:40]
    query = _filter_query(QueryDict(request.POST.get("query", "")))
    try:
        services.saved_view_save(actor=request.user, name=name, query=query)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已保存视图“%(name)s”。") % {"name": name})
    return redirect(reverse("customers:list") + (f"?{query}" if query else ""))


@login_required
@require_POST
def saved_view_delete(request):
    services.saved_view_delete(actor=request.user, name=request.POST.get("name", ""))
    return redirect("customers:list")


@login_required
@require_POST
def customers_bulk_transfer(request):
    ids = [int(i) for i in request.POST.getlist("customer_ids") if i.isdigit()]
    to_owner = request.POST.get("to_owner", "")
    back = request.POST.get("next", "")
    back = back if back.startswith("?") else ""
    if not _is_manager(request.user):
        raise PermissionDenied
    try:
        if not to_owner.isdigit():
            raise ValidationError({"to_owner": _("请选择接收人。")})
        moved = services.customers_transfer(actor=request.user, customer_ids=ids, to_owner_id=int(to_owner),
                                            note=request.POST.get("note", "")[:500])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已转移 %(n)s 个客户。") % {"n": moved})
    return redirect(reverse("customers:list") + back)


# -- the 360° page -------------------------------------------------------------------------------
@login_required
def customer_detail(request, customer_id: int):
    customer = _customer_or_404(request, customer_id)
    user = request.user
    contacts = list(customer.contacts.prefetch_related("employments__customer").order_by("-is_active", "name", "id"))
    past = list(selectors.customer_past_contacts(customer=customer)[:100])
    visible_ids = set(selectors.customer_list_visible_to(actor=user).filter(
        pk__in={e.contact.customer_id for e in past} | {
            job.customer_id for c in contacts for job in c.employments.all()}).values_list("pk", flat=True))
    stages = _stages()
    return render(request, "customers/detail.html", {
        "customer": customer, "contacts": contacts, "past_contacts": past, "visible_ids": visible_ids,
        "owner_history": selectors.customer_owner_history(customer=customer)[:50],
        "trail": audit_trail_for(instance=customer),
        "stage_label": stages.get(customer.stage, customer.stage),
        "custom_values": _custom_values(customer),
        "can_release": customer.owner_id is not None and (customer.owner_id == user.pk or _is_manager(user)),
        "show_timeline": _timeline_available(), "timeline_template": TIMELINE_TEMPLATE,
        "panels": links.panels_for(actor=user, customer=customer),
    })


def _custom_values(customer) -> list[tuple[str, str]]:
    from django.utils.translation import get_language

    from .models import CustomFieldDefinition

    language = get_language() or "zh-hans"
    values = customer.custom or {}
    return [(d.label(language), values[d.code]) for d in CustomFieldDefinition.objects.filter(is_active=True)
            if values.get(d.code) not in (None, "")]


@login_required
@require_POST
def customer_release(request, customer_id: int):
    customer = _customer_or_404(request, customer_id)
    if not (customer.owner_id == request.user.pk or _is_manager(request.user)):
        raise PermissionDenied
    services.customer_release(actor=request.user, customer_id=customer.pk,
                              note=request.POST.get("note", "")[:500])
    messages.success(request, _("已把“%(name)s”释放到公海。") % {"name": customer.name})
    return redirect("customers:pool")


# -- create and edit ---------------------------------------------------------------------------------
@login_required
def customer_create(request):
    stages = _stages()
    form = CustomerForm(request.POST or None, stages=stages, initial={"stage": next(iter(stages), "")})
    candidates = None
    if request.method == "POST" and form.is_valid():
        override = form.cleaned_data["duplicate_override"]
        reason = form.cleaned_data["override_reason"].strip()
        try:
            customer = services.customer_create(actor=request.user, data=form.service_data(),
                                                duplicate_override=override and bool(reason),
                                                override_reason=reason)
        except services.PossibleDuplicates as exc:
            candidates = _duplicates_shown(form, exc, override=override)
        except services.CreditCodeTaken as exc:
            form.add_error("credit_code", _credit_code_message(exc))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("已创建客户“%(name)s”。") % {"name": customer.name})
            return redirect("customers:detail", customer_id=customer.pk)
    return render(request, "customers/form.html", {"form": form, "candidates": candidates, "customer": None})


def _duplicates_shown(form, exc, *, override: bool) -> list[dict]:
    """The likely duplicates, shown above the form with the "not a duplicate" checkbox; an
    override needs a reason, which is recorded in the audit trail."""
    if override:
        form.add_error("override_reason", _("请说明为什么这不是重复客户。"))
    return exc.candidates


def _credit_code_message(exc) -> str:
    existing = exc.existing
    owner = existing.owner.full_name if existing.owner else _("公海")
    return _("统一社会信用代码 %(code)s 已属于客户“%(name)s”（负责人：%(owner)s），不能重复创建。") % {
        "code": existing.credit_code, "name": existing.name, "owner": owner}


@login_required
def customer_edit(request, customer_id: int):
    customer = _customer_or_404(request, customer_id)
    form = CustomerForm(request.POST or None, stages=_stages(), initial=CustomerForm.initial_for(customer))
    candidates = None
    stale = False
    if request.method == "POST" and form.is_valid():
        override = form.cleaned_data["duplicate_override"]
        reason = form.cleaned_data["override_reason"].strip()
        try:
            services.customer_update(actor=request.user, customer_id=customer.pk, data=form.service_data(),
                                     version=form.cleaned_data.get("version"),
                                     duplicate_override=override and bool(reason), override_reason=reason)
        except services.PossibleDuplicates as exc:
            candidates = _duplicates_shown(form, exc, override=override)
        except services.CreditCodeTaken as exc:
            form.add_error("credit_code", _credit_code_message(exc))
        except services.StaleVersion:
            stale = True
            form.add_error(None, _("这个客户已被他人修改，请刷新页面查看最新内容后再保存。"))
        except ValidationError as exc:
            _form_errors(form, exc)
        except Customer.DoesNotExist:
            raise Http404 from None
        else:
            messages.success(request, _("已保存。"))
            return redirect("customers:detail", customer_id=customer.pk)
    return render(request, "customers/form.html", {"form": form, "candidates": candidates,
                                                   "customer": customer, "stale": stale})


# -- contacts ------------------------------------------------------------------------------------------
@login_required
def contact_list(request):
    qs = selectors.contact_list_visible_to(actor=request.user)
    q = request.GET.get("q", "").strip()[:100]
    customer = None
    if request.GET.get("customer", "").isdigit():
        customer = _customer_or_404(request, int(request.GET["customer"]))
        qs = qs.filter(customer=customer)
    next_url = None
    if q:
        parsed = search.parse_query(q)
        rows = search.search_contacts(qs=qs, parsed=parsed, limit=PAGE_SIZE) if parsed else []
    else:
        rows, next_url = _id_page(qs, request)
    return render(request, "customers/contact_list.html", {
        "contacts": rows, "next_url": next_url, "q": q, "customer": customer,
        "is_first_page": not request.GET.get("after"),
    })


@login_required
def contact_create(request, customer_id: int):
    customer = _customer_or_404(request, customer_id)
    form = ContactForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(actor=request.user, customer_id=customer.pk,
                                              data=form.service_data())
        except ValidationError as exc:
            _form_errors(form, exc)
        except Customer.DoesNotExist:
            raise Http404 from None
        else:
            messages.success(request, _("已添加联系人“%(name)s”。") % {"name": contact.name})
            return redirect("customers:detail", customer_id=customer.pk)
    return render(request, "customers/contact_form.html", {"form": form, "customer": customer, "contact": None})


@login_required
def contact_edit(request, contact_id: int):
    contact = _contact_or_404(request, contact_id)
    choices = list(selectors.customer_list_visible_to(actor=request.user).order_by("-updated_at", "-id")[:300])
    if contact.customer not in choices:
        choices.insert(0, contact.customer)
    form = ContactForm(request.POST or None, customers=choices, initial=ContactForm.initial_for(contact))
    if request.method == "POST" and form.is_valid():
        data = form.service_data()
        target = int(form.cleaned_data["customer"])
        if target != contact.customer_id:
            data["customer_id"] = target
        try:
            services.contact_update(actor=request.user, contact_id=contact.pk, data=data,
                                    version=form.cleaned_data.get("version"))
        except services.StaleVersion:
            form.add_error(None, _("这个联系人已被他人修改，请刷新页面查看最新内容后再保存。"))
        except ValidationError as exc:
            _form_errors(form, exc)
        except Customer.DoesNotExist:
            form.add_error("customer", _("客户不存在或不在你的可见范围内。"))
        else:
            messages.success(request, _("已保存。"))
            return redirect("customers:detail", customer_id=target)
    employments = list(contact.employments.select_related("customer"))
    visible_ids = set(selectors.customer_list_visible_to(actor=request.user).filter(
        pk__in={e.customer_id for e in employments}).values_list("pk", flat=True))
    return render(request, "customers/contact_form.html", {
        "form": form, "customer": contact.customer, "contact": contact, "employments": employments,
        "visible_ids": visible_ids})


# -- the shared pool and the handover ------------------------------------------------------------------
@login_required
def pool(request):
    qs = selectors.pool_visible_to(actor=request.user)
    regions = region_tree()
    if request.GET.get("region"):
        region = next((r for r in regions if str(r.pk) == request.GET["region"]), None)
        qs = qs.filter(region__in=subtree_ids(region)) if region else qs.none()
    rows, next_url = _id_page(qs, request)
    return render(request, "customers/pool.html", {
        "customers": rows, "next_url": next_url, "regions": regions, "f": request.GET,
        "stages": _stages(), "is_first_page": not request.GET.get("after"),
    })


@login_required
@require_POST
def pool_claim(request, customer_id: int):
    try:
        customer = services.customer_claim(actor=request.user, customer_id=customer_id)
    except Customer.DoesNotExist:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("customers:pool")
    messages.success(request, _("已领取“%(name)s”，现在由你负责。") % {"name": customer.name})
    return redirect("customers:detail", customer_id=customer.pk)


@login_required
def handover(request):
    if not _is_manager(request.user):
        raise PermissionDenied
    form = HandoverForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            moved = services.customers_handover(
                actor=request.user, from_owner_id=int(form.cleaned_data["from_owner"]),
                to_owner_ids=[int(i) for i in form.cleaned_data["to_owners"]],
                note=form.cleaned_data["note"])
        except (ValidationError, PermissionDenied) as exc:
            if isinstance(exc, ValidationError):
                _form_errors(form, exc)
            else:
                form.add_error(None, str(exc))
        else:
            messages.success(request, _("已移交 %(n)s 个客户。") % {"n": moved})
            return redirect("customers:handover")
    return render(request, "customers/handover.html", {"form": form})


# -- search ----------------------------------------------------------------------------------------------
@login_required
def search_view(request):
    q = request.GET.get("q", "").strip()[:100]
    partial = bool(getattr(request, "htmx", False)) or request.GET.get("partial") == "1"
    limit = 8 if partial else 50
    parsed = search.parse_query(q)
    customers, contacts = [], []
    if parsed is not None:
        customers = search.search_customers(qs=selectors.customer_list_visible_to(actor=request.user),
                                            parsed=parsed, limit=limit, actor=request.user)
        contacts = search.search_contacts(qs=selectors.contact_list_visible_to(actor=request.user), parsed=parsed,
                                          limit=limit, actor=request.user)
    context = {"q": q, "customers": customers, "contacts": contacts, "searched": parsed is not None}
    if partial:
        return render(request, "customers/_search_results.html", context)
    return render(request, "customers/search.html", context)


# -- dashboard -------------------------------------------------------------------------------------------
@login_required
def dashboard(request):
    visible = selectors.customer_list_visible_to(actor=request.user)
    by_region = list(visible.order_by().values("region__name").annotate(n=Count("id")).order_by("-n"))
    regions = [(row["region__name"] or _("未分区域"), row["n"]) for row in by_region]
    if len(regions) > 8:
        regions = regions[:7] + [(_("其他"), sum(n for _l, n in regions[7:]))]
    stages = _stages()
    counts = {row["stage"]: row["n"] for row in visible.order_by().values("stage").annotate(n=Count("id"))}
    by_stage = [(label, counts.pop(key, 0)) for key, label in stages.items()]
    by_stage += [(key, n) for key, n in counts.items()]
    total = sum(n for _l, n in regions)
    return render(request, "customers/dashboard.html", {
        "total": total,
        "region_chart": charts.pie_svg(regions, title=_("客户按区域分布")),
        "stage_chart": charts.bar_svg(by_stage, title=_("客户按阶段分布")),
        "in_pool": selectors.pool_visible_to(actor=request.user).count(),
        "idle": visible.filter(Q(last_activity_at__lt=timezone.now() - datetime.timedelta(days=30))
                               | Q(last_activity_at__isnull=True)).count(),
    })
