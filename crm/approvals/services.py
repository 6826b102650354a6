"""Write-side operations of the approval engine: policies (save, default seed), submit,
decide (approve / reject), recall, delegation. Keyword-only, transactional, audited; one
service per transition, each locking the request row first (see enums.ALLOWED_TRANSITIONS).
Notifications go out after commit."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.activities.services import notification_create
from crm.audit.services import audit_diff, audit_record
from crm.org.selectors import role_list, tenant_config_get
from crm.org.services import StaleVersion

from . import registry, selectors
from .enums import (
    NOTIFY_DELEGATED,
    NOTIFY_PENDING,
    NOTIFY_RESULT,
    ApproverKind,
    AssignmentStatus,
    Decision,
    DocType,
    RequestStatus,
    ScopeRestriction,
    StepMode,
    StepStatus,
    can_transition,
)
from .models import (
    ApprovalAssignment,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
    Delegation,
    PolicyStep,
)
from .permissions import (
    actionable_assignment,
    can_manage_approval_policies,
    can_recall_request,
    can_set_delegation_for,
)

COMMENT_MAX = 1000
CONDITION_FIELDS = ("min_amount", "max_amount", "min_discount_pct", "customer_is_new", "partner_tiers",
                    "credit_over_limit")
STEP_FIELDS = ("position", "name_zh", "name_en", "mode", "approver_kind", "role_code", "scope", "user_id",
               *CONDITION_FIELDS)
CREDIT_STEP = {"name_zh": "信用超限审批", "name_en": "Credit override", "role_code": "finance"}


class ApprovalConflict(ValidationError):
    """The request is not in a state that allows the operation (already decided, no longer
    the active step, already in approval). A ValidationError, so forms show it; the API
    answers 409."""

    def __init__(self, message, *, code: str):
        super().__init__(message, code=code)


# -- helpers ---------------------------------------------------------------------------------
def _language_of(user) -> str:
    supported = dict(settings.LANGUAGES)
    if getattr(user, "language", "") in supported:
        return user.language
    tenant_lang = getattr(getattr(connection, "tenant", None), "language", None)
    return tenant_lang if tenant_lang in supported else settings.LANGUAGE_CODE


def _require_active(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied(_("只有在职员工可以操作审批。"))


def _doc_type_or_error(doc_type: str) -> registry.DocumentType:
    doc = registry.get(doc_type)
    if doc is None:
        raise ValidationError({"doc_type": _("未知的单据类型“%(type)s”。") % {"type": doc_type}})
    return doc


def _known_doc_type(doc_type: str) -> bool:
    return registry.get(doc_type) is not None or doc_type in DocType.values


def _detail_url(request_id: int) -> str:
    try:
        return reverse("approvals:detail", args=[request_id])
    except NoReverseMatch:  # pragma: no cover - the web pages are always installed
        return ""


def _step_label(step: ApprovalStep, language: str) -> str:
    return step.name(language)


# -- conditions ------------------------------------------------------------------------------
def _dec(value) -> Decimal | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def step_applies(conditions: dict, facts: registry.Facts) -> bool:
    """Whether a policy step applies to a document with these facts: every condition that is
    set must hold (amount at or above ``min_amount`` and below ``max_amount``, discount at or
    above ``min_discount_pct``, customer new or not, partner tier in the list, credit over
    the limit or not)."""
    amount = _dec(facts.amount) or Decimal("0")
    low, high = _dec(conditions.get("min_amount")), _dec(conditions.get("max_amount"))
    if low is not None and amount < low:
        return False
    if high is not None and amount >= high:
        return False
    min_discount = _dec(conditions.get("min_discount_pct"))
    if min_discount is not None and (facts.discount_pct is None or _dec(facts.discount_pct) < min_discount):
        return False
    if conditions.get("customer_is_new") is not None and bool(facts.customer_is_new) != conditions["customer_is_new"]:
        return False
    tiers = conditions.get("partner_tiers") or []
    if tiers and (facts.partner_tier or "") not in tiers:
        return False
    if conditions.get("credit_over_limit") is not None and \
            bool(facts.credit_over_limit) != conditions["credit_over_limit"]:
        return False
    return True


def _conditions_of(step: PolicyStep) -> dict:
    return {
        "min_amount": None if step.min_amount is None else str(step.min_amount),
        "max_amount": None if step.max_amount is None else str(step.max_amount),
        "min_discount_pct": None if step.min_discount_pct is None else str(step.min_discount_pct),
        "customer_is_new": step.customer_is_new,
        "partner_tiers": list(step.partner_tiers or []),
        "credit_over_limit": step.credit_over_limit,
    }


# -- policies --------------------------------------------------------------------------------
def _policy_snapshot(policy: ApprovalPolicy | None) -> dict:
    if policy is None:
        return {}
    return {
        "name": policy.name,
        "active": policy.active,
        "steps": [{"position": s.position, "name_zh": s.name_zh, "name_en": s.name_en, "mode": s.mode,
                   "approver_kind": s.approver_kind, "role_code": s.role_code, "scope": s.scope,
                   "user_id": s.user_id, **_conditions_of(s)}
                  for s in PolicyStep.objects.filter(policy=policy).order_by("position")],
    }


def _tri_state(value, *, field: str, n: int) -> bool | None:
    if value in (None, "", "any"):
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise ValidationError({"steps": _("第 %(n)s 步：%(field)s 只能是 true、false 或留空。") % {"n": n, "field": field}})


def _money(value, *, field: str, n: int, maximum: Decimal | None = None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        raise ValidationError({"steps": _("第 %(n)s 步：%(field)s 不是有效的数字。") % {"n": n, "field": field}}) from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError({"steps": _("第 %(n)s 步：%(field)s 不能为负数。") % {"n": n, "field": field}})
    if amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({"steps": _("第 %(n)s 步：%(field)s 最多两位小数。") % {"n": n, "field": field}})
    if maximum is not None and amount > maximum:
        raise ValidationError({"steps": _("第 %(n)s 步：%(field)s 不能大于 %(max)s。") % {
            "n": n, "field": field, "max": maximum}})
    if amount >= Decimal("1e14"):
        raise ValidationError({"steps": _("第 %(n)s 步：%(field)s 太大。") % {"n": n, "field": field}})
    return amount


def _clean_steps(steps: Iterable[dict]) -> list[dict]:
    """Validate the steps a tenant admin edited; errors name the step and the rule."""
    steps = list(steps or [])
    if not steps:
        raise ValidationError({"steps": _("审批流程至少要有一个步骤。")})
    if len(steps) > 20:
        raise ValidationError({"steps": _("审批流程最多 20 个步骤。")})
    positions = [s.get("position") for s in steps]
    if all(p not in (None, "") for p in positions):
        try:
            numbers = [int(p) for p in positions]
        except (TypeError, ValueError):
            raise ValidationError({"steps": _("步骤顺序必须是整数。")}) from None
        if sorted(numbers) != list(range(1, len(steps) + 1)):
            raise ValidationError({"steps": _("步骤顺序必须从 1 开始连续编号，不能重复或跳号（现在是 %(got)s）。") % {
                "got": ", ".join(str(n) for n in numbers)}})
        steps = [s for _n, s in sorted(zip(numbers, steps, strict=True), key=lambda pair: pair[0])]
    elif any(p not in (None, "") for p in positions):
        raise ValidationError({"steps": _("要么每个步骤都写顺序，要么都不写（按列表顺序）。")})
    role_codes = set(role_list().values_list("code", flat=True))
    User = get_user_model()
    cleaned = []
    for n, raw in enumerate(steps, 1):
        unknown = set(raw) - set(STEP_FIELDS) - {"id", "role", "user", "user_name", "role_name"}
        if unknown:
            raise ValidationError({"steps": _("第 %(n)s 步：未知的字段 %(fields)s。") % {
                "n": n, "fields": ", ".join(sorted(unknown))}})
        name_zh = (raw.get("name_zh") or "").strip()
        if not name_zh:
            raise ValidationError({"steps": _("第 %(n)s 步：步骤名称不能为空。") % {"n": n}})
        mode = raw.get("mode") or StepMode.ANY
        if mode not in StepMode.values:
            raise ValidationError({"steps": _("第 %(n)s 步：审批方式必须是 any（任一人）或 all（所有人）。") % {"n": n}})
        kind = raw.get("approver_kind") or ApproverKind.ROLE
        if kind not in ApproverKind.values:
            raise ValidationError({"steps": _("第 %(n)s 步：审批人类型必须是 role、user 或 owner。") % {"n": n}})
        scope = raw.get("scope") or ScopeRestriction.NONE
        if scope not in ScopeRestriction.values:
            raise ValidationError({"steps": _(
                "第 %(n)s 步：范围限制必须是 none、submitter_department 或 submitter_region。") % {"n": n}})
        role_code, user_id = "", None
        if kind == ApproverKind.ROLE:
            role_code = (raw.get("role_code") or raw.get("role") or "").strip()
            if role_code not in role_codes:
                raise ValidationError({"steps": _("第 %(n)s 步：角色“%(role)s”不存在。") % {"n": n, "role": role_code}})
        elif kind == ApproverKind.OWNER:
            scope = ScopeRestriction.NONE
        else:
            scope = ScopeRestriction.NONE
            user_id = raw.get("user_id") or raw.get("user")
            try:
                user_id = int(user_id)
            except (TypeError, ValueError):
                raise ValidationError({"steps": _("第 %(n)s 步：请选择审批人。") % {"n": n}}) from None
            if not User.staff.filter(pk=user_id, is_active=True).exists():
                raise ValidationError({"steps": _("第 %(n)s 步：所选审批人不存在或已停用。") % {"n": n}})
        min_amount = _money(raw.get("min_amount"), field=_("金额下限"), n=n)
        max_amount = _money(raw.get("max_amount"), field=_("金额上限"), n=n)
        if min_amount is not None and max_amount is not None and max_amount <= min_amount:
            raise ValidationError({"steps": _("第 %(n)s 步：金额上限必须大于金额下限。") % {"n": n}})
        discount = _money(raw.get("min_discount_pct"), field=_("折扣率下限"), n=n, maximum=Decimal("100"))
        tiers = raw.get("partner_tiers") or []
        if isinstance(tiers, str):
            tiers = [t for t in (x.strip() for x in tiers.replace("，", ",").split(",")) if t]
        if not isinstance(tiers, list) or not all(isinstance(t, str) and 0 < len(t.strip()) <= 20 for t in tiers):
            raise ValidationError({"steps": _("第 %(n)s 步：渠道伙伴等级应是等级代码的列表。") % {"n": n}})
        cleaned.append({
            "position": n, "name_zh": name_zh[:100], "name_en": (raw.get("name_en") or "").strip()[:100],
            "mode": mode, "approver_kind": kind, "role_code": role_code, "scope": scope, "user_id": user_id,
            "min_amount": min_amount, "max_amount": max_amount, "min_discount_pct": discount,
            "customer_is_new": _tri_state(raw.get("customer_is_new"), field=_("新客户"), n=n),
            "partner_tiers": list(dict.fromkeys(t.strip() for t in tiers)),
            "credit_over_limit": _tri_state(raw.get("credit_over_limit"), field=_("信用超限"), n=n),
        })
    return cleaned


def _write_steps(policy: ApprovalPolicy, steps: list[dict]) -> None:
    PolicyStep.objects.filter(policy=policy).delete()
    PolicyStep.objects.bulk_create([PolicyStep(policy=policy, **step) for step in steps])


@transaction.atomic
def approval_policy_save(*, actor, doc_type: str, steps: Iterable[dict], name: str | None = None,
                         active: bool | None = None, version: int | None = None) -> ApprovalPolicy:
    """Create or replace the policy of one document type (tenant admins). ``version``, when
    given, must be the one the admin edited (else StaleVersion, a 412). Requests in flight
    keep the chain frozen onto them at submission."""
    if not can_manage_approval_policies(actor):
        raise PermissionDenied(_("你没有管理审批流程的权限。"))
    if not _known_doc_type(doc_type):
        raise ValidationError({"doc_type": _("未知的单据类型“%(type)s”。") % {"type": doc_type}})
    policy = ApprovalPolicy.objects.select_for_update().filter(doc_type=doc_type).first()
    if version is not None and version != (policy.version if policy else 0):
        raise StaleVersion(current=policy.version if policy else 0)
    cleaned = _clean_steps(steps)
    name = (name if name is not None else (policy.name if policy else "")).strip()
    if not name:
        name = _("%(type)s审批") % {"type": registry.label_of(doc_type)}
    before = _policy_snapshot(policy)
    if policy is None:
        policy = ApprovalPolicy.objects.create(doc_type=doc_type, name=name[:100],
                                               active=True if active is None else bool(active),
                                               updated_by=actor, version=1)
        action = "create"
    else:
        policy.name = name[:100]
        if active is not None:
            policy.active = bool(active)
        policy.version += 1
        policy.updated_by = actor
        policy.save(update_fields=["name", "active", "version", "updated_by", "updated_at"])
        action = "update"
    _write_steps(policy, cleaned)
    changes = audit_diff(before, _policy_snapshot(policy))
    audit_record(actor=actor, instance=policy, action=action, changes=changes)
    return policy


def _default_steps(doc: registry.DocumentType | None) -> tuple[list[dict], str]:
    """The document type's own default steps when it has some (quotes), else the steps the
    tenant's business mode gave it (TenantConfig.approval_policies, the first of its modes
    that has any), and the mode's key ("" for the type's own)."""
    config = tenant_config_get()
    known_roles = set(role_list().values_list("code", flat=True))
    own = [{"name_zh": s.get("name_zh") or s.get("role"), "name_en": s.get("name_en", ""),
            "approver_kind": s.get("approver_kind", ApproverKind.ROLE), "role_code": s.get("role", ""),
            "mode": StepMode.ANY, "scope": s.get("scope", ScopeRestriction.NONE), "min_amount": s.get("min_amount"),
            "min_discount_pct": s.get("min_discount_pct")}
           for s in (doc.default_steps_now() if doc is not None else ())
           if s.get("approver_kind") == ApproverKind.OWNER or s.get("role") in known_roles]
    for mode in ([] if own else config.modes or list(config.approval_policies)):
        source = (config.approval_policies or {}).get(mode) or []
        steps = [{"name_zh": s.get("name_zh") or s["role"], "name_en": s.get("name_en", ""),
                  "approver_kind": ApproverKind.ROLE, "role_code": s["role"], "mode": StepMode.ANY,
                  "scope": ScopeRestriction.NONE, "min_amount": s.get("min_amount")}
                 for s in source if s.get("role") in known_roles]
        if steps:
            break
    else:
        mode, steps = "", own or [{"name_zh": "管理员审批", "name_en": "Admin approval",
                                   "approver_kind": ApproverKind.ROLE, "role_code": "tenant_admin",
                                   "mode": StepMode.ANY, "scope": ScopeRestriction.NONE}]
    if doc is not None and doc.credit_control and CREDIT_STEP["role_code"] in known_roles:
        steps.append({**CREDIT_STEP, "approver_kind": ApproverKind.ROLE, "mode": StepMode.ANY,
                      "scope": ScopeRestriction.NONE, "credit_over_limit": True})
    for n, step in enumerate(steps, 1):
        step["position"] = n
    return steps, mode


def approval_policy_default_seed(*, doc_type: str) -> ApprovalPolicy:
    """The policy of ``doc_type``; when the tenant has none yet, build it from the tenant's
    business mode (TenantConfig.approval_policies): e.g. in the standard-product mode, a
    business secretary approves and finance re-checks at or above a threshold the admin may
    edit; orders also get a credit-override step that applies only when the customer's credit
    is over its limit. Idempotent and safe against a concurrent seed."""
    existing = ApprovalPolicy.objects.filter(doc_type=doc_type).first()
    if existing is not None:
        return existing
    steps, mode = _default_steps(registry.get(doc_type))
    cleaned = _clean_steps(steps)
    name = _("%(type)s审批") % {"type": registry.label_of(doc_type)}
    try:
        with transaction.atomic():
            policy = ApprovalPolicy.objects.create(doc_type=doc_type, name=name[:100], active=True, version=1)
            _write_steps(policy, cleaned)
            audit_record(actor=None, instance=policy, action="create",
                         changes=audit_diff({}, _policy_snapshot(policy)),
                         note=f"default policy of business mode {mode or '-'}")
    except IntegrityError:  # seeded at the same moment by another request
        return ApprovalPolicy.objects.get(doc_type=doc_type)
    return policy


def approval_policies_ensure() -> list[ApprovalPolicy]:
    """Seed the default policy of every registered document type that has none (lazily, on
    first use: the policy editor and the first submission call this)."""
    have = set(ApprovalPolicy.objects.values_list("doc_type", flat=True))
    for doc in registry.all_types():
        if doc.key not in have:
            approval_policy_default_seed(doc_type=doc.key)
    return selectors.approval_policies_list()


# -- submit ----------------------------------------------------------------------------------
class _Place:
    """The submitter's department and region for scope-restricted steps: their ids at once (the
    request keeps them), the rows only if a step restricted to them asks."""

    def __init__(self, actor, facts: registry.Facts):
        self.department_id = facts.department_id or actor.department_id
        self.region_id = facts.region_id or actor.region_id
        self._rows: dict[str, object] = {}

    def _row(self, field: str, pk):
        if field not in self._rows:
            model = ApprovalRequest._meta.get_field(field).related_model
            self._rows[field] = model.objects.filter(pk=pk).first() if pk else None
        return self._rows[field]

    @property
    def department(self):
        return self._row("department", self.department_id)

    @property
    def region(self):
        return self._row("region", self.region_id)


def _freeze_chain(policy: ApprovalPolicy | None, facts: registry.Facts, *, submitter, place: _Place) -> list[dict]:
    """Each policy step with its conditions, whether it applies to these facts and (if it
    does) its approvers resolved now. Refuses a chain with a step nobody can approve."""
    chain = []
    if policy is None or not policy.active:
        return chain
    steps = [(step, _conditions_of(step)) for step in policy.steps.order_by("position")]
    applying = [(step, step_applies(conditions, facts)) for step, conditions in steps]
    # the holders of every unrestricted role step that applies, in one query
    holders = selectors.role_holders(
        role_codes={step.role_code for step, applies in applying
                    if applies and step.approver_kind == ApproverKind.ROLE and step.scope == ScopeRestriction.NONE},
        submitter=submitter)
    for (step, conditions), (_step, applies) in zip(steps, applying, strict=True):
        if not applies:
            approvers = []
        elif step.approver_kind == ApproverKind.ROLE and step.scope == ScopeRestriction.NONE:
            approvers = holders.get(step.role_code, [])
        else:
            approvers = selectors.approvers_resolve(
                approver_kind=step.approver_kind, role_code=step.role_code, scope=step.scope, user_id=step.user_id,
                submitter=submitter,
                department=place.department if step.scope == ScopeRestriction.SUBMITTER_DEPARTMENT else None,
                region=place.region if step.scope == ScopeRestriction.SUBMITTER_REGION else None,
                owner_id=facts.owner_id)
        if applies and not approvers:
            raise ValidationError({"approval": _(
                "审批步骤“%(step)s”没有可用的审批人（提交人本人不能审批自己的单据，停用的员工也不能）。"
                "请联系系统管理员调整审批流程。") % {"step": step.name_zh}}, code="no_approver")
        chain.append({"position": step.position, "name_zh": step.name_zh, "name_en": step.name_en,
                      "mode": step.mode, "approver_kind": step.approver_kind, "role_code": step.role_code,
                      "scope": step.scope, "user_id": step.user_id, "conditions": conditions,
                      "applies": applies, "approver_ids": approvers})
    return chain


def _activate(request: ApprovalRequest, step: ApprovalStep, *, now) -> list[int]:
    """Make ``step`` the active one: one pending assignment per approver (those still active;
    all of them if nobody is, so the step stays visible to an admin)."""
    User = get_user_model()
    active_ids = set(User.objects.filter(pk__in=step.approver_ids, is_active=True).values_list("pk", flat=True))
    approver_ids = [pk for pk in step.approver_ids if pk in active_ids] or list(step.approver_ids)
    step.status = StepStatus.ACTIVE
    step.activated_at = now
    step.save(update_fields=["status", "activated_at"])
    ApprovalAssignment.objects.bulk_create([
        ApprovalAssignment(request=request, step=step, doc_type=request.doc_type, approver_id=pk)
        for pk in approver_ids])
    request.current_position = step.position
    return approver_ids


def _finish(request: ApprovalRequest, status: str, *, now) -> None:
    if not can_transition(request.status, status):  # pragma: no cover - the callers check first
        raise ApprovalConflict(_("审批状态不允许这个操作。"), code="invalid_transition")
    request.status = status
    request.decided_at = now
    request.current_position = None


@transaction.atomic
def approval_submit(*, actor, doc_type: str, object_id: int) -> ApprovalRequest:
    """Start the approval of one document: read its facts, freeze the tenant's policy onto a
    new request (steps whose conditions hold, approvers resolved, the submitter excluded) and
    activate the first step. With no step to go through (policy switched off, or no step
    applies) the request is approved at once and ``on_approved`` runs. Submitting a document
    that is already in approval returns that request to its submitter (a retry) and is a
    conflict for anyone else."""
    _require_active(actor)
    doc = _doc_type_or_error(doc_type)
    object_id = int(object_id)
    existing = (ApprovalRequest.objects.select_for_update()
                .filter(doc_type=doc_type, object_id=object_id, status=RequestStatus.PENDING).first())
    if existing is not None:
        if existing.submitter_id == actor.pk:
            return existing
        raise ApprovalConflict(_("这张单据已在审批中（审批单 #%(id)s）。") % {"id": existing.pk},
                               code="already_pending")
    facts = doc.facts(object_id)
    if not isinstance(facts, registry.Facts):  # pragma: no cover - a programming error of the document app
        raise TypeError(f"{doc_type}: facts() must return crm.approvals.registry.Facts")
    policy = approval_policy_default_seed(doc_type=doc_type)
    place = _Place(actor, facts)
    chain = _freeze_chain(policy, facts, submitter=actor, place=place)
    now = timezone.now()
    request = ApprovalRequest(
        doc_type=doc_type, object_id=object_id, submitter=actor, department_id=place.department_id,
        region_id=place.region_id,
        title=str(doc.title(object_id) or f"#{object_id}")[:200], amount=facts.amount or Decimal("0"),
        currency=(facts.currency or "CNY")[:3], facts=facts.as_json(), chain=chain, policy=policy,
        policy_version=policy.version if policy else None, status=RequestStatus.PENDING)
    # The first step that applies is active from the start: its approvers were resolved just now
    # among the active staff (_freeze_chain), so it is written active, with its assignments,
    # instead of being written waiting and then activated.
    first_position = next((s["position"] for s in chain if s["applies"]), None)
    request.current_position = first_position
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:  # a concurrent submission of the same document won
        raise ApprovalConflict(_("这张单据已在审批中。"), code="already_pending") from None
    steps = ApprovalStep.objects.bulk_create([
        ApprovalStep(request=request, position=s["position"], name_zh=s["name_zh"], name_en=s["name_en"],
                     mode=s["mode"], approver_ids=s["approver_ids"],
                     status=(StepStatus.ACTIVE if s["position"] == first_position else
                             StepStatus.WAITING if s["applies"] else StepStatus.SKIPPED),
                     activated_at=now if s["position"] == first_position else None)
        for s in chain])
    first = next((s for s in steps if s.status == StepStatus.ACTIVE), None)
    audit_record(actor=actor, instance=request, action="submit", changes={
        "status": {"old": None, "new": RequestStatus.PENDING},
        "chain": {"old": None, "new": [f"{s['position']}. {s['name_zh']}" + ("" if s["applies"] else " (skipped)")
                                       for s in chain]}},
        note=f"{policy.name} v{policy.version}" + ("" if policy.active else " (off)"))
    if first is None:
        _finish(request, RequestStatus.APPROVED, now=now)
        request.save(update_fields=["status", "decided_at", "current_position"])
        audit_record(actor=actor, instance=request, action="approve",
                     changes={"status": {"old": RequestStatus.PENDING, "new": RequestStatus.APPROVED}},
                     note="no approval step applies")
        doc.on_approved(object_id, actor)
        _on_commit_notify_result(request.pk)
        return request
    ApprovalAssignment.objects.bulk_create([
        ApprovalAssignment(request=request, step=first, doc_type=request.doc_type, approver_id=pk)
        for pk in first.approver_ids])
    _on_commit_notify_pending(request.pk, first.pk)
    return request


# -- decide ----------------------------------------------------------------------------------
def _lock_visible(actor, request_id) -> ApprovalRequest:
    """The request row, locked, if the actor may see it (ApprovalRequest.DoesNotExist, a
    404, otherwise): one statement. Every transition starts here, so concurrent decisions on
    one request queue up behind each other."""
    try:
        request_id = int(request_id)
    except (TypeError, ValueError):
        raise ApprovalRequest.DoesNotExist from None
    return (selectors.approval_requests_visible_to(actor=actor).select_for_update(of=("self",))
            .get(pk=request_id))


def _decided_status(decision: str) -> str:
    return AssignmentStatus.APPROVED if decision == Decision.APPROVE else AssignmentStatus.REJECTED


@transaction.atomic
def approval_decide(*, actor, request_id: int, decision: str, comment: str = "",
                    step: int | None = None) -> ApprovalRequest:
    """Approve or reject the active step of a request, as one of its approvers or as the
    active delegate of one (recorded: ``decided_by`` is the actor, ``approver`` the one on
    whose behalf). ``step`` (the position the actor saw) makes a repeated click safe: a
    decision the actor already made the same way returns the current state; a step that is no
    longer active is a conflict.

    "any" steps complete on the first approval (the other approvers' assignments are
    superseded); "all" steps when every approver has approved. A rejection ends the request
    and calls ``on_rejected``; the last step's approval ends it approved and calls
    ``on_approved``, in this transaction."""
    _require_active(actor)
    if decision not in Decision.values:
        raise ValidationError({"decision": _("审批结果只能是 approve（同意）或 reject（驳回）。")})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": _("意见最多 %(n)s 个字。") % {"n": COMMENT_MAX}})
    if decision == Decision.REJECT and not comment:
        raise ValidationError({"comment": _("驳回时请填写意见，告诉提交人原因。")})
    if step is not None:
        try:
            step = int(step)
        except (TypeError, ValueError):
            raise ValidationError({"step": _("步骤必须是整数。")}) from None
    request = _lock_visible(actor, request_id)
    done = _decided_status(decision)
    mine = ApprovalAssignment.objects.filter(request=request, decided_by=actor.pk, status=done)
    if step is not None:
        mine = mine.filter(step__position=step)
    if request.status != RequestStatus.PENDING:
        if mine.exists():
            return request  # the same decision again (a retry): the current state
        raise ApprovalConflict(_("这个审批已经结束（%(status)s），不能再处理。") % {
            "status": request.get_status_display()}, code="approval_closed")
    if step is not None and step != request.current_position:
        if mine.exists():
            return request
        raise ApprovalConflict(_("第 %(n)s 步已不在审批中，请刷新页面查看最新进度。") % {"n": step},
                               code="step_not_active")
    doc = _doc_type_or_error(request.doc_type)
    steps = list(ApprovalStep.objects.filter(request=request).order_by("position"))
    active = next(s for s in steps if s.position == request.current_position)
    # the approver rows are needed only for a delegate's note: read then (one query), not joined every time
    assignments = list(ApprovalAssignment.objects.filter(step=active).order_by("id"))
    own = any(a.approver_id == actor.pk and a.status == AssignmentStatus.PENDING for a in assignments)
    delegators = set() if own else selectors.delegator_ids_for(actor=actor, doc_type=request.doc_type)
    assignment = actionable_assignment(actor, request, assignments, delegators)
    if assignment is None:
        if request.submitter_id == actor.pk:
            raise PermissionDenied(_("不能审批自己提交的单据。"))
        if step is None and mine.exists():
            return request
        on_step = [a for a in assignments if a.approver_id == actor.pk or a.approver_id in delegators]
        if not on_step:
            # too late for an earlier step that someone else decided: a conflict, not a 403
            missed = (ApprovalAssignment.objects.filter(request=request, status=AssignmentStatus.SUPERSEDED)
                      .filter(approver_id__in=[actor.pk, *delegators]).order_by("-id").first())
            if missed is not None:
                by = (ApprovalAssignment.objects.filter(step_id=missed.step_id, status=AssignmentStatus.APPROVED)
                      .select_related("decided_by").first())
                raise ApprovalConflict(_("这一步已由 %(name)s 处理，无需你再审批。") % {
                    "name": by.decided_by.full_name if by and by.decided_by else "—"}, code="already_decided")
            raise PermissionDenied(_("你不是这一步（%(step)s）的审批人，也不是其审批人的代理人。") % {
                "step": active.name_zh})
        if any(a.decided_by_id == actor.pk and a.status == done for a in on_step):
            return request
        if all(a.status == AssignmentStatus.SUPERSEDED for a in on_step):
            by = next((a for a in assignments if a.status == AssignmentStatus.APPROVED), None)
            by = by.decided_by if by is not None else None
            raise ApprovalConflict(_("这一步已由 %(name)s 处理，无需你再审批。") % {
                "name": by.full_name if by else "—"}, code="already_decided")
        raise ApprovalConflict(_("你已经处理过这一步，不能更改决定。"), code="already_decided")

    now = timezone.now()
    before = {"status": request.status, "current_position": request.current_position}
    assignment.status = done
    assignment.decided_by = actor
    assignment.comment = comment
    assignment.decided_at = now
    others = [a for a in assignments if a.pk != assignment.pk and a.status == AssignmentStatus.PENDING]
    step_done = decision == Decision.APPROVE and (active.mode == StepMode.ANY or not others)
    if step_done:  # the decision and the other approvers' superseded assignments: one UPDATE
        _decide_superseding_others(assignment, active)
    else:
        assignment.save(update_fields=["status", "decided_by", "comment", "decided_at"])
    notify_step = None
    finished = False
    if decision == Decision.REJECT:
        active.status = StepStatus.REJECTED
        active.decided_at = now
        active.save(update_fields=["status", "decided_at"])
        _end_open_work(request, now=now)
        _finish(request, RequestStatus.REJECTED, now=now)
        finished = True
    elif step_done:
        active.status = StepStatus.APPROVED
        active.decided_at = now
        active.save(update_fields=["status", "decided_at"])
        following = next((s for s in steps if s.position > active.position and s.status == StepStatus.WAITING),
                         None)
        if following is not None:
            _activate(request, following, now=now)
            notify_step = following.pk
        else:
            _finish(request, RequestStatus.APPROVED, now=now)
            finished = True
    request.version += 1
    request.save(update_fields=["status", "decided_at", "current_position", "version"])
    after = {"status": request.status, "current_position": request.current_position}
    note = comment
    if assignment.approver_id != actor.pk:
        note = (_("代 %(name)s 审批") % {"name": assignment.approver.full_name}) + (f"：{comment}" if comment else "")
    audit_record(actor=actor, instance=request, action=decision,
                 changes={**audit_diff(before, after),
                          "step": {"old": None, "new": f"{active.position}. {active.name_zh}"},
                          **({"on_behalf_of": {"old": None, "new": assignment.approver_id}}
                             if assignment.approver_id != actor.pk else {})},
                 note=note[:500])
    if request.status == RequestStatus.APPROVED:
        doc.on_approved(request.object_id, actor)
    elif request.status == RequestStatus.REJECTED:
        doc.on_rejected(request.object_id, actor, comment)
    if notify_step:
        _on_commit_notify_pending(request.pk, notify_step)
    if finished:
        _on_commit_notify_result(request.pk)
    return request


def _decide_superseding_others(assignment: ApprovalAssignment, step: ApprovalStep) -> None:
    """Save the decision already set on ``assignment`` and mark the step's other pending
    assignments superseded, in one UPDATE (the step is done). Written in SQL: the ORM's
    CASE expressions cost more to build than the second statement they save."""
    table = connection.ops.quote_name(ApprovalAssignment._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608 (the table name is ours)
            "status = CASE WHEN id = %(id)s THEN %(status)s ELSE %(superseded)s END, "
            "decided_by_id = CASE WHEN id = %(id)s THEN %(by)s ELSE decided_by_id END, "
            "comment = CASE WHEN id = %(id)s THEN %(comment)s ELSE comment END, "
            "decided_at = CASE WHEN id = %(id)s THEN %(at)s ELSE decided_at END "
            "WHERE step_id = %(step)s AND (id = %(id)s OR status = %(pending)s)",
            {"id": assignment.pk, "status": assignment.status, "superseded": AssignmentStatus.SUPERSEDED,
             "by": assignment.decided_by_id, "comment": assignment.comment, "at": assignment.decided_at,
             "step": step.pk, "pending": AssignmentStatus.PENDING})


def _end_open_work(request: ApprovalRequest, *, now) -> None:
    """The request ends early (rejected, recalled): nobody needs to act any more."""
    ApprovalAssignment.objects.filter(request=request, status=AssignmentStatus.PENDING).update(
        status=AssignmentStatus.SUPERSEDED)
    ApprovalStep.objects.filter(request=request, status__in=[StepStatus.WAITING, StepStatus.ACTIVE]).update(
        status=StepStatus.CANCELLED)


def approval_approve(*, actor, request_id: int, comment: str = "", step: int | None = None) -> ApprovalRequest:
    return approval_decide(actor=actor, request_id=request_id, decision=Decision.APPROVE, comment=comment,
                           step=step)


def approval_reject(*, actor, request_id: int, comment: str, step: int | None = None) -> ApprovalRequest:
    return approval_decide(actor=actor, request_id=request_id, decision=Decision.REJECT, comment=comment,
                           step=step)


# -- recall ----------------------------------------------------------------------------------
@transaction.atomic
def approval_recall(*, actor, request_id: int) -> ApprovalRequest:
    """The submitter takes the document back before anyone has decided anything; the
    document app's ``on_recalled`` runs in this transaction. Recalling again is a no-op."""
    _require_active(actor)
    request = _lock_visible(actor, request_id)
    if request.submitter_id != actor.pk:
        raise PermissionDenied(_("只有提交人可以撤回。"))
    if request.status == RequestStatus.RECALLED:
        return request
    if request.status != RequestStatus.PENDING:
        raise ApprovalConflict(_("审批已经结束（%(status)s），不能撤回。") % {"status": request.get_status_display()},
                               code="approval_closed")
    decided = ApprovalAssignment.objects.filter(
        request=request, status__in=[AssignmentStatus.APPROVED, AssignmentStatus.REJECTED]).exists()
    if not can_recall_request(actor, request, decided=decided):
        raise ApprovalConflict(_("已经有人审批过，不能撤回了。"), code="already_decided")
    doc = _doc_type_or_error(request.doc_type)
    now = timezone.now()
    before = {"status": request.status, "current_position": request.current_position}
    _end_open_work(request, now=now)
    _finish(request, RequestStatus.RECALLED, now=now)
    request.version += 1
    request.save(update_fields=["status", "decided_at", "current_position", "version"])
    audit_record(actor=actor, instance=request, action="recall",
                 changes=audit_diff(before, {"status": request.status, "current_position": None}))
    doc.on_recalled(request.object_id, actor)
    return request


