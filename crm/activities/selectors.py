from __future__ import annotations

import datetime

from django.db.models import QuerySet
from django.utils import timezone

from .enums import TaskStatus
from .models import Task


def task_list_visible_to(*, actor) -> QuerySet[Task]:
    return Task.objects.visible_to(actor).select_related("owner", "department", "region")


def task_get_for_actor(*, actor, task_id) -> Task:
    return task_list_visible_to(actor=actor).get(pk=task_id)


def today_for(*, actor, now: datetime.datetime | None = None) -> dict:
    """What the "today" page shows: my overdue and due-today open tasks."""
    now = timezone.localtime(now or timezone.now())
    end_of_day = now.replace(hour=23, minute=59, second=59, microsecond=0)
    mine = Task.objects.filter(owner=actor, status=TaskStatus.OPEN)
    return {
        "overdue": list(mine.filter(due_at__lt=now.replace(hour=0, minute=0, second=0, microsecond=0))[:50]),
        "today": list(mine.filter(due_at__gte=now.replace(hour=0, minute=0, second=0, microsecond=0),
                                  due_at__lte=end_of_day)[:50]),
        "undated": list(mine.filter(due_at__isnull=True)[:20]),
        "now": now,
    }
