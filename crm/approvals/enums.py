"""Statuses, modes and the allowed transitions of the approval engine, as data."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DocType(models.TextChoices):
    """The document types the issue names. A document app registers its type under one of
    these keys (crm.approvals.registry); the engine also accepts other keys."""

    ORDER = "order", _("订单")
    QUOTE = "quote", _("报价单")
    DISCOUNT = "discount", _("特价/折扣申请")
    CREDIT_OVERRIDE = "credit_override", _("信用超限申请")
    EXPENSE = "expense", _("费用报销")
    DEAL_REGISTRATION = "deal_registration", _("项目报备")


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("审批中")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")
    RECALLED = "recalled", _("已撤回")


# The single source of truth of the request's life: only a pending request moves, and only
# to one of these. Every service checks it before writing.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.PENDING: frozenset({RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.RECALLED}),
    RequestStatus.APPROVED: frozenset(),
    RequestStatus.REJECTED: frozenset(),
    RequestStatus.RECALLED: frozenset(),
}


def can_transition(current: str, new: str) -> bool:
    return new in ALLOWED_TRANSITIONS.get(current, frozenset())


class StepStatus(models.TextChoices):
    WAITING = "waiting", _("未开始")
    ACTIVE = "active", _("审批中")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("已驳回")
    SKIPPED = "skipped", _("不适用")  # its conditions did not hold at submission
    CANCELLED = "cancelled", _("已终止")  # the request ended (rejected, recalled) before it


class AssignmentStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已同意")
    REJECTED = "rejected", _("已驳回")
    SUPERSEDED = "superseded", _("无需处理")  # someone else decided the step, or the request ended


class StepMode(models.TextChoices):
    ANY = "any", _("任一人同意即可")
    ALL = "all", _("所有人都须同意")


class ApproverKind(models.TextChoices):
    ROLE = "role", _("角色")
    USER = "user", _("指定人员")
    # The document's owner, e.g. the channel manager who owns the partner of a partner order
    # (never the submitter).
    OWNER = "owner", _("单据负责人（如渠道经理）")


class ScopeRestriction(models.TextChoices):
    NONE = "none", _("不限")
    SUBMITTER_DEPARTMENT = "submitter_department", _("提交人所在部门（含上级部门）的角色成员")
    SUBMITTER_REGION = "submitter_region", _("提交人所在区域（含上级区域）的角色成员")


class Decision(models.TextChoices):
    APPROVE = "approve", _("同意")
    REJECT = "reject", _("驳回")


# In-app notification kinds (crm.activities Notification.kind)
NOTIFY_PENDING = "approval_pending"
NOTIFY_RESULT = "approval_result"
NOTIFY_DELEGATED = "approval_delegated"
