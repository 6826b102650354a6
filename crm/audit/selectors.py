from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet

from .models import AuditEntry


def audit_trail_for(*, instance: models.Model, limit: int = 200) -> QuerySet[AuditEntry]:
    """The trail of one record, newest first. Callers check the record is visible first."""
    ct = ContentType.objects.get_for_model(type(instance))
    return (
        AuditEntry.objects.filter(content_type=ct, object_id=str(instance.pk))
        .select_related("actor", "content_type")
        .order_by("-at", "-id")[:limit]
    )