# -- delegation ------------------------------------------------------------------------------
def _user_or_error(user_id, *, field: str):
    User = get_user_model()
    try:
        return User.staff.get(pk=int(user_id), is_active=True)
    except (User.DoesNotExist, TypeError, ValueError):
        raise ValidationError({field: _("所选员工不存在或已停用。")}) from None


@transaction.atomic
def delegation_set(*, actor, to_user_id: int, ends_at: datetime.datetime,
                   starts_at: datetime.datetime | None = None, doc_types: Iterable[str] = (),
                   reason: str = "", from_user_id: int | None = None) -> Delegation:
    """While ``from_user`` (the actor unless an admin names someone) is away, ``to_user``
    decides their approvals of ``doc_types`` (all when empty), from ``starts_at`` (now) until
    ``ends_at``."""
    _require_active(actor)
    from_user_id = actor.pk if from_user_id in (None, "") else int(from_user_id)
    if not can_set_delegation_for(actor, from_user_id):
        raise PermissionDenied(_("只能设置自己的审批委托。"))
    from_user = actor if from_user_id == actor.pk else _user_or_error(from_user_id, field="from_user")
    to_user = _user_or_error(to_user_id, field="to_user")
    if to_user.pk == from_user.pk:
        raise ValidationError({"to_user": _("不能委托给自己。")})
    now = timezone.now()
    starts_at = starts_at or now
    if ends_at is None:
        raise ValidationError({"ends_at": _("请填写委托的结束时间。")})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": _("结束时间必须晚于开始时间。")})
    if ends_at <= now:
        raise ValidationError({"ends_at": _("结束时间必须在将来。")})
    if ends_at - starts_at > datetime.timedelta(days=366):
        raise ValidationError({"ends_at": _("一次委托最长一年。")})
    doc_types = list(dict.fromkeys(t for t in (doc_types or []) if t))
    unknown = [t for t in doc_types if not _known_doc_type(t)]
    if unknown:
        raise ValidationError({"doc_types": _("未知的单据类型：%(types)s") % {"types": ", ".join(unknown)}})
    delegation = Delegation.objects.create(from_user=from_user, to_user=to_user, starts_at=starts_at, ends_at=ends_at,
                                           doc_types=doc_types, reason=(reason or "").strip()[:200],
                                           created_by=actor, active=True)
    audit_record(actor=actor, instance=delegation, action="create", changes={
        "from_user": {"old": None, "new": from_user.pk}, "to_user": {"old": None, "new": to_user.pk},
        "starts_at": {"old": None, "new": starts_at}, "ends_at": {"old": None, "new": ends_at},
        "doc_types": {"old": None, "new": doc_types}}, note=delegation.reason)
    from .tasks import approvals_notify_delegated_task

    _after_commit(approvals_notify_delegated_task, delegation.pk)
    return delegation


