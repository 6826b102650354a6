"""Who may use the console: an active public-schema user with is_staff who has passed the
second factor (TOTP) in this session. Tenant users never get here: the console exists only
in the public host's URLs, and a session of a tenant schema means nothing in the public one."""

from __future__ import annotations

from functools import wraps
from urllib.parse import quote

from django.db import connection
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

SESSION_VERIFIED = "console_otp_user"
SESSION_PENDING = "console_pending"
SESSION_SECONDS = 8 * 3600  # an operator signs in again after a working day


def operator_verified(request) -> bool:
    user = getattr(request, "user", None)
    return bool(
        user is not None and user.is_authenticated and user.is_active and user.is_staff
        and connection.schema_name == "public"
        and request.session.get(SESSION_VERIFIED) == user.pk
    )


def refused(request, *, status: int = 403):
    return render(request, "console/refused.html", {
        "message": _("只有完成两步验证的运营人员才能使用运营控制台。"),
        "login_url": reverse("console:login"),
    }, status=status)


def operator_required(view):
    """Pages: not verified → the sign-in (then back). Actions (POST…): not verified → 403,
    nothing done."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if connection.schema_name != "public":  # belt and braces: only the public URLconf has it
            raise Http404
        if not operator_verified(request):
            if request.method in ("GET", "HEAD") and not request.htmx:
                return redirect(f"{reverse('console:login')}?next={quote(request.get_full_path())}")
            return refused(request)
        return view(request, *args, **kwargs)

    return wrapped
