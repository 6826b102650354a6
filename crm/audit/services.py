"""Writing the audit trail. Every service that changes a business record calls one of these
inside its transaction, so the change and its audit row commit or roll back together."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from .context import current
from .models import AuditEntry


def _jsonable(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def audit_snapshot(instance: models.Model, fields: Sequence[str]) -> dict[str, Any]:
    """The current values of ``fields`` (foreign keys by id), for a later ``audit_diff``."""
    snap = {}
    for name in fields:
        field = instance._meta.get_field(name)
        if field.many_to_many:
            snap[name] = sorted(instance.pk and getattr(instance, name).values_list("pk", flat=True) or [])
        elif field.is_relation:
            snap[name] = getattr(instance, field.attname)
        else:
            snap[name] = _jsonable(getattr(instance, name))
    return snap


def audit_diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        key: {"old": before.get(key), "new": after.get(key)}
        for key in after
        if before.get(key) != after.get(key)
    }


def _actor_fields(actor) -> dict[str, Any]:
    """``actor`` is a user of this tenant, or None for the system (tasks, commands)."""
    if actor is None or not getattr(actor, "pk", None):
        return {"actor": None, "actor_label": "system"}
    return {"actor": actor, "actor_label": actor.email}


def _entry(*, actor, instance, action, changes, note) -> AuditEntry:
    ctx = current()
    return AuditEntry(
        **_actor_fields(actor),
        via=ctx.via,
        request_id=ctx.request_id,
        ip=ctx.ip,
        action=action,
        content_type=ContentType.objects.get_for_model(instance),  # sees through lazy wrappers
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        changes=_jsonable(changes or {}),
        note=note[:500],
    )


def audit_record(*, actor, instance: models.Model, action: str,
                 changes: dict | None = None, note: str = "") -> AuditEntry:
    entry = _entry(actor=actor, instance=instance, action=action, changes=changes, note=note)
    entry.save()
    return entry


def audit_record_bulk(*, actor, instances: Iterable[models.Model], action: str,
                      changes_by_pk: dict[Any, dict] | None = None,
                      changes: dict | None = None, note: str = "") -> int:
    """One row per record of a bulk change, written with one INSERT."""
    rows = [
        _entry(actor=actor, instance=obj, action=action,
               changes=(changes_by_pk or {}).get(obj.pk, changes), note=note)
        for obj in instances
    ]
    AuditEntry.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