@transaction.atomic
def delegation_end(*, actor, delegation_id: int) -> Delegation:
    """End a delegation now (its giver or an admin). Ending it again changes nothing."""
    _require_active(actor)
    delegation = Delegation.objects.select_for_update().get(pk=delegation_id)
    if not can_set_delegation_for(actor, delegation.from_user_id):
        if delegation.to_user_id == actor.pk:
            raise PermissionDenied(_("只有委托人或管理员可以结束委托。"))
        raise Delegation.DoesNotExist
    if not delegation.active:
        return delegation
    now = timezone.now()
    delegation.active = False
    delegation.ended_at = now
    delegation.save(update_fields=["active", "ended_at"])
    audit_record(actor=actor, instance=delegation, action="end",
                 changes={"active": {"old": True, "new": False}})
    return delegation


# -- notifications (after commit, in a task) -------------------------------------------------
def _after_commit(task, *args) -> None:
    """Queue ``task`` once the transaction commits, in this tenant's schema. A broker that is
    down is logged, never turned into an error of the decision already committed."""
    schema = connection.schema_name
    transaction.on_commit(lambda: task.apply_async(args=list(args), headers={"_schema_name": schema}),
                          robust=True)


def _on_commit_notify_pending(request_id: int, step_id: int) -> None:
    from .tasks import approvals_notify_pending_task

    _after_commit(approvals_notify_pending_task, step_id)


