from django.conf import settings
from django.db import connection
from django.http import Http404, HttpResponseRedirect
from django.utils import translation

from .enums import UserKind


def _accept_language(request) -> str | None:
    if not request.headers.get("Accept-Language"):
        return None
    lang = translation.get_language_from_request(request)
    return lang if lang in dict(settings.LANGUAGES) else None


def resolve_language(request, user=None) -> str:
    """The user's own choice, else the language cookie, else (for API clients) the
    Accept-Language header, else the tenant's default. Browsers always send
    Accept-Language, so for pages the tenant's default ranks above it."""
    supported = dict(settings.LANGUAGES)
    user = user if user is not None else getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and user.language in supported:
        return user.language
    cookie = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    if cookie in supported:
        return cookie
    if request.path.startswith("/api/") and (accept := _accept_language(request)):
        return accept
    tenant = getattr(connection, "tenant", None)
    tenant_lang = getattr(tenant, "language", None)
    if tenant_lang in supported and getattr(tenant, "schema_name", "public") != "public":
        return tenant_lang
    accept = translation.get_language_from_request(request)
    return accept if accept in supported else settings.LANGUAGE_CODE


class LanguageMiddleware:
    """Activates the language for the request (runs after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = resolve_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", translation.get_language())
        translation.deactivate()
        return response


PORTAL_PREFIXES = ("/portal/", "/api/v1/portal/")
PARTNER_ALSO_ALLOWED = ("/i18n/setlang/", "/static/", "/health", "/support-access/")


class PartnerBoundaryMiddleware:
    """Partner users (kind "partner") reach only the partner portal: every other URL of a tenant
    answers 404 to them, fail-closed, whatever the view does (the root redirects to the portal).
    API tokens are checked again by the staff API's permission (crm.org.api.base), since DRF
    authenticates them inside the view."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "kind", UserKind.STAFF) != UserKind.STAFF:
            path = request.path
            if not path.startswith(PORTAL_PREFIXES + PARTNER_ALSO_ALLOWED):
                if path == "/" and request.method in ("GET", "HEAD"):
                    return HttpResponseRedirect("/portal/")
                raise Http404("not a partner URL")
        return self.get_response(request)
