from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_snapshot

from .enums import TaskStatus
from .models import Task
from .selectors import task_get_for_actor

TASK_AUDIT_FIELDS = ("title", "notes", "due_at", "status", "owner")


@transaction.atomic
def task_create(*, actor, title: str, notes: str = "", due_at: datetime.datetime | None = None) -> Task:
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("标题不能为空。")})
    task = Task.objects.create(title=title[:200], notes=notes, due_at=due_at, owner=actor,
                               department_id=actor.department_id, region_id=actor.region_id,
                               created_by=actor)
    audit_record(actor=actor, instance=task, action="create",
                 changes=audit_diff({}, audit_snapshot(task, TASK_AUDIT_FIELDS)))
    return task


@transaction.atomic
def task_complete(*, actor, task_id: int) -> Task:
    task = task_get_for_actor(actor=actor, task_id=task_id)
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status == TaskStatus.DONE:
        return task
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"status": _("只有待办任务可以完成。")})
    if task.owner_id != actor.pk and actor.effective_scope() == "own":
        raise PermissionDenied(_("只能完成自己的任务。"))
    before = audit_snapshot(task, TASK_AUDIT_FIELDS)
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.save(update_fields=["status", "completed_at"])
    audit_record(actor=actor, instance=task, action="complete",
                 changes=audit_diff(before, audit_snapshot(task, TASK_AUDIT_FIELDS)))
    return task