def _on_commit_notify_result(request_id: int) -> None:
    from .tasks import approvals_notify_result_task

    _after_commit(approvals_notify_result_task, request_id)


@transaction.atomic
def approval_notify_pending(*, step_id: int) -> int:
    """In-app (and email) notifications to the approvers of a step that is active, and to
    their delegates in force now. Idempotent: each (step, person) is told once."""
    step = ApprovalStep.objects.select_related("request", "request__submitter").get(pk=step_id)
    request = step.request
    approvers = list(ApprovalAssignment.objects.filter(step=step, status=AssignmentStatus.PENDING)
                     .select_related("approver"))
    now = timezone.now()
    delegates = {}
    for d in Delegation.objects.filter(from_user_id__in=[a.approver_id for a in approvers], active=True,
                                       starts_at__lte=now, ends_at__gt=now).select_related("to_user"):
        if d.covers(request.doc_type) and d.to_user.is_active and d.to_user_id != request.submitter_id:
            delegates.setdefault(d.to_user_id, (d.to_user, d.from_user_id))
    url = _detail_url(request.pk)
    recipients = [(a.approver, None) for a in approvers if a.approver.is_active]
    recipients += [(user, from_id) for user, from_id in delegates.values()
                   if user.pk not in {a.approver_id for a in approvers}]
    names = {a.approver_id: a.approver.full_name for a in approvers}
    sent = 0
    for user, on_behalf_of in recipients:
        language = _language_of(user)
        with translation.override(language):
            title = _("待你审批：%(title)s") % {"title": request.title}
            body = _("%(name)s 提交了%(type)s“%(title)s”，当前步骤：%(step)s。") % {
                "name": request.submitter.full_name, "type": registry.label_of(request.doc_type),
                "title": request.title, "step": step.name(language)}
            if on_behalf_of:
                body += " " + _("（你是 %(name)s 的审批代理人）") % {"name": names.get(on_behalf_of, "")}
        if notification_create(recipient=user, kind=NOTIFY_PENDING, title=title, body=body, url=url,
                               dedup_key=f"approval-pending:{step.pk}:{user.pk}", email=True):
            sent += 1
    return sent


