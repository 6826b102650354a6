"""The public site (BASE_DOMAIN): landing, pricing, sign-up, the live subdomain check and
the sign-up's progress page. Thin: selectors in, services out."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from billing.enums import Interval
from billing.selectors import plan_get, plan_list
from billing.services import BillingError
from tenants.enums import TenantStatus
from tenants.modes import MODES
from tenants.services import tenant_slug_validate

from . import ratelimit, selectors, services, tokens
from .forms import SignupForm


def _nav(active: str) -> list[dict]:
    items = [("landing", _("首页"), reverse("landing")), ("pricing", _("套餐价格"), reverse("signup:pricing")),
             ("signup", _("免费注册"), reverse("signup:signup"))]
    return [{"key": key, "label": label, "url": url, "active": key == active} for key, label, url in items]


def _language() -> str:
    return "en" if (get_language() or "").startswith("en") else "zh-hans"


def _plans_context() -> dict:
    plans = plan_list(public=True)
    return {"plans": plans, "module_rows": selectors.plan_module_rows(plans)}


@require_GET
def landing(request):
    context = _plans_context()
    trial = next((plan for plan in context["plans"] if plan.is_trial), None)
    return render(request, "signup/landing.html", {
        "modes": MODES.values(), "nav_items": _nav("landing"), "trial_plan": trial, **context})


@require_GET
def pricing(request):
    return render(request, "signup/pricing.html", {"nav_items": _nav("pricing"), **_plans_context()})


# -- the live subdomain check --------------------------------------------------------------------
_CHECK_STATES = {"taken": "taken", "reserved": "reserved"}


@require_GET
def slug_check(request):
    """htmx: is this subdomain free? Answers free / taken / reserved / invalid with the reason."""
    raw = request.GET.get("slug", "")[:100]
    try:
        slug = tenant_slug_validate(raw)
    except ValidationError as exc:
        error = exc.error_dict["slug"][0]
        state = _CHECK_STATES.get(error.code, "invalid")
        message = exc.message_dict["slug"][0]
        slug = raw.strip().lower()
    else:
        state, message = "free", _("可以使用")
    return render(request, "signup/_slug_check.html", {
        "state": state, "message": message, "slug": slug, "host": f"{slug}.{settings.BASE_DOMAIN}",
        "empty": not raw.strip()})


# -- the sign-up form ----------------------------------------------------------------------------
def _progress_url(request, tenant) -> str:
    return reverse("signup:progress", args=[tokens.progress_token_for(tenant)])


def _form_page(request, form, *, status=200, notice=""):
    plans = plan_list(public=True)
    return render(request, "signup/signup.html", {
        "form": form, "form_token": tokens.form_token_issue(), "nav_items": _nav("signup"),
        "modes": list(MODES.values()), "plans": plans, "notice": notice,
        "check_url": reverse("signup:check-slug")}, status=status)


def _add_rule_errors(form) -> None:
    """The form refused some fields: also tell what the sign-up rules say about the fields it
    accepted (a taken subdomain, a weak password), so that one round trip shows everything."""
    data = form.cleaned_data
    try:
        services.signup_validate(
            name=data.get("name", "-"), slug=data.get("slug", "placeholder"), mode=data.get("mode", "standard"),
            admin_name=data.get("admin_name", "-"), admin_email=data.get("admin_email", ""),
            password=data.get("password", ""), plan_code=data.get("plan", ""),
            interval=data.get("interval") or "")
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            if field in data and field not in form.errors:
                form.add_error(field, messages)


def _checkout_urls(request, progress_path: str) -> tuple[str, str]:
    progress = request.build_absolute_uri(progress_path)
    return f"{progress}?session_id={{CHECKOUT_SESSION_ID}}", progress


def _billing_unavailable(request, message: str, progress_path: str, *, status: int = 503):
    return render(request, "signup/billing_unavailable.html", {
        "message": message, "progress_url": progress_path, "nav_items": _nav("signup")}, status=status)


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.method == "GET":
        initial = {"interval": request.GET.get("interval") if request.GET.get("interval") in Interval.values
                   else Interval.MONTH}
        if plan_get(request.GET.get("plan", ""), public=True):
            initial["plan"] = request.GET["plan"]
        else:
            trial = next((p for p in plan_list(public=True) if p.is_trial), None)
            if trial:
                initial["plan"] = trial.code
        return _form_page(request, SignupForm(initial=initial))

    ip = ratelimit.client_ip(request)
    limited = ratelimit.signup_rate_check(ip)
    if limited:
        response = render(request, "signup/rate_limited.html", {
            "limit": limited.limit, "minutes": (limited.retry_after + 59) // 60,
            "nav_items": _nav("signup")}, status=429)
        response["Retry-After"] = str(limited.retry_after)
        return response
    ratelimit.signup_attempt_hit(ip)

    form = SignupForm(request.POST)
    nonce = tokens.form_token_nonce(request.POST.get("form_token"))
    if nonce is None:
        form.is_valid()
        form.add_error(None, _("表单已过期或无效，请检查后重新提交。"))
        return _form_page(request, form, status=400)
    if not tokens.form_token_claim(nonce):
        # The same form again (double click, reload): go where the first submission went.
        target = tokens.form_token_outcome(nonce)
        if target:
            return redirect(target)
        form.is_valid()
        return _form_page(request, form, status=409, notice=_(
            "这份注册表单已经提交过，正在处理中。请稍候片刻再刷新，不要重复提交。"))
    if not form.is_valid():
        tokens.form_token_release(nonce)
        _add_rule_errors(form)
        return _form_page(request, form, status=400)
    data = form.cleaned_data
    try:
        tenant = services.signup_create(
            name=data["name"], slug=data["slug"], mode=data["mode"], admin_name=data["admin_name"],
            admin_email=data["admin_email"], password=data["password"], plan_code=data["plan"],
            interval=data.get("interval") or "", language=_language())
    except ValidationError as exc:
        tokens.form_token_release(nonce)
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return _form_page(request, form, status=400)
    except Exception:
        tokens.form_token_release(nonce)  # nothing was recorded: the same form may be retried
        raise
    ratelimit.signup_done_hit(ip)
    progress_path = _progress_url(request, tenant)
    tokens.form_token_complete(nonce, redirect_to=progress_path)
    if tenant.status != TenantStatus.AWAITING_PAYMENT:
        return redirect(progress_path)
    return _checkout_redirect(request, tenant, progress_path, remember=nonce)


def _checkout_redirect(request, tenant, progress_path: str, *, remember: str | None = None):
    success_url, cancel_url = _checkout_urls(request, progress_path)
    try:
        url = services.signup_checkout_start(tenant=tenant, success_url=success_url, cancel_url=cancel_url)
    except BillingError as exc:  # Stripe down or refusing: the tenant stays awaiting payment
        status = exc.status if 400 <= getattr(exc, "status", 0) < 600 and exc.status != 500 else 503
        return _billing_unavailable(request, exc.message, progress_path, status=status)
    except ValidationError as exc:
        return _billing_unavailable(request, " ".join(exc.messages), progress_path, status=409)
    if not url:
        return redirect(progress_path)
    if remember:
        tokens.form_token_complete(remember, redirect_to=url)
    return redirect(url)


# -- progress ------------------------------------------------------------------------------------
def _progress_or_404(token: str):
    tenant_id = tokens.progress_tenant_id(token)
    progress = selectors.signup_progress_get(tenant_id=tenant_id) if tenant_id else None
    if progress is None:
        raise Http404
    return progress


@require_GET
def progress(request, token: str):
    """Where the sign-up stands. Polls itself (htmx) while provisioning runs; on the return
    from Stripe Checkout (``?session_id=``) it applies the Checkout first."""
    progress = _progress_or_404(token)
    error, status = "", 200
    session_id = request.GET.get("session_id", "")
    if session_id and progress.awaiting_payment:
        try:
            services.signup_checkout_return(tenant=progress.tenant, session_id=session_id)
        except BillingError as exc:  # the webhook will still complete it; the page polls
            error, status = exc.message, 503
        progress = _progress_or_404(token)
    context = {"p": progress, "token": token, "error": error, "support_email": selectors.support_email(),
               "nav_items": _nav("signup")}
    if request.htmx:
        return render(request, "signup/_progress_status.html", context, status=status)
    return render(request, "signup/progress.html", context, status=status)


@require_POST
def checkout_retry(request, token: str):
    """Awaiting payment: open a new Stripe Checkout (after a cancel, or when Stripe was down)."""
    progress = _progress_or_404(token)
    path = reverse("signup:progress", args=[token])
    if not progress.awaiting_payment:
        return redirect(path)
    return _checkout_redirect(request, progress.tenant, path)
