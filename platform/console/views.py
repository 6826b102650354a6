"""The operator console (public host): sign-in with a password and a TOTP code, the
dashboard, tenants and their page with its actions, support access and the operator log.
Thin: forms in, console services out; every action is written to the operator log there."""

from __future__ import annotations

import time

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from crm.org.models import User
from crm.org.support_access import MAX_MINUTES, support_access_candidates
from crm.org.web import client_ip, validation_messages
from tenants.enums import TenantStatus
from tenants.models import Tenant
from tenants.modes import MODES
from tenants.selectors import tenant_base_url

from . import selectors, services, throttle
from .auth import (
    SESSION_PENDING,
    SESSION_SECONDS,
    SESSION_VERIFIED,
    operator_required,
    operator_verified,
)
from .enums import OperatorAction
from .forms import CodeForm, LogFilterForm, LoginForm, TenantCreateForm, TenantFilterForm

PAGE_SIZE = 50
PENDING_SECONDS = 5 * 60  # between the password and the code


def _nav(request) -> list[dict]:
    items = [("dashboard", _("概览"), reverse("console:dashboard")),
             ("tenants", _("租户"), reverse("console:tenants")),
             ("log", _("运营日志"), reverse("console:log")),
             ("operators", _("运营人员"), reverse("console:operators"))]
    current = request.path
    return [{"key": k, "label": label, "url": url,
             "active": current == url or (k != "dashboard" and current.startswith(url))}
            for k, label, url in items]


def _render(request, template: str, context: dict, *, status: int = 200):
    return render(request, template, {"nav_items": _nav(request), **context}, status=status)


def _plans():
    from billing.selectors import plan_list

    return plan_list()


# -- sign-in -------------------------------------------------------------------------------------
def _safe_next(request, value: str) -> str:
    if value and value.startswith(("/console/", "/admin/")) and url_has_allowed_host_and_scheme(
            value, allowed_hosts={request.get_host()}):
        return value
    return reverse("console:dashboard")


def _locked(request, form, *, template="console/login.html", extra=None):
    form.add_error(None, _("尝试次数过多，已暂时锁定，请 %(m)s 分钟后再试。") % {"m": throttle.lock_minutes()})
    return render(request, template, {"form": form, **(extra or {})}, status=429)


@sensitive_post_parameters("password")
def login_view(request):
    """Step one: email and password of a public-schema user with is_staff."""
    if operator_verified(request):
        return redirect(_safe_next(request, request.GET.get("next", "")))
    form = LoginForm(request.POST or None)
    if request.method != "POST":
        return render(request, "console/login.html", {"form": form})
    if not form.is_valid():
        return render(request, "console/login.html", {"form": form}, status=400)
    email, ip = form.cleaned_data["email"].strip().lower(), client_ip(request)
    if throttle.login_locked(email=email, ip=ip):
        return _locked(request, form)
    user = authenticate(request, email=email, password=form.cleaned_data["password"])
    if user is None or not user.is_staff:
        locked = throttle.login_failure_record(email=email, ip=ip)
        known = user or User.objects.filter(email=email).first()
        services.operator_log_write(operator=known if known and known.is_staff else None,
                                    operator_email=email, ip=ip,
                                    action=OperatorAction.LOCKED_OUT if locked else OperatorAction.LOGIN_FAILED,
                                    detail={"step": "password"})
        if locked:
            return _locked(request, form)
        form.add_error(None, _("邮箱或密码不正确，或者这个账号不是运营人员。"))
        return render(request, "console/login.html", {"form": form}, status=400)
    request.session.cycle_key()
    request.session[SESSION_PENDING] = {"user": user.pk, "at": int(time.time()),
                                        "next": request.GET.get("next", "")}
    return redirect("console:login-code")


def _pending_user(request) -> User | None:
    pending = request.session.get(SESSION_PENDING)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    return User.objects.filter(pk=pending["user"], is_staff=True, is_active=True).first()


