"""Host routing: which tenant a request is for, and what its status allows."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _
from django_tenants.middleware.main import TenantMainMiddleware

from .enums import TenantStatus
from .selectors import tenant_for_host

SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}
# Writes a suspended tenant still accepts: signing in and out, choosing a language.
# A suspended (unpaid or cancelled) tenant can still sign in, and its admin can still pay,
# resubscribe and export its data from the billing page; an operator's support session ends.
SUSPENDED_WRITE_EXEMPT = ("/login/", "/logout/", "/api/v1/auth/token", "/i18n/", "/password-reset/",
                          "/settings/billing/", "/support-access/")


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def _page(request, *, status: int, code: str, title: str, message: str, tenant=None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": message, "code": code}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    html = render_to_string("tenants/status_page.html", {
        "status_code": status, "title": title, "message": message, "tenant": tenant,
        "base_domain": settings.BASE_DOMAIN,
    }, request=None)
    return HttpResponse(html, status=status)


def _language_for(request, tenant) -> str:
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    supported = dict(settings.LANGUAGES)
    if cookie in supported:
        return cookie
    if tenant is not None and tenant.language in supported:
        return tenant.language
    lang = translation.get_language_from_request(request)
    return lang if lang in supported else settings.LANGUAGE_CODE


class TenantRoutingMiddleware(TenantMainMiddleware):
    """django-tenants' middleware with a cached lookup, friendly pages for unknown hosts,
    and the tenant's status enforced: provisioning 503, closed 410, suspended read-only."""

    def __call__(self, request):
        response = self.process_request(request)
        if response is None:
            response = self.get_response(request)
        return response

    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            hostname = None
        tenant = tenant_for_host(hostname) if hostname else None
        if tenant is None or tenant.is_template or tenant.status == TenantStatus.FAILED:
            with translation.override(_language_for(request, None)):
                return _page(request, status=404, code="tenant_not_found",
                             title=_("找不到这个地址"),
                             message=_("%(host)s 上没有 Qiao 公司空间。请检查网址是否正确。")
                             % {"host": hostname or "?"})
        with translation.override(_language_for(request, tenant)):
            if tenant.status == TenantStatus.AWAITING_PAYMENT:
                return _page(request, status=402, code="tenant_awaiting_payment",
                             title=_("等待付款"), tenant=tenant,
                             message=_("%(name)s 的空间将在付款完成后开通。") % {"name": tenant.name})
            if tenant.status == TenantStatus.PROVISIONING:
                response = _page(request, status=503, code="tenant_provisioning",
                                 title=_("正在开通"), tenant=tenant,
                                 message=_("%(name)s 的空间正在开通，请稍候刷新。") % {"name": tenant.name})
                response["Retry-After"] = "5"
                return response
            if tenant.status == TenantStatus.CLOSED:
                return _page(request, status=410, code="tenant_closed", title=_("空间已关闭"),
                             tenant=tenant,
                             message=_("%(name)s 的 Qiao 空间已关闭。如需导出数据，请联系平台客服。")
                             % {"name": tenant.name})
            if (tenant.status == TenantStatus.SUSPENDED and request.method not in SAFE_METHODS
                    and not request.path.startswith(SUSPENDED_WRITE_EXEMPT)):
                reason = tenant.status_reason or _("账户已暂停")
                return _page(request, status=423, code="tenant_suspended", title=_("空间已暂停，只读"),
                             tenant=tenant,
                             message=_("%(name)s 的空间已暂停（%(reason)s），只能查看，不能修改。")
                             % {"name": tenant.name, "reason": reason})
        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)
        return None
