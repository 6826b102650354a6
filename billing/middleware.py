"""Module gating on the tenant host: a URL whose module (billing.entitlements.module_for_path)
is not in the tenant's plan answers 403, as a page or as JSON under /api/ (and for clients that
ask for JSON), naming the module and how to upgrade. Core modules, sign-in, settings and the
billing page are never gated. Runs after authentication and language selection."""

from __future__ import annotations

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name

from .entitlements import EntitlementError, module_check, module_for_path


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


class ModuleEntitlementMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if getattr(connection, "schema_name", get_public_schema_name()) != get_public_schema_name():
            module = module_for_path(request.path)
            if module is not None:
                try:
                    module_check(module, actor=getattr(request, "user", None))
                except EntitlementError as exc:
                    return self.refuse(request, exc)
        return self.get_response(request)

    @staticmethod
    def refuse(request, exc: EntitlementError):
        if _wants_json(request):
            return JsonResponse({"detail": str(exc), "code": exc.code, "module": exc.module,
                                 "plan": exc.plan_code}, status=403, json_dumps_params={"ensure_ascii": False})
        portal = request.path.startswith("/portal/")
        return render(request, "org/billing/module_unavailable.html", {
            "status_code": 403, "message": str(exc), "module": exc.module,
            "title": _("套餐未包含此模块"),
            "base_template": "portal/base.html" if portal else "base.html",
        }, status=403)
