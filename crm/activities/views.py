"""Staff web pages: today, the calendar, activities (list, log), visit plans, notifications.
Thin: they translate input and call selectors and services."""

from __future__ import annotations

import datetime
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.customers import selectors as customer_selectors
from crm.org.selectors import staff_in_scope_of
from crm.org.services import StaleVersion

from . import permissions, selectors, services
from .enums import ActivityKind
from .forms import ActivityForm, PlanVisitForm, apply_errors

MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")


def customer_url(customer_id: int) -> str | None:
    """The customer page when the customers app has one."""
    for name in ("customers:detail", "customers:customer"):
        try:
            return reverse(name, args=[customer_id])
        except NoReverseMatch:
            continue
    return None


def _safe_next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


@login_required
def today(request):
    return render(request, "activities/today.html", selectors.today_for(actor=request.user))


@login_required
def calendar_month(request):
    raw = request.GET.get("month", "")
    today_date = timezone.localdate()
    year, month = today_date.year, today_date.month
    error = None
    if raw:
        match = MONTH_RE.match(raw.strip())
        if match and 1 <= int(match.group(2)) <= 12 and 1900 <= int(match.group(1)) <= 2999:
            year, month = int(match.group(1)), int(match.group(2))
        else:
            error = _("月份“%(value)s”格式不对，应为 YYYY-MM，例如 2026-11。") % {"value": raw[:20]}
    context = selectors.calendar_month_for(actor=request.user, year=year, month=month, today=today_date)
    context["error"] = error
    return render(request, "activities/calendar.html", context, status=400 if error else 200)


@login_required
def activity_list(request):
    """My activities (mine and those I joined); with ?customer=<id>, that customer's timeline
    (if I may see it)."""
    qs = selectors.activity_list_visible_to(actor=request.user)
    customer = None
    customer_id = request.GET.get("customer", "")
    if customer_id:
        if not customer_id.isdigit():
            raise Http404
        try:
            customer = customer_selectors.customer_get_for_actor(actor=request.user, customer_id=int(customer_id))
        except ObjectDoesNotExist:
            raise Http404 from None
        qs = qs.filter(customer_id=customer.pk)
    else:
        qs = qs.filter(selectors.mine_q(request.user))
    kind = request.GET.get("kind", "")
    if kind in ActivityKind.values:
        qs = qs.filter(kind=kind)
    page = Paginator(qs.order_by("-occurred_at", "-id"), 30).get_page(request.GET.get("page"))
    openable = ({customer.pk} if customer else
                selectors.customers_openable_by(actor=request.user,
                                                customer_ids={a.customer_id for a in page.object_list}))
    return render(request, "activities/activity_list.html", {
        "page": page, "customer": customer, "kind": kind, "kinds": ActivityKind.choices,
        "openable": openable, "customer_link": customer_url(customer.pk) if customer else None})


@login_required
def activity_detail(request, activity_id: int):
    """One activity, for whoever may see it (a participant too). Its customer is a link only
    for those who may open the customer; the owner (or a manager over it) gets the actions."""
    try:
        activity = selectors.activity_get_for_actor(actor=request.user, activity_id=activity_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    can_edit = permissions.can_edit_activity(request.user, activity)
    return render(request, "activities/activity_detail.html", {
        "a": activity, "can_edit": can_edit,
        "can_cancel": can_edit and activity.is_open_plan(),
        "customer_link": customer_url(activity.customer_id) if selectors.customers_openable_by(
            actor=request.user, customer_ids={activity.customer_id}) else None,
        "back": _safe_next(request, reverse("activities:list")),
    })


@login_required
def activity_new(request):
    customer_id = request.GET.get("customer") or request.POST.get("customer") or ""
    if not str(customer_id).isdigit():
        raise Http404
    try:
        customer = customer_selectors.customer_get_for_actor(actor=request.user, customer_id=int(customer_id))
    except ObjectDoesNotExist:
        raise Http404 from None
    if request.method == "POST":
        form = ActivityForm(request.POST, actor=request.user, customer=customer)
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.activity_log(
                    actor=request.user, customer_id=customer.pk, kind=data["kind"], subject=data["subject"],
                    body=data["body"], occurred_at=data["occurred_at"],
                    duration_minutes=data["duration_minutes"],
                    contact_id=data["contact"].pk if data["contact"] else None,
                    participant_ids=[u.pk for u in data["participants"]], outcome=data["outcome"],
                    next_step=data["next_step"], next_step_at=data["next_step_at"])
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("跟进记录已保存。"))
                return redirect(customer_url(customer.pk) or f"{reverse('activities:list')}?customer={customer.pk}")
    else:
        form = ActivityForm(actor=request.user, customer=customer,
                            initial={"occurred_at": timezone.localtime().replace(second=0, microsecond=0),
                                     "kind": request.GET.get("kind") or ActivityKind.VISIT})
    return render(request, "activities/activity_form.html", {"form": form, "customer": customer},
                  status=400 if form.errors else 200)


