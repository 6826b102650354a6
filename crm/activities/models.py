from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import ActivityKind, ActivityStatus, NotificationKind, TaskPriority, TaskStatus


class Task(models.Model):
    """A work task with an owner (who created it, for the scopes) and an assignee (who does
    it); the "today" page lists the assignee's open ones."""

    title = models.CharField(_("标题"), max_length=200)
    notes = models.TextField(_("备注"), blank=True)
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    priority = models.CharField(_("优先级"), max_length=8, choices=TaskPriority.choices,
                                default=TaskPriority.NORMAL)
    remind_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True,
                                       help_text="when the reminder for remind_at went out")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="assigned_tasks", verbose_name=_("执行人"),
                                 help_text="who does it; the owner when empty")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="tasks", verbose_name=_("客户"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    scope_fields = ScopeFields(owner="owner", department="department", region="region")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["owner", "status", "due_at"], name="task_owner_open_due"),
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_open_due"),
            models.Index(fields=["remind_at"], name="task_remind_open",
                         condition=Q(status="open", remind_at__isnull=False)),
            models.Index(fields=["customer", "-due_at"], name="task_customer",
                         condition=Q(customer__isnull=False)),
        ]

    def __str__(self) -> str:
        return self.title

    def doer_id(self) -> int:
        return self.assignee_id or self.owner_id

    def is_overdue(self, now) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at is not None and self.due_at < now


class Activity(models.Model):
    """A visit, call, meeting, note or email with a customer. A planned visit (``planned``)
    is one that has not happened yet; completing it records what happened (``planned``
    becomes false), cancelling it keeps it planned with ``cancelled_at`` set, so it stays in
    the customer's timeline, marked cancelled, and never restarts the pool clock."""

    kind = models.CharField(_("类型"), max_length=16, choices=ActivityKind.choices)
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="activities",
                                 verbose_name=_("客户"))
    contact = models.ForeignKey("customers.Contact", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="activities", verbose_name=_("联系人"))
    subject = models.CharField(_("主题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    occurred_at = models.DateTimeField(_("时间"), help_text="when it happened, or is planned for")
    duration_minutes = models.PositiveIntegerField(_("时长（分钟）"), null=True, blank=True)
    participants = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                          verbose_name=_("参与同事"))
    outcome = models.CharField(_("结果"), max_length=500, blank=True)
    next_step = models.CharField(_("下一步"), max_length=300, blank=True)
    next_step_at = models.DateTimeField(_("下一步时间"), null=True, blank=True)
    follow_up_task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+", help_text="the task made from next_step")
    planned = models.BooleanField(_("计划中"), default=False)
    planned_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("计划人"))
    completed_at = models.DateTimeField(null=True, blank=True, help_text="when a planned visit was done")
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True,
                                        help_text="when a planned visit was called off (it stays planned)")
    cancelled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("取消人"))
    cancel_reason = models.CharField(_("取消原因"), max_length=300, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activities",
                              verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+")
    region = models.ForeignKey("org.Region", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    scope_fields = ScopeFields(owner="owner", department="department", region="region")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("跟进记录")
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="activity_customer_time"),
            models.Index(fields=["owner", "-occurred_at", "-id"], name="activity_owner_time"),
            models.Index(fields=["-occurred_at", "-id"], name="activity_time"),
            models.Index(fields=["owner", "occurred_at"], name="activity_planned_open",
                         condition=Q(planned=True, cancelled_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.subject

    def is_cancelled(self) -> bool:
        return self.cancelled_at is not None

    def is_open_plan(self) -> bool:
        """A planned visit still to be done: neither completed nor cancelled."""
        return self.planned and self.cancelled_at is None

    def status(self) -> str:
        """``planned`` (still to do), ``cancelled``, ``done`` (a completed plan) or
        ``logged`` (recorded as it happened)."""
        if self.cancelled_at is not None:
            return ActivityStatus.CANCELLED
        if self.planned:
            return ActivityStatus.PLANNED
        return ActivityStatus.DONE if self.completed_at else ActivityStatus.LOGGED


class Notification(models.Model):
    """An in-app message to one staff member (the bell in the top bar), optionally also
    emailed once. ``dedup_key`` makes each reminder or warning happen once."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                  related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300, blank=True)
    dedup_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    email_wanted = models.BooleanField(default=False)
    emailed_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "-created_at", "-id"], name="notification_inbox"),
            models.Index(fields=["recipient"], name="notification_unread", condition=Q(read_at__isnull=True)),
            models.Index(fields=["created_at"], name="notification_email_due",
                         condition=Q(email_wanted=True, emailed_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return self.title


class PoolWarningNotice(models.Model):
    """One customer's pool warning (Customer.pool_warned_at) has been told to its owner."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    warned_at = models.DateTimeField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    notification = models.ForeignKey(Notification, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "warned_at"], name="pool_notice_once")]

    def __str__(self) -> str:
        return f"{self.customer_id}@{self.warned_at:%Y-%m-%d}"