@sensitive_post_parameters("code")
def login_code_view(request):
    """Step two: the TOTP code; on the first sign-in, enrolment (QR code and secret) first."""
    user = _pending_user(request)
    if user is None:
        messages.error(request, _("请先输入邮箱和密码。"))
        return redirect("console:login")
    device = services.totp_enrolment_get(operator=user)
    enrolling = not device.is_confirmed
    extra = {"enrolling": enrolling, "email": user.email}
    if enrolling:
        uri = services.totp_provisioning_uri(device, email=user.email)
        extra.update(qr_svg=segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff"),
                     secret=" ".join(device.secret[i:i + 4] for i in range(0, len(device.secret), 4)))
    form = CodeForm(request.POST or None)
    if request.method != "POST":
        return render(request, "console/login_code.html", {"form": form, **extra})
    ip = client_ip(request)
    if throttle.login_locked(email=user.email, ip=ip):
        return _locked(request, form, template="console/login_code.html", extra=extra)
    if not form.is_valid() or not services.totp_verify(operator=user, code=form.cleaned_data["code"]):
        locked = throttle.login_failure_record(email=user.email, ip=ip)
        services.operator_log_write(operator=user, ip=ip, detail={"step": "code"},
                                    action=OperatorAction.LOCKED_OUT if locked else OperatorAction.LOGIN_FAILED)
        if locked:
            request.session.pop(SESSION_PENDING, None)
            return _locked(request, form, template="console/login_code.html", extra=extra)
        form.errors.pop("code", None)
        form.add_error("code", _("验证码不正确或已使用过，请输入身份验证器中当前的 6 位数字。"))
        return render(request, "console/login_code.html", {"form": form, **extra}, status=400)
    nxt = request.session.get(SESSION_PENDING, {}).get("next", "")
    throttle.login_failures_clear(email=user.email)
    login(request, user)
    request.session.pop(SESSION_PENDING, None)
    request.session[SESSION_VERIFIED] = user.pk
    request.session.set_expiry(SESSION_SECONDS)
    if enrolling:
        services.operator_log_write(operator=user, action=OperatorAction.OTP_ENROLLED, ip=ip)
    services.operator_log_write(operator=user, action=OperatorAction.LOGIN, ip=ip)
    return redirect(_safe_next(request, nxt))


@require_POST
def logout_view(request):
    if operator_verified(request):
        services.operator_log_write(operator=request.user, action=OperatorAction.LOGOUT, ip=client_ip(request))
    logout(request)
    return redirect("console:login")


# -- dashboard and tenants -----------------------------------------------------------------------
@operator_required
def dashboard(request):
    figures = selectors.dashboard_figures()
    english = (get_language() or "").startswith("en")
    names = {m.key: (m.name_en if english else m.name_zh) for m in MODES.values()}
    figures["by_mode"] = [(row["primary"], names.get(row["primary"], row["primary"] or "—"), row["n"])
                          for row in figures["by_mode"]]
    return _render(request, "console/dashboard.html", figures)


@operator_required
def tenant_list(request):
    plans = _plans()
    form = TenantFilterForm(request.GET or None, plans=plans)
    filters, status = {}, 200
    if form.is_bound:
        if form.is_valid():
            filters = {k: v for k, v in form.cleaned_data.items() if v}
        else:
            status = 400
    page = None
    if status == 200:
        qs = selectors.tenant_list(**filters)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    return _render(request, "console/tenant_list.html", {
        "form": form, "page": page, "query": query.urlencode(), "sort_query": sort_query.urlencode(),
        "sort": filters.get("sort", selectors.DEFAULT_SORT), "counts": selectors.tenant_status_counts(),
        "plan_names": {p.code: p.display_name for p in plans},
    }, status=status)


@operator_required
def tenant_new(request):
    form = TenantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = services.tenant_create(operator=request.user, ip=client_ip(request), **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("已提交开通：%(name)s") % {"name": tenant.name})
            return redirect("console:tenant", tenant_id=tenant.pk)
    status = 400 if request.method == "POST" else 200
    return _render(request, "console/tenant_new.html", {"form": form}, status=status)


def _tenant_context(request, tenant: Tenant) -> dict:
    from billing.selectors import plan_get, subscription_get

    subscription = subscription_get(tenant.pk)
    usage = selectors.tenant_usage(tenant)
    plan = subscription.plan if subscription else plan_get(tenant.plan_code)
    return {
        "t": tenant, "url": tenant_base_url(tenant), "subscription": subscription, "plan": plan,
        "usage": usage, "domains": _domains_served(tenant),
        "events": selectors.tenant_events(tenant), "log": selectors.operator_log_for_tenant(tenant),
        "support_sessions": selectors.support_sessions_for_tenant(tenant), "plans": _plans(),
        "can_support": tenant.status in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED),
    }


@operator_required
def tenant_detail(request, tenant_id: int):
    tenant = get_object_or_404(Tenant.objects.real(), pk=tenant_id)
    if request.htmx:  # the status panel polls itself while provisioning runs
        return render(request, "console/_tenant_status.html", {"t": tenant, "url": tenant_base_url(tenant)})
    return _render(request, "console/tenant_detail.html", _tenant_context(request, tenant))


def _domains_served(tenant: Tenant) -> list:
    """The tenant's domains, each marked whether this deployment answers it (ALLOWED_HOSTS):
    a custom domain needs the deployment's ALLOWED_HOSTS to cover it (or to be "*")."""
    from django.http.request import validate_host

    domains = list(tenant.domains.order_by("-is_primary", "domain"))
    for domain in domains:
        domain.served = validate_host(domain.domain, settings.ALLOWED_HOSTS)
    return domains


def _refuse(request, tenant: Tenant, messages_: list[str], *, status: int = 400):
    for message in messages_:
        messages.error(request, message)
    return _render(request, "console/tenant_detail.html", _tenant_context(request, tenant), status=status)


def _billing_error():
    try:
        from billing.services import BillingError
    except ImportError:  # billing not ready: nothing of this kind can be raised
        return ()
    return BillingError


