"""Staff web pages of the organisation app: sign-in, language, the staff directory and its
management. Thin: forms in, services out."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.audit.selectors import audit_trail_for

from . import selectors, services
from .enums import Permission
from .forms import EmailLoginForm, StaffForm, StaffPasswordResetForm
from .permissions import can_manage_settings, can_manage_staff, can_view_audit_of_staff


class LoginView(auth_views.LoginView):
    template_name = "org/login.html"
    authentication_form = EmailLoginForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("org:login")


class PasswordResetView(auth_views.PasswordResetView):
    form_class = StaffPasswordResetForm
    template_name = "org/password_reset.html"
    email_template_name = "org/email/password_reset.txt"
    subject_template_name = "org/email/password_reset_subject.txt"
    success_url = reverse_lazy("org:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "org/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "org/password_reset_confirm.html"
    success_url = reverse_lazy("org:password-reset-complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "org/password_reset_complete.html"


def language_set(request):
    """Switch the interface language: stored on the user when signed in, and in a cookie."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    language = request.POST.get("language", "")
    nxt = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
        nxt = "/"
    response = redirect(nxt)
    if language not in dict(settings.LANGUAGES):
        messages.error(request, _("不支持的语言。"))
        return response
    if request.user.is_authenticated and getattr(request, "tenant", None) is not None \
            and connection.schema_name != "public":
        services.user_set_language(user=request.user, language=language)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600,
                        samesite="Lax")
    return response


@login_required
def staff_list(request):
    search = request.GET.get("q", "").strip()
    staff = selectors.staff_list(actor=request.user, search=search)
    return render(request, "org/staff_list.html", {
        "staff": staff[:500], "q": search, "can_manage": can_manage_staff(request.user),
    })


@login_required
def staff_invite(request):
    if not can_manage_staff(request.user):
        raise PermissionDenied
    form = StaffForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.staff_invite(actor=request.user, base_url=request.build_absolute_uri("/"),
                                         **form.service_kwargs())
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("已邀请 %(name)s，邀请邮件已发送到 %(email)s。")
                             % {"name": user.full_name, "email": user.email})
            return redirect("org:staff-detail", user_id=user.pk)
    return render(request, "org/staff_form.html", {"form": form, "inviting": True})


@login_required
def staff_detail(request, user_id: int):
    try:
        staff = selectors.staff_get(actor=request.user, user_id=user_id)
    except Exception:
        raise Http404 from None
    can_manage = can_manage_staff(request.user)
    form = None
    if can_manage:
        initial = {
            "email": staff.email, "full_name": staff.full_name, "title": staff.title,
            "phone": staff.phone, "language": staff.language, "department_id": staff.department_id,
            "region_id": staff.region_id, "role_codes": [r.code for r in staff.roles.all()],
            "version": staff.version,
        }
        form = StaffForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.staff_update(actor=request.user, user_id=staff.pk,
                                      version=form.cleaned_data.get("version"), **form.service_kwargs())
            except services.StaleVersion:
                messages.error(request, _("该员工资料已被他人修改，请刷新后重试。"))
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("已保存。"))
                return redirect("org:staff-detail", user_id=staff.pk)
    elif request.method == "POST":
        raise PermissionDenied
    trail = audit_trail_for(instance=staff) if can_view_audit_of_staff(request.user, staff) else None
    return render(request, "org/staff_detail.html", {
        "staff": staff, "form": form, "can_manage": can_manage, "trail": trail,
    })


@login_required
@require_POST
def staff_set_active(request, user_id: int, active: bool):
    try:
        staff = selectors.staff_get(actor=request.user, user_id=user_id)
    except Exception:
        raise Http404 from None
    try:
        if active:
            services.staff_reactivate(actor=request.user, user_id=staff.pk)
            messages.success(request, _("已恢复 %(name)s 的账号。") % {"name": staff.full_name})
        else:
            services.staff_deactivate(actor=request.user, user_id=staff.pk,
                                      reason=request.POST.get("reason", ""))
            messages.success(request, _("已停用 %(name)s 的账号，其客户与记录均已保留。") % {"name": staff.full_name})
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(reverse("org:staff-detail", kwargs={"user_id": staff.pk}))


@login_required
def settings_page(request):
    from tenants.modes import MODES

    if not (can_manage_settings(request.user) or can_manage_staff(request.user)):
        raise PermissionDenied
    config = selectors.tenant_config_get()
    tenant = request.tenant
    return render(request, "org/settings.html", {
        "config": config,
        "modes": [MODES[k] for k in tenant.modes if k in MODES],
        "other_modes": [m for k, m in MODES.items() if k not in tenant.modes],
        "can_manage_settings": can_manage_settings(request.user),
        "departments": selectors.department_tree(),
        "regions": selectors.region_tree(),
        "roles": selectors.role_list(),
        "admin_links": _admin_links(request.user),
    })


# Settings of other modules, linked from the settings page when installed and allowed:
# (url name, label, permission code).
ADMIN_LINKS = (
    ("approvals:policies", gettext_lazy("审批流程"), Permission.MANAGE_APPROVAL_POLICIES),
    ("catalog:products", gettext_lazy("产品、价格表与仓库"), Permission.MANAGE_CATALOG),
    ("integrations:index", gettext_lazy("系统集成（Webhook 与 ERP 接口）"), Permission.MANAGE_INTEGRATIONS),
)


def _admin_links(user) -> list[tuple[str, str]]:
    from .permissions import is_tenant_admin

    links = [(reverse("org:billing"), str(gettext_lazy("套餐与账单")))] if is_tenant_admin(user) else []
    for url_name, label, permission in ADMIN_LINKS:
        if not user.has_qiao_perm(permission):
            continue
        try:
            links.append((reverse(url_name), str(label)))
        except NoReverseMatch:
            continue  # the module is not installed
    return links


@login_required
@require_POST
def mode_enable(request):
    """The tenant admin adds another business mode (its modules, stages and policies)."""
    from tenants.services import tenant_enable_mode

    if not can_manage_settings(request.user):
        raise PermissionDenied
    try:
        tenant_enable_mode(tenant_id=request.tenant.pk, mode=request.POST.get("mode", ""),
                           actor=request.user.email, actor_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已启用新的业务模式。"))
    return redirect("org:settings")


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = field if field in form.fields else (f"{field}_id" if f"{field}_id" in form.fields else None)
            if field == "roles":
                target = "role_codes"
            for message in errors:
                form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)