@login_required
def visit_plans(request):
    """Planned visits in my scope; a manager plans one for a colleague here."""
    owners = staff_in_scope_of(actor=request.user).order_by("full_name", "pk")
    form = PlanVisitForm(request.POST or None, actor=request.user, owners=owners,
                         initial={"customer": request.GET.get("customer")})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.activity_plan_visit(actor=request.user, customer_id=data["customer"],
                                         owner_id=data["owner"].pk, planned_at=data["planned_at"],
                                         subject=data["subject"], body=data["body"])
        except ObjectDoesNotExist:
            form.add_error("customer", _("客户不存在，或不在你的可见范围内。"))
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("拜访计划已安排。"))
            return redirect("activities:visit-plans")
    plans = selectors.visit_plans_visible_to(actor=request.user).filter(
        occurred_at__gte=timezone.now() - datetime.timedelta(days=30))[:200]
    return render(request, "activities/visit_plans.html", {"form": form, "plans": plans},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def visit_complete(request, activity_id: int):
    try:
        services.activity_complete_planned(actor=request.user, activity_id=activity_id,
                                           outcome=request.POST.get("outcome", ""))
    except ObjectDoesNotExist:
        raise Http404 from None
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("拜访已记录为完成。"))
    return redirect(_safe_next(request, reverse("activities:today")))


@login_required
@require_POST
def visit_cancel(request, activity_id: int):
    """Cancel a planned visit (from the today page or the activity page) with a reason."""
    try:
        services.activity_cancel_planned(actor=request.user, activity_id=activity_id,
                                         reason=request.POST.get("reason", ""),
                                         version=_int_or_none(request.POST.get("version")))
    except ObjectDoesNotExist:
        raise Http404 from None
    except StaleVersion:
        messages.error(request, _("这次拜访已被他人修改，请查看最新内容后再操作。"))
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("拜访已取消。"))
    return redirect(_safe_next(request, reverse("activities:today")))


def _int_or_none(raw) -> int | None:
    return int(raw) if raw and str(raw).isdigit() else None


@login_required
@require_POST
def task_complete(request, task_id: int):
    try:
        services.task_complete(actor=request.user, task_id=task_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
    return redirect(_safe_next(request, reverse("activities:today")))


@login_required
def notifications(request):
    """My notifications, newest first; the unread ones are marked read once shown."""
    page = Paginator(selectors.notification_list_for(actor=request.user), 30).get_page(request.GET.get("page"))
    items = list(page.object_list)
    unread_ids = [n.pk for n in items if n.read_at is None]
    response = render(request, "activities/notifications.html",
                      {"page": page, "items": items, "unread_ids": set(unread_ids)})
    if unread_ids:
        services.notifications_mark_read(actor=request.user, notification_ids=unread_ids)
    return response


@login_required
def notification_open(request, notification_id: int):
    note = selectors.notification_list_for(actor=request.user).filter(pk=notification_id).first()
    if note is None:
        raise Http404
    services.notifications_mark_read(actor=request.user, notification_ids=[note.pk])
    target = note.url if note.url.startswith("/") and not note.url.startswith("//") else reverse("activities:notifications")
    return redirect(target)


@login_required
@require_POST
def notifications_read_all(request):
    services.notifications_mark_read(actor=request.user)
    return redirect("activities:notifications")
