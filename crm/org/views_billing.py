"""The tenant admin's "套餐与账单" settings page: plan, billing status, usage against the plan's
limits, invoices, the Stripe billing portal, upgrade from trial (Checkout), plan change, cancel
and undo, and the full data export. Thin: billing.services does the billing, crm.org.data_export
the export. Only tenant admins; it keeps working while the tenant is suspended (reads, paying,
exporting), which tenants.middleware allows for /settings/billing/."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing.entitlements import (
    entitlements_current,
    entitlements_forget,
    partner_users_used,
    staff_seats_used,
)
from billing.enums import BillingStatus, Interval
from billing.modules import CORE_MODULES, MODULES

from . import data_export
from .permissions import is_tenant_admin
from .web import validation_messages


def _require_admin(request) -> None:
    if not is_tenant_admin(request.user):
        raise PermissionDenied(_("只有系统管理员可以查看和管理套餐与账单。"))


def _tenant(request):
    """The tenant row itself (request.tenant is a cached partial copy)."""
    from tenants.models import Tenant

    return Tenant.objects.get(pk=request.tenant.pk)


def _billing_url(request) -> str:
    return request.build_absolute_uri(reverse("org:billing"))


def _plans():
    from billing.selectors import plan_list

    return plan_list(paid=True)


def _plan_from(request):
    from billing.models import Plan

    code = request.POST.get("plan", "")
    plan = Plan.objects.filter(code=code, is_active=True, is_trial=False).first()
    if plan is None:
        raise ValidationError({"plan": _("请选择一个有效的付费套餐。")})
    interval = request.POST.get("interval", Interval.MONTH)
    if interval not in Interval.values:
        raise ValidationError({"interval": _("请选择按月或按年付费。")})
    return plan, interval


def _usage(ent) -> list[dict]:
    rows = []
    for key, label, used, limit in (("staff_seats", _("员工账号"), staff_seats_used(), ent.staff_seats),
                                    ("partner_users", _("渠道伙伴用户"), partner_users_used(), ent.partner_users)):
        rows.append({"key": key, "label": label, "used": used, "limit": limit,
                     "percent": min(100, round(used * 100 / limit)) if limit else 0,
                     "full": limit is not None and used >= limit})
    return rows


def _page(request, *, status: int = 200, errors: list[str] | None = None):
    from billing.services import subscription_for

    tenant = _tenant(request)
    sub = subscription_for(tenant)
    ent = entitlements_current()
    grace_ends = (sub.past_due_since + timedelta(days=settings.BILLING_GRACE_DAYS)
                  if sub.past_due_since else None)
    from billing.selectors import billing_actions_for, invoice_list

    return render(request, "org/billing/page.html", {
        "sub": sub, "plan": sub.plan, "ent": ent, "grace_ends": grace_ends,
        "status_label": BillingStatus(sub.status).label,
        "usage": _usage(ent),
        "modules": [{"key": k, "label": v, "on": ent.has_module(k), "core": k in CORE_MODULES}
                    for k, v in MODULES.items()],
        "invoices": list(invoice_list(tenant.pk).order_by("-created", "-id")[:24]),
        "plans": _plans(), "intervals": Interval.choices,
        **billing_actions_for(sub),
        "has_customer": bool(sub.stripe_customer_id),
        "exports": data_export.data_export_list(),
        "errors": errors or [],
    }, status=status)


@login_required
def billing_page(request):
    _require_admin(request)
    session_id = request.GET.get("session_id", "")
    if session_id:  # back from Stripe Checkout
        from billing.services import BillingError, checkout_session_sync

        try:
            sub = checkout_session_sync(session_id=session_id, tenant_id=request.tenant.pk)
        except BillingError as exc:
            return _page(request, status=exc.status, errors=[exc.message])
        entitlements_forget(request.tenant.pk)
        if sub is not None and sub.stripe_subscription_id and sub.stripe_status in ("active", "trialing"):
            messages.success(request, _("付款已完成，感谢！套餐已更新。"))
        else:  # not this tenant's session, not paid yet, or a payment still settling
            messages.info(request, _("尚未收到这笔付款的确认；确认后套餐会自动更新。"))
        return redirect("org:billing")
    if request.GET.get("checkout") == "cancelled":
        messages.info(request, _("已取消付款，套餐没有变化。"))
    return _page(request)


def _billing_action(request, action):
    """Run ``action()``; a BillingError or ValidationError shows the billing page again with the
    message and a 4xx/503 status, never a 500."""
    from billing.services import BillingError

    _require_admin(request)
    try:
        return action()
    except BillingError as exc:
        return _page(request, status=exc.status, errors=[exc.message])
    except ValidationError as exc:
        return _page(request, status=400, errors=validation_messages(exc))


@login_required
@require_POST
def billing_checkout(request):
    from billing.services import checkout_session_create

    def run():
        plan, interval = _plan_from(request)
        base = _billing_url(request)
        url = checkout_session_create(tenant=_tenant(request), plan=plan, interval=interval,
                                      success_url=base + "?session_id={CHECKOUT_SESSION_ID}",
                                      cancel_url=base + "?checkout=cancelled")
        return redirect(url)
    return _billing_action(request, run)


@login_required
@require_POST
def billing_portal(request):
    from billing.services import billing_portal_url

    return _billing_action(request, lambda: redirect(
        billing_portal_url(tenant=_tenant(request), return_url=_billing_url(request))))


@login_required
@require_POST
def billing_plan_change(request):
    from billing.services import plan_change

    def run():
        plan, interval = _plan_from(request)
        plan_change(tenant=_tenant(request), plan=plan, interval=interval, actor=request.user.email,
                    grant=False)  # the tenant's own admin pays through Checkout
        entitlements_forget(request.tenant.pk)
        messages.success(request, _("套餐已变更为「%(plan)s」。") % {"plan": plan.display_name})
        return redirect("org:billing")
    return _billing_action(request, run)


@login_required
@require_POST
def billing_cancel(request, undo: bool):
    from billing.services import subscription_cancel, subscription_cancel_undo

    def run():
        if undo:
            subscription_cancel_undo(tenant=_tenant(request), actor=request.user.email)
            messages.success(request, _("已撤销取消，订阅将继续。"))
        else:
            sub = subscription_cancel(tenant=_tenant(request), actor=request.user.email)
            end = sub.current_period_end or sub.trial_ends_at
            messages.success(request, _("已申请取消订阅，将在 %(date)s 到期后停止。") % {
                "date": end.strftime("%Y-%m-%d") if end else _("本期结束")})
        return redirect("org:billing")
    return _billing_action(request, run)


@login_required
@require_POST
def export_request(request):
    def run():
        data_export.data_export_request(actor=request.user, base_url=request.build_absolute_uri("/"))
        messages.success(request, _("正在准备全部数据的导出，完成后会发送邮件给你，也可在本页下载。"))
        return redirect("org:billing")
    return _billing_action(request, run)


@login_required
def export_download(request, token: str):
    try:
        fileobj = data_export.data_export_open(actor=request.user, token=token)
    except data_export.ExportNotFound:
        raise Http404 from None
    except data_export.ExportLinkExpired:
        return render(request, "error.html", {
            "status_code": 410,
            "message": _("下载链接已过期，导出文件已删除。请在「设置 › 套餐与账单」重新导出。")}, status=410)
    filename = f"qiao-export-{request.tenant.slug}.zip"
    return FileResponse(fileobj, as_attachment=True, filename=filename, content_type="application/zip")


# Included by crm/org/urls.py at settings/billing/ (names in the "org" namespace).
urlpatterns = [
    path("", billing_page, name="billing"),
    path("checkout/", billing_checkout, name="billing-checkout"),
    path("portal/", billing_portal, name="billing-portal"),
    path("plan/", billing_plan_change, name="billing-plan-change"),
    path("cancel/", billing_cancel, {"undo": False}, name="billing-cancel"),
    path("cancel/undo/", billing_cancel, {"undo": True}, name="billing-cancel-undo"),
    path("export/", export_request, name="billing-export"),
    path("export/<str:token>/", export_download, name="billing-export-download"),
]
