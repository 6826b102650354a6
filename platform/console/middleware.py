"""The Django admin on the public host is for operators too: the same second factor guards it."""

from django.db import connection
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .auth import operator_verified

ADMIN_PREFIX = "/admin/"
ADMIN_OPEN = ("/admin/login/", "/admin/logout/", "/admin/jsi18n/")


class ConsoleAdminGuardMiddleware:
    """Every admin page needs an operator who passed the console's TOTP in this session; a
    password-only sign-in through the admin's own form reaches nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (connection.schema_name == "public" and request.path.startswith(ADMIN_PREFIX)
                and not request.path.startswith(ADMIN_OPEN) and not operator_verified(request)):
            return redirect(f"{reverse('console:login', urlconf=getattr(request, 'urlconf', None))}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