@operator_required
@require_POST
def tenant_action(request, tenant_id: int, action: str):
    """Every action on a tenant: POST, CSRF-checked, its input checked by the service."""
    tenant = get_object_or_404(Tenant.objects.real(), pk=tenant_id)
    post, operator, ip = request.POST, request.user, client_ip(request)
    reason = post.get("reason", "")
    try:
        if action in ("suspend", "resume", "close"):
            services.tenant_status_act(operator=operator, ip=ip, tenant_id=tenant.pk, action=action,
                                       reason=reason, confirm_slug=post.get("confirm", ""))
            done = {"suspend": _("已暂停租户（只读）。"), "resume": _("已恢复租户。"),
                    "close": _("已关闭租户。")}[action]
        elif action == "plan":
            services.tenant_plan_change(operator=operator, ip=ip, tenant_id=tenant.pk,
                                        plan_code=post.get("plan", ""),
                                        interval=post.get("interval", "month"), reason=reason)
            done = _("已变更套餐。")
        elif action == "trial":
            services.tenant_trial_extend(operator=operator, ip=ip, tenant_id=tenant.pk,
                                         days=post.get("days"), reason=reason)
            done = _("已延长试用期。")
        elif action == "domain-add":
            row = services.domain_add(operator=operator, ip=ip, tenant_id=tenant.pk, domain=post.get("domain", ""))
            done = _("已添加域名 %(d)s。") % {"d": row.domain}
        elif action == "domain-remove":
            services.domain_remove(operator=operator, ip=ip, tenant_id=tenant.pk, domain_id=post.get("domain_id", ""))
            done = _("已移除域名。")
        elif action == "provision":
            services.tenant_provision_retry(operator=operator, ip=ip, tenant_id=tenant.pk)
            done = _("已重新提交开通。")
        elif action == "support-revoke":
            services.support_session_revoke(operator=operator, ip=ip, tenant_id=tenant.pk,
                                            session_id=post.get("session_id", ""), reason=reason)
            done = _("已撤销客服代登录：该会话在租户的下一次请求时退出。")
        else:
            return _refuse(request, tenant, [_("未知的操作。")], status=404)
    except ValidationError as exc:
        return _refuse(request, tenant, validation_messages(exc))
    except _billing_error() as exc:
        message = getattr(exc, "message", "") or str(exc)
        return _refuse(request, tenant, [message], status=getattr(exc, "status", 400) or 400)
    messages.success(request, done)
    return redirect("console:tenant", tenant_id=tenant.pk)


# -- support access ------------------------------------------------------------------------------
@operator_required
def support_start(request, tenant_id: int):
    """Pick a user of the tenant, state why and for how long; then go to the tenant host."""
    tenant = get_object_or_404(Tenant.objects.real(), pk=tenant_id)
    errors, status = [], 200
    if request.method == "POST":
        try:
            _session, url = services.support_session_start(
                operator=request.user, ip=client_ip(request), tenant_id=tenant.pk,
                user_id=request.POST.get("user_id", ""), reason=request.POST.get("reason", ""),
                minutes=request.POST.get("minutes", ""))
        except ValidationError as exc:
            errors, status = validation_messages(exc), 400
        else:
            return HttpResponseRedirect(url)
    search = request.GET.get("q", "").strip()[:100]
    candidates = []
    if tenant.status in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        with schema_context(tenant.schema_name):
            candidates = support_access_candidates(search=search)
    return _render(request, "console/support_start.html", {
        "t": tenant, "candidates": candidates, "q": search, "errors": errors, "post": request.POST,
        "max_minutes": MAX_MINUTES}, status=status)


# -- the operator log ----------------------------------------------------------------------------
@operator_required
def operator_log(request):
    form = LogFilterForm(request.GET or None)
    filters, status, page = {}, 200, None
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        filters = {k: v for k, v in (form.cleaned_data if form.is_bound else {}).items() if v}
        page = Paginator(selectors.operator_log_list(**filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return _render(request, "console/operator_log.html", {"form": form, "page": page,
                                                          "query": query.urlencode()}, status=status)


# -- operators -----------------------------------------------------------------------------------
@operator_required
def operators(request):
    """The operators (public staff users): second factor enrolled or not, last sign-in; a
    superuser resets another operator's second factor (a lost phone), with a reason."""
    errors, status = [], 200
    if request.method == "POST":
        try:
            target = services.operator_totp_reset(actor=request.user, ip=client_ip(request),
                                                  operator_id=request.POST.get("operator_id", ""),
                                                  reason=request.POST.get("reason", ""))
        except ValidationError as exc:
            errors, status = validation_messages(exc), 400
        else:
            messages.success(request, _("已重置 %(email)s 的两步验证：下次登录时重新绑定。") % {"email": target.email})
            return redirect("console:operators")
    people = selectors.operator_list(viewer=request.user)
    return _render(request, "console/operators.html", {"operators": people, "errors": errors}, status=status)

