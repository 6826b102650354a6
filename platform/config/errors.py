"""Friendly error pages, JSON under /api/."""

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


def _respond(request, status: int, code: str, message: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": code}, status=status,
                            json_dumps_params={"ensure_ascii": False})
    return render(request, "error.html", {"status_code": status, "message": message}, status=status)


def not_found(request, exception=None):
    return _respond(request, 404, "not_found", _("页面不存在，或你无权查看。"))


def forbidden(request, exception=None):
    return _respond(request, 403, "permission_denied", str(exception) if exception and str(exception) else _("你没有权限执行此操作。"))


def server_error(request):
    return _respond(request, 500, "server_error", _("服务器出错了，我们已记录此问题。"))
