"""The operator console (public host). Operators are public-schema users with is_staff."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from tenants.enums import TenantStatus
from tenants.models import Tenant
from tenants.modes import MODES
from tenants.selectors import tenant_base_url
from tenants.services import tenant_create_async

from .forms import TenantCreateForm

operator_required = staff_member_required(login_url="/admin/login/")


@operator_required
def dashboard(request):
    tenants = Tenant.objects.real().order_by("-created_at")
    status_filter = request.GET.get("status", "")
    if status_filter:
        tenants = tenants.filter(status=status_filter)
    mode_filter = request.GET.get("mode", "")
    if mode_filter:
        tenants = tenants.filter(modes__contains=[mode_filter])
    q = request.GET.get("q", "").strip()
    if q:
        tenants = tenants.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(admin_email__icontains=q))
    counts = dict(Tenant.objects.real().values_list("status").annotate(n=Count("id")))
    by_status = [(label, counts[value]) for value, label in TenantStatus.choices if counts.get(value)]
    return render(request, "console/dashboard.html", {
        "tenants": tenants[:200], "by_status": by_status, "modes": MODES.values(), "q": q,
        "status_filter": status_filter, "mode_filter": mode_filter,
        "statuses": TenantStatus.choices,
    })


@operator_required
def tenant_new(request):
    form = TenantCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            tenant = tenant_create_async(actor=request.user.email, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for message in errors:
                    form.add_error(field if field in form.fields else None, message)
        else:
            messages.success(request, _("已提交开通：%(name)s") % {"name": tenant.name})
            return redirect("console:tenant", tenant_id=tenant.pk)
    return render(request, "console/tenant_new.html", {"form": form})


@operator_required
def tenant_detail(request, tenant_id: int):
    tenant = get_object_or_404(Tenant.objects.real(), pk=tenant_id)
    context = {"t": tenant, "events": tenant.events.all()[:50], "url": tenant_base_url(tenant)}
    if request.htmx:  # the status panel polls itself while provisioning runs
        return render(request, "console/_tenant_status.html", context)
    return render(request, "console/tenant_detail.html", context)
