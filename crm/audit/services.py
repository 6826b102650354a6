"""Writing the audit trail. Every service that changes a business record calls one of these
inside its transaction, so the change and its audit row commit or roll back together."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import connection, models

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


def audit_entry_build(*, actor, instance: models.Model, action: str,
                      changes: dict | None = None, note: str = "") -> AuditEntry:
    """The row ``audit_record`` would write, unsaved: a service that changes a record in
    several steps collects them and writes them together with ``audit_entries_save``."""
    return _entry(actor=actor, instance=instance, action=action, changes=changes, note=note)


def audit_entries_save(entries: Sequence[AuditEntry]) -> None:
    """Write rows of ``audit_entry_build`` with one INSERT, in their order."""
    if entries:
        AuditEntry.objects.bulk_create(entries)


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


class AuditCopyWriter:
    """Audit rows of many records of one model, as ``audit_record_bulk`` writes them, collected
    and then written with one ``COPY`` (bulk imports: an INSERT of thousands of rows with JSON
    values costs more than the rows they describe). ``add`` per record, ``write`` once per
    transaction, on the cursor the caller writes with."""

    COLUMNS = ("at", "actor_id", "actor_label", "via", "action", "content_type_id", "object_id",
               "object_repr", "changes", "note", "request_id", "ip")

    def __init__(self, *, model: type[models.Model], actor, at):
        ctx = current()
        fields = _actor_fields(actor)
        self._head = (at, fields["actor"].pk if fields["actor"] else None, fields["actor_label"], ctx.via)
        self._tail = (ctx.request_id, ctx.ip)
        self._content_type_id = ContentType.objects.get_for_model(model).pk
        self.rows: list[tuple] = []

    def add(self, *, pk, name: str, action: str, changes: dict | None, note: str = "") -> None:
        self.rows.append((*self._head, action, self._content_type_id, str(pk), name[:200],
                          json.dumps(_jsonable(changes or {}), ensure_ascii=False, separators=(",", ":")),
                          note[:500], *self._tail))

    def object_ids(self) -> list[str]:
        """The ids of the records collected so far (before ``write``)."""
        return [row[6] for row in self.rows]

    def write(self, cursor) -> int:
        """COPY the collected rows (``cursor``: a Django cursor on the default connection)."""
        written, rows = len(self.rows), self.rows
        self.rows = []
        if rows:
            quote = connection.ops.quote_name
            names = ", ".join(quote(c) for c in self.COLUMNS)
            with cursor.cursor.copy(f"COPY {quote(AuditEntry._meta.db_table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return written
