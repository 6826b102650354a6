"""Staff web pages of partners: the list (filters, pages), create and edit (with the customer
duplicate check), the partner page with its tabs (profile, orders, quota attainment, receivables,
users, registered deals, end customers), status actions, tiers and channel settings, notices,
the ranking and the channel manager's inbox. Thin: selectors in, services out. A partner outside
the actor's scope is 404."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.customers.services import CreditCodeTaken, PossibleDuplicates
from crm.org.selectors import region_subtree_ids, region_tree, staff_in_scope_of
from crm.org.services import StaleVersion
from crm.org.web import flash_failure as _fail
from crm.org.web import validation_messages as _messages_of

from . import deals, end_customers, notices, quotas, selectors, services
from .enums import DealStatus, MemberRole, PartnerStatus, QuotaPeriod, StockDisplay
from .models import Partner, PartnerNotice, PartnerQuota
from .permissions import can_manage_partners, can_manage_tiers

PAGE_SIZE = 50
LIST_KEYS = ("status", "tier", "owner", "region", "q")
TABS = ("profile", "orders", "quotas", "receivables", "users", "deals", "customers")
FORM_FIELDS = ("name", "short_name", "code", "tier_id", "owner_id", "region_id", "credit_limit", "payment_terms_days",
               "contract_start", "contract_end", "contact_name", "phone", "email", "address", "credit_code")


def _staff_only(request) -> None:
    if getattr(request.user, "is_partner_user", False):
        raise Http404


def _partner(request, partner_id) -> Partner:
    _staff_only(request)
    try:
        return selectors.partner_get_for_actor(actor=request.user, partner_id=partner_id)
    except Partner.DoesNotExist:
        raise Http404 from None


def _flags(user) -> dict:
    return {"can_manage": can_manage_partners(user), "can_tiers": can_manage_tiers(user),
            "deals_on": deals.deals_enabled()}


# -- list ----------------------------------------------------------------------------------------
def partner_list_filter(qs, params) -> tuple:
    errors = []
    status = params.get("status", "")
    if status:
        if status in PartnerStatus.values:
            qs = qs.filter(status=status)
        else:
            errors.append(_("状态只能是：%(values)s。") % {"values": ", ".join(PartnerStatus.values)})
    tier = params.get("tier", "")
    if tier:
        qs = qs.filter(tier__code=tier)
    for key, field in (("owner", "owner_id"), ("region", "region_id")):
        raw = params.get(key, "")
        if raw:
            if not str(raw).isdigit():
                errors.append(_("%(key)s 应为编号。") % {"key": key})
            elif key == "region":
                qs = qs.filter(region_id__in=region_subtree_ids(region_id=int(raw)) or [])
            else:
                qs = qs.filter(**{field: int(raw)})
    q = (params.get("q") or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(short_name__icontains=q) | Q(code__istartswith=q))
    return qs, errors


@login_required
def partner_list(request):
    _staff_only(request)
    user = request.user
    f = {k: request.GET.get(k, "") for k in LIST_KEYS}
    qs, errors = partner_list_filter(selectors.partner_list_visible_to(actor=user), f)
    page = Paginator(qs.order_by("code"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "partners/list.html", {
        "page": page, "f": f, "filter_errors": errors, "query": query.urlencode(), "statuses": PartnerStatus.choices,
        "tiers": selectors.tier_list(include_inactive=True), "regions": region_tree(),
        "owners": staff_in_scope_of(actor=user).order_by("full_name")[:300], "tab": "list", **_flags(user)})


# -- create / edit --------------------------------------------------------------------------------
def _form_data(post) -> dict:
    data = {k: post.get(k, "") for k in FORM_FIELDS if k in post}
    data["sales_see_all"] = post.get("sales_see_all") == "on"
    if "regions_served" in post:
        data["regions_served"] = post.getlist("regions_served")
    return data


def _form_context(request, partner=None, **extra) -> dict:
    return {"partner": partner, "tiers": selectors.tier_list(), "regions": region_tree(),
            "owners": staff_in_scope_of(actor=request.user).order_by("full_name")[:300], **extra}


@login_required
def partner_create(request):
    _staff_only(request)
    if not can_manage_partners(request.user):
        raise PermissionDenied(_("你没有管理渠道伙伴的权限。"))
    data, errors, candidates = {}, [], None
    if request.method == "POST":
        data = _form_data(request.POST)
        override = request.POST.get("duplicate_override") == "on"
        reason = request.POST.get("override_reason", "").strip()
        try:
            partner = services.partner_create(actor=request.user, data=data,
                                              duplicate_override=override and bool(reason), override_reason=reason)
        except PossibleDuplicates as exc:
            candidates = exc.candidates
            if override and not reason:
                errors.append(_("请说明为什么这不是重复客户。"))
        except CreditCodeTaken:
            errors.append(_("统一社会信用代码已被另一个客户使用。"))
        except ValidationError as exc:
            errors = _messages_of(exc)
        else:
            messages.success(request, _("已创建渠道伙伴“%(name)s”。") % {"name": partner.name})
            return redirect("partners:detail", partner_id=partner.pk)
    return render(request, "partners/form.html", _form_context(request, data=data, errors=errors,
                                                                candidates=candidates))


@login_required
def partner_edit(request, partner_id):
    partner = _partner(request, partner_id)
    if not can_manage_partners(request.user):
        raise PermissionDenied(_("你没有管理渠道伙伴的权限。"))
    errors, data = [], None
    if request.method == "POST":
        data = _form_data(request.POST)
        data.pop("credit_code", None)
        try:
            services.partner_update(actor=request.user, partner_id=partner.pk, data=data,
                                    version=request.POST.get("version") or None)
        except StaleVersion:
            errors.append(_("这个伙伴已被他人修改，请刷新页面查看最新内容后再保存。"))
        except ValidationError as exc:
            errors = _messages_of(exc)
        else:
            messages.success(request, _("已保存。"))
            return redirect("partners:detail", partner_id=partner.pk)
    if data is None:
        data = {k: getattr(partner, k, "") for k in FORM_FIELDS if hasattr(partner, k)}
        data.update(tier_id=partner.tier_id, owner_id=partner.owner_id, region_id=partner.region_id,
                    sales_see_all=partner.sales_see_all,
                    regions_served=[str(r) for r in partner.regions_served.values_list("pk", flat=True)])
    return render(request, "partners/form.html", _form_context(request, partner, data=data, errors=errors))


@login_required
@require_POST
def partner_status(request, partner_id):
    partner = _partner(request, partner_id)
    try:
        services.partner_status_set(actor=request.user, partner_id=partner.pk, status=request.POST.get("status", ""),
                                    note=request.POST.get("note", ""))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("伙伴状态已更新。"))
    return redirect("partners:detail", partner_id=partner.pk)


# -- the partner page -----------------------------------------------------------------------------
def _tab_context(request, partner: Partner, tab: str) -> dict:
    user = request.user
    if tab == "orders":
        from crm.orders.selectors import order_list_visible_to

        rows = list(order_list_visible_to(actor=user).filter(partner_id=partner.pk)
                    .select_related("owner").order_by("-created_at", "-id")[:PAGE_SIZE])
        return {"orders": rows}
    if tab == "quotas":
        from crm.catalog.selectors import category_list_visible_to

        return {"attainment": quotas.quota_attainment(partner_id=partner.pk), "periods": QuotaPeriod.choices,
                "categories": category_list_visible_to(actor=user),
                "this_month": timezone.localdate().replace(day=1).isoformat()}
    if tab == "receivables":
        from crm.finance.enums import AGING_BUCKETS, UNPAID_STATUSES
        from crm.finance.selectors import invoice_list_visible_to

        today = timezone.localdate()
        invoices = list(invoice_list_visible_to(actor=user).filter(customer_id=partner.customer_id,
                                                                   status__in=UNPAID_STATUSES)
                        .order_by("due_on", "id")[:200])
        buckets = {key: {"label": label, "amount": 0} for key, (label, _lo, _hi) in AGING_BUCKETS.items()}
        for inv in invoices:
            late = (today - inv.due_on).days
            inv.days_late = max(late, 0)
            for key, (_label, lo, hi) in AGING_BUCKETS.items():
                if (lo is None and late <= 0) or (lo is not None and late >= lo and (hi is None or late <= hi)):
                    buckets[key]["amount"] += inv.outstanding
                    break
        return {"invoices": invoices, "buckets": list(buckets.values()),
                "outstanding": sum((i.outstanding for i in invoices), 0)}
    if tab == "users":
        return {"members": selectors.members_of_partner(partner_id=partner.pk), "roles": MemberRole.choices}
    if tab == "deals":
        return {"deals": list(deals.deals_for_staff(actor=user, partner_id=partner.pk)[:PAGE_SIZE])}
    if tab == "customers":
        rows = list(end_customers.end_customer_list_for_partner(actor=user, partner_id=partner.pk)
                    .order_by("-created_at", "-id")[:PAGE_SIZE])
        for row in rows:  # staff see which of the tenant's customers it looks like
            row.matches = end_customers.end_customer_tenant_matches(actor=user, end_customer=row) \
                if row.tenant_match else []
        return {"end_customers": rows}
    return {"regions_served": list(partner.regions_served.all()), "statuses": PartnerStatus.choices,
            "current": quotas.quota_current_for_partner(partner_id=partner.pk)}


@login_required
def partner_detail(request, partner_id, tab: str = "profile"):
    partner = _partner(request, partner_id)
    if tab not in TABS:
        raise Http404
    return render(request, "partners/detail.html", {"partner": partner, "tab": tab,
                                                    **_tab_context(request, partner, tab), **_flags(request.user)})


@login_required
@require_POST
def quota_set(request, partner_id):
    partner = _partner(request, partner_id)
    try:
        quotas.quota_set(actor=request.user, partner_id=partner.pk, period=request.POST.get("period", ""),
                         period_start=request.POST.get("period_start", ""), amount=request.POST.get("amount", ""),
                         category_id=request.POST.get("category_id") or None)
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("配额已保存。"))
    return redirect("partners:tab", partner_id=partner.pk, tab="quotas")


@login_required
@require_POST
def quota_delete(request, partner_id, quota_id):
    partner = _partner(request, partner_id)
    try:
        quotas.quota_delete(actor=request.user, quota_id=quota_id, partner_id=partner.pk)
    except PartnerQuota.DoesNotExist:
        raise Http404 from None
    except PermissionDenied as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("配额已删除。"))
    return redirect("partners:tab", partner_id=partner.pk, tab="quotas")


@login_required
@require_POST
def member_invite(request, partner_id):
    partner = _partner(request, partner_id)
    try:
        services.member_invite(actor=request.user, partner_id=partner.pk, email=request.POST.get("email", ""),
                               full_name=request.POST.get("full_name", ""), role=request.POST.get("role", "sales"),
                               phone=request.POST.get("phone", ""), language=request.POST.get("language", ""),
                               base_url=request.build_absolute_uri("/"))
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("已邀请，对方会收到设置密码的邮件。"))
    return redirect("partners:tab", partner_id=partner.pk, tab="users")


@login_required
@require_POST
def member_change(request, partner_id, member_id):
    partner = _partner(request, partner_id)
    try:
        if "role" in request.POST:
            services.member_role_set(actor=request.user, partner_id=partner.pk, member_id=member_id,
                                     role=request.POST["role"])
        else:
            services.member_active_set(actor=request.user, partner_id=partner.pk, member_id=member_id,
                                       active=request.POST.get("active") == "1")
    except ObjectDoesNotExist:
        raise Http404 from None
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("已更新伙伴用户。"))
    return redirect("partners:tab", partner_id=partner.pk, tab="users")


@login_required
@require_POST
def deal_decide(request, deal_id):
    _staff_only(request)
    try:
        deal = deals.deal_decide(actor=request.user, deal_id=deal_id, decision=request.POST.get("decision", ""),
                                 note=request.POST.get("note", ""))
    except ObjectDoesNotExist:
        raise Http404 from None
    except (ValidationError, PermissionDenied) as exc:
        _fail(request, exc)
        deal = deals.deal_get_for_staff(actor=request.user, deal_id=deal_id)
    else:
        messages.success(request, _("报备 %(number)s 已处理。") % {"number": deal.number})
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/partners/")
                    else f"/partners/{deal.partner_id}/deals/")


# -- tiers and settings, notices, ranking, inbox -------------------------------------------------
@login_required
def channel_settings(request):
    _staff_only(request)
    user = request.user
    if not can_manage_tiers(user):
        raise PermissionDenied(_("只有可查看全部数据的渠道管理人员可以维护伙伴等级和渠道设置。"))
    if request.method == "POST":
        try:
            if request.POST.get("form") == "tier":
                tier_id = request.POST.get("tier_id") or None
                services.tier_save(actor=user, tier_id=int(tier_id) if tier_id else None, data={
                    "code": request.POST.get("code", ""), "name_zh": request.POST.get("name_zh", ""),
                    "name_en": request.POST.get("name_en", ""), "position": request.POST.get("position", "0"),
                    "is_active": request.POST.get("is_active") == "on"})
            else:
                services.partner_settings_update(actor=user, data={
                    k: request.POST.get(k, "") for k in ("stock_display", "low_stock_threshold",
                                                         "deal_protection_days")})
        except (ValueError, ObjectDoesNotExist):
            raise Http404 from None
        except (ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("已保存。"))
        return redirect("partners:settings")
    return render(request, "partners/settings.html", {
        "tiers": selectors.tier_list(include_inactive=True), "settings": selectors.partner_settings_get(),
        "stock_displays": StockDisplay.choices, "tab": "settings", **_flags(user)})


@login_required
def notice_admin(request):
    _staff_only(request)
    user = request.user
    if request.method == "POST":
        data = {k: request.POST.get(k, "") for k in ("title_zh", "title_en", "body_zh", "body_en", "published_at",
                                                     "expires_at")}
        data["tiers"] = request.POST.getlist("tiers")
        try:
            notices.notice_publish(actor=user, data=data)
        except (ValidationError, PermissionDenied) as exc:
            _fail(request, exc)
        else:
            messages.success(request, _("公告已发布。"))
        return redirect("partners:notices")
    return render(request, "partners/notices.html", {
        "notices": notices.notice_list_for_staff(actor=user)[:200], "tiers": selectors.tier_list(),
        "now": timezone.now(), "tab": "notices", **_flags(user)})


@login_required
@require_POST
def notice_unpublish(request, notice_id):
    _staff_only(request)
    try:
        notices.notice_unpublish(actor=request.user, notice_id=notice_id)
    except PartnerNotice.DoesNotExist:
        raise Http404 from None
    except PermissionDenied as exc:
        _fail(request, exc)
    else:
        messages.success(request, _("公告已下线。"))
    return redirect("partners:notices")


@login_required
def ranking(request):
    _staff_only(request)
    user = request.user
    period = request.GET.get("period") or QuotaPeriod.MONTH
    sort = request.GET.get("sort") or "attainment"
    raw = request.GET.get("start", "")
    rows, error = [], None
    try:
        start = datetime.date.fromisoformat(raw) if raw else timezone.localdate()
        rows = quotas.partner_ranking(partners=selectors.partner_list_visible_to(actor=user), period=period,
                                      period_start=start, sort=sort)
        start = quotas.period_start_of(period, start)
    except ValueError:
        error, start = _("日期格式应为 YYYY-MM-DD。"), timezone.localdate()
    except ValidationError as exc:
        error, start = " ".join(_messages_of(exc)), timezone.localdate()
    return render(request, "partners/ranking.html", {
        "rows": rows, "error": error, "period": period, "sort": sort, "start": start, "periods": QuotaPeriod.choices,
        "sorts": [("attainment", _("配额完成率")), ("growth", _("环比增长")), ("collection", _("回款率")),
                  ("ordered", _("订货额"))], "tab": "ranking", **_flags(user)})


@login_required
def inbox(request):
    """The channel manager's inbox: partner orders awaiting them, pending deal registrations,
    new end customers flagged as possible duplicates."""
    _staff_only(request)
    from crm.approvals.selectors import approval_inbox_for

    user = request.user
    page = approval_inbox_for(actor=user, doc_type="partner_order")
    return render(request, "partners/inbox.html", {
        "approvals": page.items,
        "deals": list(deals.deals_for_staff(actor=user, status=DealStatus.PENDING)[:PAGE_SIZE]),
        "flagged": end_customers.end_customers_flagged_for_staff(actor=user), "tab": "inbox", **_flags(user)})
