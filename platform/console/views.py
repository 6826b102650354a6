"""The operator console (public host). Operators are public-schema users with is_staff."""

from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Count
from django.shortcuts import render

from tenants.models import Tenant
from tenants.modes import MODES


@staff_member_required(login_url="/admin/login/")
def dashboard(request):
    tenants = Tenant.objects.real().order_by("-created_at")
    status_filter = request.GET.get("status", "")
    if status_filter:
        tenants = tenants.filter(status=status_filter)
    q = request.GET.get("q", "").strip()
    if q:
        tenants = tenants.filter(name__icontains=q) | tenants.filter(slug__icontains=q)
    by_status = dict(Tenant.objects.real().values_list("status").annotate(n=Count("id")))
    return render(request, "console/dashboard.html", {
        "tenants": tenants[:200], "by_status": by_status, "modes": MODES, "q": q,
        "status_filter": status_filter,
    })
