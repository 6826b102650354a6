"""API plumbing shared by every audience: the error format, and Django's own exceptions
turned into the right 4xx instead of a 500."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def _django_validation_detail(exc: DjangoValidationError):
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for e in errors for m in e.messages]
                for field, errors in exc.error_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def exception_handler(exc, context):
    from crm.org.services import StaleVersion

    if isinstance(exc, DjangoValidationError) and getattr(exc, "code", None) == "plan_limit":
        # billing.entitlements.EntitlementError: the plan's limit, with what a client needs to
        # say so (the field keeps the message, as for any validation error)
        body = {**_django_validation_detail(exc), "detail": str(exc), "code": "plan_limit",
                "limit": getattr(exc, "limit", None), "used": getattr(exc, "used", None),
                "plan": getattr(exc, "plan_code", "")}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(_django_validation_detail(exc))
    elif isinstance(exc, StaleVersion):
        return Response({"detail": _("记录已被他人修改，请刷新后重试。"), "code": "stale_version",
                         "current_version": exc.current}, status=status.HTTP_412_PRECONDITION_FAILED)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("未找到。"))
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data.setdefault("code", getattr(exc, "default_code", "error"))
    return response
