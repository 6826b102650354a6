"""Support access, the tenant side: an operator of the console signs in as one of this
tenant's users for a limited time, with a stated reason.

The console (public host) grants it and sends the operator's browser here with a one-time
token (``support_token_make``): signed with django.core.signing, valid ``TOKEN_MAX_AGE``
seconds, usable once (a Redis key per token) and only on the tenant it names. Entering writes
this tenant's own audit trail, marks the session (operator, reason, expiry) and limits its
life; ``SupportAccessMiddleware`` ends it at the expiry, tags every audit row written meanwhile
``via="operator"`` and reports each page to the console's operator log; the banner on every
page (``support_banner``) says who acts as whom, why, until when, with a button to end it.

This module never imports the console (the domain does not depend on the host's web layer):
it tells the console what happened through the ``support_access_event`` signal."""

from __future__ import annotations

import datetime
import secrets
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.signals import user_logged_out
from django.core import signing
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.dispatch import Signal, receiver
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.audit.context import audit_context
from crm.audit.services import audit_entries_save, audit_entry_build

from .enums import UserKind
from .models import User
from .web import client_ip

TOKEN_SALT = "qiao.support-access.v1"
TOKEN_MAX_AGE = 60  # seconds between the console's redirect and the tenant host's answer
MAX_MINUTES = 60
SESSION_KEY = "support_access"
SESSION_GRACE_SECONDS = 300
AUTH_BACKEND = "crm.org.auth.EmailBackend"

# event: "signed_in" | "page" | "ended"; session_id; schema_name; and per event: path, method,
# ip (page), end_reason ("ended" | "expired" | "logged_out").
support_access_event = Signal()


class SupportAccessRefused(Exception):
    """The token is forged, expired, used, for another tenant, or names no active user."""


# -- the token (made by the console, checked here) -----------------------------------------------
def support_token_make(*, session_id: int, schema_name: str, user_id: int, operator_email: str,
                       operator_name: str, reason: str, expires_at: datetime.datetime) -> str:
    return signing.dumps({
        "sid": session_id, "schema": schema_name, "uid": user_id, "op": operator_email,
        "opn": operator_name, "r": reason, "exp": int(expires_at.timestamp()),
        "n": secrets.token_urlsafe(16),
    }, salt=TOKEN_SALT, compress=True)