@transaction.atomic
def approval_notify_result(*, request_id: int) -> int:
    """The submitter hears how their request ended (once)."""
    request = ApprovalRequest.objects.select_related("submitter").get(pk=request_id)
    user = request.submitter
    if not user.is_active or request.status not in (RequestStatus.APPROVED, RequestStatus.REJECTED):
        return 0
    rejection = (ApprovalAssignment.objects.filter(request=request, status=AssignmentStatus.REJECTED)
                 .select_related("decided_by").first())
    with translation.override(_language_of(user)):
        if request.status == RequestStatus.APPROVED:
            title = _("审批通过：%(title)s") % {"title": request.title}
            body = ""
        else:
            title = _("审批被驳回：%(title)s") % {"title": request.title}
            body = _("%(name)s 驳回：%(comment)s") % {
                "name": rejection.decided_by.full_name if rejection and rejection.decided_by else "—",
                "comment": rejection.comment if rejection else ""}
    note = notification_create(recipient=user, kind=NOTIFY_RESULT, title=title, body=body,
                               url=_detail_url(request.pk), dedup_key=f"approval-result:{request.pk}", email=True)
    return 1 if note else 0


@transaction.atomic
def approval_notify_delegated(*, delegation_id: int) -> int:
    delegation = Delegation.objects.select_related("from_user", "to_user").get(pk=delegation_id)
    user = delegation.to_user
    with translation.override(_language_of(user)):
        title = _("%(name)s 把审批委托给你") % {"name": delegation.from_user.full_name}
        body = _("委托时间：%(start)s 至 %(end)s。") % {
            "start": timezone.localtime(delegation.starts_at).strftime("%Y-%m-%d %H:%M"),
            "end": timezone.localtime(delegation.ends_at).strftime("%Y-%m-%d %H:%M")}
    try:
        url = reverse("approvals:inbox")
    except NoReverseMatch:  # pragma: no cover
        url = ""
    note = notification_create(recipient=user, kind=NOTIFY_DELEGATED, title=title, body=body, url=url,
                               dedup_key=f"approval-delegated:{delegation.pk}", email=False)
    return 1 if note else 0
