"""The duplicate review page: groups found by the whole-tenant scan, merge, undo."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import dedup
from .models import Customer, MergeRecord


@login_required
def review(request):
    if not dedup.can_clean_up(request.user):
        raise PermissionDenied
    return render(request, "customers/dedup_review.html", {
        "groups": dedup.duplicate_groups_with_customers(actor=request.user, limit=200),
        "merges": dedup.merge_history(actor=request.user),
    })


@login_required
@require_POST
def merge(request):
    try:
        survivor_id = int(request.POST.get("survivor_id", ""))
        merged_id = int(request.POST.get("merged_id", ""))
    except ValueError:
        messages.error(request, _("请选择要保留的客户和要合并的客户。"))
        return redirect("customers_dedup:review")
    try:
        dedup.customer_merge(actor=request.user, survivor_id=survivor_id, merged_id=merged_id)
    except Customer.DoesNotExist:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已合并，可在下方撤销。"))
    return redirect("customers_dedup:review")


@login_required
@require_POST
def undo(request, merge_id: int):
    try:
        dedup.customer_merge_undo(actor=request.user, merge_id=merge_id)
    except MergeRecord.DoesNotExist:
        raise Http404 from None
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已撤销合并。"))
    return redirect("customers_dedup:review")