def support_token_read(token: str, *, schema_name: str) -> dict:
    """The token's content if it is genuine, fresh, for this tenant and not used before;
    marks it used (atomically: two requests racing with one token, one wins)."""
    try:
        data = signing.loads(token or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise SupportAccessRefused(_("客服代登录链接已过期（有效期 %(s)s 秒），请回到运营控制台重新发起。")
                                   % {"s": TOKEN_MAX_AGE}) from None
    except signing.BadSignature:
        raise SupportAccessRefused(_("客服代登录链接无效。")) from None
    if data.get("schema") != schema_name:
        raise SupportAccessRefused(_("客服代登录链接无效。"))
    if int(data.get("exp") or 0) <= time.time():
        raise SupportAccessRefused(_("这次客服代登录已到期。"))
    if support_session_revoked(data.get("sid")):
        raise SupportAccessRefused(_("这次客服代登录已被运营控制台撤销。"))
    if not cache.add(f"support-token-used:{data['n']}", 1, timeout=TOKEN_MAX_AGE * 2):
        raise SupportAccessRefused(_("客服代登录链接只能使用一次，请回到运营控制台重新发起。"))
    return data


def _revoked_key(session_id) -> str:
    return f"support-revoked:{session_id}"


def support_session_revoked_set(*, session_id: int, schema_name: str) -> None:
    """The console ended this support session: the tenant host signs it out at its next request
    (kept a little longer than any support session can last). Cache keys carry the schema: the
    mark is made in the tenant's, where the tenant host reads it."""
    from django_tenants.utils import schema_context

    with schema_context(schema_name):
        cache.set(_revoked_key(session_id), 1, timeout=(MAX_MINUTES * 60) + SESSION_GRACE_SECONDS)


def support_session_revoked(session_id) -> bool:
    return bool(session_id) and bool(cache.get(_revoked_key(session_id)))


# -- whom an operator may act as ---------------------------------------------------------------
def support_access_candidates(*, search: str = "", limit: int = 50) -> list[User]:
    """Active users of the current tenant (staff and partner users), for the console's picker."""
    qs = User.objects.filter(is_active=True)
    search = (search or "").strip()
    if search:
        qs = qs.filter(Q(full_name__icontains=search) | Q(email__icontains=search.lower()))
    return list(qs.order_by("kind", "full_name", "id")[:limit])


def support_access_target(*, user_id) -> User | None:
    return User.objects.filter(pk=user_id, is_active=True).first() if str(user_id).isdigit() else None


# -- entering and leaving ------------------------------------------------------------------------
def _audit(*, user: User, action: str, data: dict, changes: dict | None = None) -> None:
    """A row in this tenant's audit trail, on the user acted as, naming the operator."""
    entry = audit_entry_build(actor=None, instance=user, action=action, changes=changes,
                              note=data.get("reason") or data.get("r") or "")
    entry.actor_label = f"{data.get('operator') or data.get('op')} ({_('平台运营')})"[:254]
    entry.via = "operator"
    audit_entries_save([entry])


def support_access_begin(request, *, token: str) -> User:
    """Check the token, sign the browser in as the user it names, and mark the session."""
    data = support_token_read(token, schema_name=connection.schema_name)
    user = support_access_target(user_id=data["uid"])
    if user is None:
        raise SupportAccessRefused(_("要代登录的用户不存在或已停用。"))
    expires_at = int(data["exp"])
    marker = {"session_id": data["sid"], "operator": data["op"], "operator_name": data.get("opn", ""),
              "reason": data["r"], "expires_at": expires_at, "user_id": user.pk}
    last_login = user.last_login
    with transaction.atomic():
        _audit(user=user, action="support_start", data=marker,
               changes={"expires_at": {"old": None, "new": _when(expires_at).isoformat()}})
        if request.user.is_authenticated:
            logout(request)
        login(request, user, backend=AUTH_BACKEND)
        # Signing in as someone is not their sign-in: keep "last login" theirs.
        User.objects.filter(pk=user.pk).update(last_login=last_login)
    request.session[SESSION_KEY] = marker
    # The middleware ends the session at the expiry (and says so); the session itself lives a
    # little longer so that it can, then dies on its own if the browser never comes back.
    request.session.set_expiry(max(1, expires_at - int(time.time())) + SESSION_GRACE_SECONDS)
    support_access_event.send(sender=User, event="signed_in", session_id=data["sid"],
                              schema_name=connection.schema_name, ip=client_ip(request))
    return user


def support_access_end(request, *, reason: str) -> dict | None:
    """Sign out of a support session (the banner's button, the expiry or a sign-out)."""
    marker = request.session.pop(SESSION_KEY, None)
    if not marker:
        return None
    _ended(request, marker=marker, reason=reason)
    logout(request)
    return marker


def _ended(request, *, marker: dict, reason: str) -> None:
    user = support_access_target(user_id=marker["user_id"])
    if user is not None:
        _audit(user=user, action="support_end", data=marker, changes={"end": {"old": None, "new": reason}})
    support_access_event.send(sender=User, event="ended", session_id=marker["session_id"],
                              schema_name=connection.schema_name, end_reason=reason, ip=client_ip(request))


@receiver(user_logged_out)
def _signed_out_during_support(sender, request, user, **kwargs):
    """The ordinary sign-out (/logout/) during a support session ends it too, on the record."""
    session = getattr(request, "session", None) if request is not None else None
    marker = session.pop(SESSION_KEY, None) if session is not None else None
    if marker and connection.schema_name != "public":
        _ended(request, marker=marker, reason="logged_out")


def _when(epoch: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC)


def support_session_of(request) -> dict | None:
    session = getattr(request, "session", None)
    return session.get(SESSION_KEY) if session is not None else None


def _console_url(path_: str = "/console/") -> str:
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}{path_}"


