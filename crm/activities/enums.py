from django.db import models
from django.utils.translation import gettext_lazy as _


class TaskStatus(models.TextChoices):
    OPEN = "open", _("待办")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class TaskPriority(models.TextChoices):
    LOW = "low", _("低")
    NORMAL = "normal", _("普通")
    HIGH = "high", _("高")


class ActivityKind(models.TextChoices):
    VISIT = "visit", _("拜访")
    CALL = "call", _("电话")
    MEETING = "meeting", _("会议")
    NOTE = "note", _("备注")
    EMAIL = "email", _("邮件")


class ActivityStatus(models.TextChoices):
    """Derived from ``planned``, ``completed_at`` and ``cancelled_at`` (not stored)."""

    PLANNED = "planned", _("计划中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")
    LOGGED = "logged", _("已记录")


class NotificationKind(models.TextChoices):
    TASK_REMINDER = "task_reminder", _("任务提醒")
    TASK_ASSIGNED = "task_assigned", _("新任务")
    VISIT_PLANNED = "visit_planned", _("拜访计划")
    VISIT_CANCELLED = "visit_cancelled", _("拜访取消")
    POOL_WARNING = "pool_warning", _("公海预警")
    APPROVAL_PENDING = "approval_pending", _("待我审批")
    APPROVAL_RESULT = "approval_result", _("审批结果")
    APPROVAL_DELEGATED = "approval_delegated", _("审批委托")
