from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.org.scoping import ScopedQuerySet, ScopeFields

from .enums import TaskStatus


class Task(models.Model):
    """A work task with an owner; the "today" page lists the owner's open ones."""

    title = models.CharField(_("标题"), max_length=200)
    notes = models.TextField(_("备注"), blank=True)
    due_at = models.DateTimeField(_("截止时间"), null=True, blank=True)
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks")
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
        indexes = [models.Index(fields=["owner", "status", "due_at"], name="task_owner_open_due")]

    def __str__(self) -> str:
        return self.title