# -- views ---------------------------------------------------------------------------------------
def support_access_enter(request):
    """GET /support-access/?token=…: the console's redirect lands here."""
    try:
        user = support_access_begin(request, token=request.GET.get("token", ""))
    except SupportAccessRefused as exc:
        return render(request, "org/support_access/refused.html", {"message": str(exc)}, status=403)
    return HttpResponseRedirect("/portal/" if user.kind == UserKind.PARTNER else "/")


@require_POST
def support_access_leave(request):
    """POST /support-access/end/: the banner's "end support session" button."""
    marker = support_access_end(request, reason="ended")
    if marker is None:
        return HttpResponseRedirect("/")
    tenant_id = getattr(getattr(request, "tenant", None), "pk", None)
    return render(request, "org/support_access/ended.html", {
        "console_url": _console_url(f"/console/tenants/{tenant_id}/" if tenant_id else "/console/")})


urlpatterns = [
    path("support-access/", support_access_enter, name="support-access"),
    path("support-access/end/", support_access_leave, name="support-access-end"),
]


# -- the session's limits and the banner ---------------------------------------------------------
# What an operator may not do as the user: anything that outlives the session or takes the
# company's data away (billing, the full data export, integration secrets and ERP keys, API
# tokens, passwords, new accounts). Paths of the tenant host; reading the billing page is fine.
SUPPORT_DENIED_ANY = ("/settings/billing/export/", "/password-reset/", "/reset/")
SUPPORT_DENIED_WRITES = ("/settings/billing/", "/integrations/", "/staff/invite/", "/api/v1/auth/token",
                         "/api/v1/erp-clients", "/api/v1/webhook-endpoints")
SUPPORT_DENIED_CREATES = ("/api/v1/staff/", "/api/v1/staff")  # the API's staff invitation


def support_access_denied(method: str, path: str) -> bool:
    if path.startswith(SUPPORT_DENIED_ANY):
        return True
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    return path.startswith(SUPPORT_DENIED_WRITES) or (method == "POST" and path in SUPPORT_DENIED_CREATES)


def _denied(request):
    message = _("客服代登录期间不能执行此操作（账单与付款、数据导出、集成密钥、API 令牌、密码与新账号），请让客户本人操作。")
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "support_access_restricted"}, status=403)
    return render(request, "org/support_access/refused.html", {"message": message}, status=403)


class SupportAccessMiddleware:
    """On a tenant host, for a support session: end it at its expiry (signed out, told why),
    tag the audit rows written meanwhile ``via="operator"``, and report every page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        marker = support_session_of(request) if connection.schema_name != "public" else None
        if not marker:
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.pk != marker.get("user_id"):
            request.session.pop(SESSION_KEY, None)  # a stale mark: never act on it
            return self.get_response(request)
        if int(marker["expires_at"]) <= time.time():
            support_access_end(request, reason="expired")
            messages.info(request, _("客服代登录已到期，已自动退出。"))
            return HttpResponseRedirect("/login/")
        if support_session_revoked(marker.get("session_id")):
            support_access_end(request, reason="revoked")
            messages.info(request, _("客服代登录已被运营控制台撤销，已自动退出。"))
            return HttpResponseRedirect("/login/")
        if request.path != "/support-access/end/":
            support_access_event.send(sender=User, event="page", session_id=marker["session_id"],
                                      schema_name=connection.schema_name, path=request.path[:300],
                                      method=request.method, ip=client_ip(request))
        if support_access_denied(request.method, request.path):
            return _denied(request)
        with audit_context(via="operator"):
            return self.get_response(request)


def support_banner(request):
    """Template context: the support session of this request, for the banner in base.html."""
    marker = support_session_of(request) if connection.schema_name != "public" else None
    if not marker:
        return {}
    return {"support_session": {
        **marker,
        "until": timezone.localtime(_when(marker["expires_at"])),
    }}
