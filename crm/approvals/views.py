"""Staff web pages of the approval engine: the inbox (mine and delegated), a request with its
chain as a timeline and the approve / reject / recall forms, my submissions, the policy
editor (tenant admins) and delegation. Thin: selectors in, services out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.audit.selectors import audit_trail_for
from crm.org.selectors import role_list, staff_list
from crm.org.services import StaleVersion

from . import registry, selectors, services
from .enums import (
    ApproverKind,
    AssignmentStatus,
    Decision,
    RequestStatus,
    ScopeRestriction,
    StepMode,
)
from .forms import DelegationForm, doc_type_choices
from .permissions import actionable_assignment, can_manage_approval_policies, can_recall_request

EDITOR_FIELDS = ("name_zh", "name_en", "mode", "approver_kind", "role_code", "scope", "user_id", "min_amount",
                 "max_amount", "min_discount_pct", "customer_is_new", "partner_tiers", "credit_over_limit")


def _errors_of(exc: ValidationError) -> list[str]:
    if hasattr(exc, "error_dict"):
        return [str(m) for errors in exc.error_dict.values() for e in errors for m in e.messages]
    return [str(m) for m in exc.messages]


def _nav(request, current: str) -> dict:
    return {"subnav": current, "can_manage_policies": can_manage_approval_policies(request.user)}


def _doc_link(approval) -> str:
    doc = registry.get(approval.doc_type)
    try:
        return doc.url(approval.object_id) if doc else ""
    except Exception:  # the document app's link is a nicety; never a 500
        return ""


# -- inbox and submissions -------------------------------------------------------------------
@login_required
def inbox(request):
    doc_type = request.GET.get("doc_type", "")
    if doc_type and doc_type not in dict(doc_type_choices()):
        doc_type = ""
    page = selectors.approval_inbox_for(actor=request.user, doc_type=doc_type, cursor=request.GET.get("cursor"))
    return render(request, "approvals/inbox.html", {
        **_nav(request, "inbox"), "page": page, "doc_type": doc_type, "doc_types": doc_type_choices(),
        "labels": {key: label for key, label in doc_type_choices()}})


@login_required
def mine(request):
    wanted = request.GET.get("status", "")
    if wanted not in RequestStatus.values:
        wanted = ""
    page = selectors.approval_submissions_for(actor=request.user, status=wanted, cursor=request.GET.get("cursor"))
    for approval in page.items:
        approval.submitter = request.user
    return render(request, "approvals/mine.html", {
        **_nav(request, "mine"), "page": page, "status": wanted, "statuses": RequestStatus.choices})


# -- one request -----------------------------------------------------------------------------
def _approval_or_404(request, request_id):
    try:
        return selectors.approval_request_get_for_actor(actor=request.user, request_id=request_id)
    except ObjectDoesNotExist:
        raise Http404 from None


@login_required
def detail(request, request_id: int):
    approval = selectors.approval_request_detail(request=_approval_or_404(request, request_id))
    steps = list(approval.steps.all())
    active = next((s for s in steps if s.position == approval.current_position), None)
    assignment = None
    if active is not None:
        delegators = selectors.delegator_ids_for(actor=request.user, doc_type=approval.doc_type)
        assignment = actionable_assignment(request.user, approval, list(active.assignments.all()), delegators)
    decided = any(a.status in (AssignmentStatus.APPROVED, AssignmentStatus.REJECTED)
                  for s in steps for a in s.assignments.all())
    language = get_language() or ""
    return render(request, "approvals/detail.html", {
        **_nav(request, ""), "approval": approval, "steps": steps, "active": active, "assignment": assignment,
        "step_names": {s.position: s.name(language) for s in steps},
        "can_recall": can_recall_request(request.user, approval, decided=decided),
        "doc_label": registry.label_of(approval.doc_type), "doc_link": _doc_link(approval),
        "trail": audit_trail_for(instance=approval, limit=50)})


@login_required
@require_POST
def decide(request, request_id: int):
    _approval_or_404(request, request_id)
    decision = request.POST.get("decision", "")
    step = request.POST.get("step") or None
    try:
        services.approval_decide(actor=request.user, request_id=request_id, decision=decision,
                                 comment=request.POST.get("comment", ""), step=step)
    except PermissionDenied as exc:
        messages.error(request, str(exc) or _("你不能处理这个审批。"))
    except ValidationError as exc:
        for message in _errors_of(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("已同意。") if decision == Decision.APPROVE else _("已驳回。"))
        if request.POST.get("next") == "inbox":
            return redirect("approvals:inbox")
    return redirect("approvals:detail", request_id=request_id)


@login_required
@require_POST
def recall(request, request_id: int):
    _approval_or_404(request, request_id)
    try:
        services.approval_recall(actor=request.user, request_id=request_id)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    except ValidationError as exc:
        for message in _errors_of(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("已撤回。"))
    return redirect("approvals:detail", request_id=request_id)


# -- policies (tenant admins) ----------------------------------------------------------------
def _require_policy_admin(request) -> None:
    if not can_manage_approval_policies(request.user):
        raise PermissionDenied(_("你没有管理审批流程的权限。"))


@login_required
def policies(request):
    _require_policy_admin(request)
    language = get_language() or ""
    roles = {r.code: r.name(language) for r in role_list()}
    return render(request, "approvals/policies.html", {
        **_nav(request, "policies"), "policies": services.approval_policies_ensure(), "roles": roles,
        "labels": {d.key: str(d.label) for d in registry.all_types()}})


def _rows_from_policy(policy) -> list[dict]:
    rows = []
    for s in policy.steps.all():
        rows.append({
            "name_zh": s.name_zh, "name_en": s.name_en, "mode": s.mode, "approver_kind": s.approver_kind,
            "role_code": s.role_code, "scope": s.scope, "user_id": str(s.user_id or ""),
            "min_amount": "" if s.min_amount is None else f"{s.min_amount:.2f}",
            "max_amount": "" if s.max_amount is None else f"{s.max_amount:.2f}",
            "min_discount_pct": "" if s.min_discount_pct is None else f"{s.min_discount_pct:.2f}",
            "customer_is_new": "" if s.customer_is_new is None else str(s.customer_is_new).lower(),
            "partner_tiers": ", ".join(s.partner_tiers or []),
            "credit_over_limit": "" if s.credit_over_limit is None else str(s.credit_over_limit).lower(),
        })
    return rows


def _rows_from_post(post) -> list[dict]:
    try:
        count = min(int(post.get("steps-count", "0")), 20)
    except ValueError:
        count = 0
    return [{name: post.get(f"steps-{i}-{name}", "").strip() for name in EDITOR_FIELDS} for i in range(count)]


def _blank_row() -> dict:
    return {name: "" for name in EDITOR_FIELDS} | {"mode": StepMode.ANY, "approver_kind": ApproverKind.ROLE,
                                                   "scope": ScopeRestriction.NONE}


def _apply_action(rows: list[dict], action: str) -> list[dict]:
    """add / remove-<i> / up-<i> / down-<i>: edit the rows without saving."""
    verb, _sep, index = action.partition("-")
    if verb == "add" and len(rows) < 20:
        return [*rows, _blank_row()]
    if not index.isdigit() or int(index) >= len(rows):
        return rows
    i = int(index)
    rows = list(rows)
    if verb == "remove":
        rows.pop(i)
    elif verb == "up" and i > 0:
        rows[i - 1], rows[i] = rows[i], rows[i - 1]
    elif verb == "down" and i < len(rows) - 1:
        rows[i + 1], rows[i] = rows[i], rows[i + 1]
    return rows


def _service_steps(rows: list[dict]) -> list[dict]:
    steps = []
    for row in rows:
        step = dict(row)
        step["user_id"] = row["user_id"] or None
        if row["approver_kind"] in (ApproverKind.USER, ApproverKind.OWNER):
            step["role_code"] = ""
        if row["approver_kind"] != ApproverKind.USER:
            step["user_id"] = None
        steps.append(step)
    return steps


@login_required
def policy_edit(request, doc_type: str):
    _require_policy_admin(request)
    if registry.get(doc_type) is None:
        raise Http404
    services.approval_policy_default_seed(doc_type=doc_type)  # lazily, on first use
    policy = selectors.approval_policy_get(doc_type=doc_type)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        rows = _rows_from_post(request.POST)
        name = request.POST.get("name", "").strip()
        active = request.POST.get("active") == "on"
        action = request.POST.get("action", "save")
        version = request.POST.get("version", "")
        if action != "save":
            rows = _apply_action(rows, action)
        else:
            try:
                services.approval_policy_save(actor=request.user, doc_type=doc_type, steps=_service_steps(rows),
                                              name=name, active=active,
                                              version=int(version) if version.isdigit() else None)
            except StaleVersion:
                errors.append(_("审批流程已被他人修改，请刷新后重新编辑。"))
                status = 412
            except ValidationError as exc:
                errors.extend(_errors_of(exc))
                status = 400
            else:
                messages.success(request, _("审批流程已保存。进行中的审批仍按提交时的流程进行。"))
                return redirect("approvals:policy-edit", doc_type=doc_type)
    else:
        rows = _rows_from_policy(policy)
        name, active, version = policy.name, policy.active, str(policy.version)
    language = get_language() or ""
    return render(request, "approvals/policy_edit.html", {
        **_nav(request, "policies"), "policy": policy, "doc_type": doc_type,
        "doc_label": registry.label_of(doc_type), "rows": rows, "name": name, "active": active,
        "version": version, "errors": errors,
        "roles": [(r.code, r.name(language)) for r in role_list()],
        "users": [(str(u.pk), u.full_name) for u in staff_list(actor=request.user, include_inactive=False)],
        "modes": StepMode.choices, "kinds": ApproverKind.choices, "scopes": ScopeRestriction.choices,
        "tri": [("", _("不限")), ("true", _("是")), ("false", _("否"))],
        "trail": audit_trail_for(instance=policy, limit=20)}, status=status)


# -- delegation ------------------------------------------------------------------------------
@login_required
def delegations(request):
    admin = can_manage_approval_policies(request.user)
    form = DelegationForm(request.POST or None, actor=request.user, admin=admin)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            from_user = data.get("from_user")
            try:
                services.delegation_set(actor=request.user, to_user_id=data["to_user"].pk,
                                        from_user_id=from_user.pk if from_user else None,
                                        starts_at=data["starts_at"], ends_at=data["ends_at"],
                                        doc_types=data["doc_types"], reason=data["reason"])
            except (ValidationError, PermissionDenied) as exc:
                for message in (_errors_of(exc) if isinstance(exc, ValidationError) else [str(exc)]):
                    form.add_error(None, message)
            else:
                messages.success(request, _("委托已设置。"))
                return redirect("approvals:delegations")
        status = 400
    mine_ = selectors.delegation_list_for(actor=request.user)
    return render(request, "approvals/delegations.html", {
        **_nav(request, "delegations"), "form": form, "given": mine_["given"], "received": mine_["received"],
        "labels": {key: label for key, label in doc_type_choices()}}, status=status)


@login_required
@require_POST
def delegation_end(request, delegation_id: int):
    try:
        services.delegation_end(actor=request.user, delegation_id=delegation_id)
    except ObjectDoesNotExist:
        raise Http404 from None
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("委托已结束。"))
    return redirect(reverse("approvals:delegations"))
