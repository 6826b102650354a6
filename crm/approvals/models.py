"""The approval engine's tables.

A tenant's *policy* per document type is an ordered list of *policy steps*. Submitting a
document creates an *approval request* onto which the policy in force is frozen: the chain
(JSON, for the record) and one *approval step* row per policy step, each with the approver
ids resolved at submission. When a step becomes active, one *assignment* per approver is
created; the inbox is simply "my pending assignments" (plus those of people who delegated to
me), served by the (approver, status, id) index.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import (
    ApproverKind,
    AssignmentStatus,
    RequestStatus,
    ScopeRestriction,
    StepMode,
    StepStatus,
)


class ApprovalPolicy(models.Model):
    """The approval chain of one document type in this tenant (one row per type, edited in
    place; ``version`` counts the edits, the audit trail keeps each one)."""

    doc_type = models.CharField(_("单据类型"), max_length=40)
    name = models.CharField(_("名称"), max_length=100)
    active = models.BooleanField(_("启用"), default=True,
                                 help_text=_("停用后提交的单据无需审批，直接通过"))
    version = models.PositiveIntegerField(default=1)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("修改人"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["doc_type"]
        constraints = [
            models.UniqueConstraint(fields=["doc_type"], name="approval_policy_one_per_doc_type"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.doc_type})"


class PolicyStep(models.Model):
    """One step of a policy: who approves, how many of them must, and when it applies (all
    given conditions must hold; an empty condition always holds)."""

    policy = models.ForeignKey(ApprovalPolicy, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("顺序"))
    name_zh = models.CharField(_("步骤名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=100, blank=True)
    mode = models.CharField(_("审批方式"), max_length=8, choices=StepMode.choices, default=StepMode.ANY)
    approver_kind = models.CharField(_("审批人类型"), max_length=8, choices=ApproverKind.choices,
                                     default=ApproverKind.ROLE)
    role_code = models.CharField(_("角色"), max_length=50, blank=True)
    scope = models.CharField(_("范围限制"), max_length=24, choices=ScopeRestriction.choices,
                             default=ScopeRestriction.NONE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+", verbose_name=_("指定审批人"))
    min_amount = models.DecimalField(_("金额下限（含）"), max_digits=16, decimal_places=2, null=True, blank=True)
    max_amount = models.DecimalField(_("金额上限（不含）"), max_digits=16, decimal_places=2, null=True, blank=True)
    min_discount_pct = models.DecimalField(_("折扣率下限（%）"), max_digits=5, decimal_places=2, null=True,
                                           blank=True)
    customer_is_new = models.BooleanField(_("新客户"), null=True, blank=True)
    partner_tiers = models.JSONField(_("渠道伙伴等级"), default=list, blank=True)
    credit_over_limit = models.BooleanField(_("信用超限"), null=True, blank=True)

    class Meta:
        ordering = ["policy_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="approval_policy_step_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name_zh}"


class ApprovalRequestQuerySet(ScopedQuerySet):
    pass


class ApprovalRequest(models.Model):
    """One submission of one document. Only one may be pending per document (a partial
    unique index); a document rejected or recalled and submitted again gets a new one."""

    doc_type = models.CharField(_("单据类型"), max_length=40)
    object_id = models.BigIntegerField(_("单据编号"))
    submitter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  db_index=False, verbose_name=_("提交人"))  # (submitter, -id) serves it
    # The submitter's place at submission (for "within the submitter's department/region"
    # steps and for managers' visibility: see ``scope_fields``).
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("部门"))
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("区域"))
    status = models.CharField(_("状态"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    title = models.CharField(_("标题"), max_length=200)
    amount = models.DecimalField(_("金额"), max_digits=16, decimal_places=2, default=0)
    currency = models.CharField(_("币种"), max_length=3, default="CNY")
    facts = models.JSONField(default=dict, help_text="the facts the conditions were evaluated on")
    chain = models.JSONField(default=list, help_text="the policy steps in force at submission, frozen")
    policy = models.ForeignKey(ApprovalPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    policy_version = models.PositiveIntegerField(null=True, blank=True)
    current_position = models.PositiveSmallIntegerField(_("当前步骤"), null=True, blank=True)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    decided_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    objects = ApprovalRequestQuerySet.as_manager()
    scope_fields = ScopeFields(owner="submitter", department="department", region="region")

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["doc_type", "object_id"], condition=Q(status="pending"),
                                    name="approval_one_pending_per_document"),
        ]
        indexes = [
            models.Index(fields=["doc_type", "object_id", "-id"], name="approval_request_document"),
            models.Index(fields=["submitter", "-id"], name="approval_request_submitter"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def is_pending(self) -> bool:
        return self.status == RequestStatus.PENDING


class ApprovalStep(models.Model):
    """A step of one request, copied from the policy at submission with its approvers
    resolved (``approver_ids``; the submitter is never among them)."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("顺序"))
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100, blank=True)
    mode = models.CharField(max_length=8, choices=StepMode.choices, default=StepMode.ANY)
    status = models.CharField(_("状态"), max_length=16, choices=StepStatus.choices, default=StepStatus.WAITING)
    approver_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["request_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="approval_step_position"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name_zh}"

    def name(self, language: str = "zh-hans") -> str:
        return self.name_en if language.startswith("en") and self.name_en else self.name_zh


class ApprovalAssignment(models.Model):
    """One approver's part in one active (or past) step. ``decided_by`` is who pressed the
    button: the approver, or a delegate acting on the approver's behalf."""

    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="assignments")
    step = models.ForeignKey(ApprovalStep, on_delete=models.CASCADE, related_name="assignments")
    doc_type = models.CharField(max_length=40)  # copied from the request: filters the inbox by type
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                 db_index=False, verbose_name=_("审批人"))  # the inbox index leads with it
    status = models.CharField(_("状态"), max_length=16, choices=AssignmentStatus.choices,
                              default=AssignmentStatus.PENDING)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("处理人"))
    comment = models.CharField(_("意见"), max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["step", "approver"], name="approval_assignment_once_per_step"),
        ]
        indexes = [
            # The inbox: WHERE approver_id = ? AND status = 'pending' ORDER BY id DESC LIMIT n
            models.Index(fields=["approver", "status", "-id"], name="approval_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id}/{self.step_id} {self.approver_id} {self.status}"

    def on_behalf(self) -> bool:
        return self.decided_by_id is not None and self.decided_by_id != self.approver_id


class Delegation(models.Model):
    """While ``from_user`` is away, ``to_user`` may decide their approvals (of the listed
    document types; all when empty). Not transitive: a delegate's own delegate may not."""

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                  verbose_name=_("委托人"))
    to_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("代理人"))
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    doc_types = models.JSONField(_("单据类型"), default=list, blank=True, help_text=_("留空表示全部类型"))
    active = models.BooleanField(_("有效"), default=True)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [
            models.Index(fields=["to_user", "ends_at"], name="delegation_to_user",
                         condition=Q(active=True)),
            models.Index(fields=["from_user", "ends_at"], name="delegation_from_user",
                         condition=Q(active=True)),
        ]

    def __str__(self) -> str:
        return f"{self.from_user_id} -> {self.to_user_id}"

    def covers(self, doc_type: str) -> bool:
        return not self.doc_types or doc_type in self.doc_types
