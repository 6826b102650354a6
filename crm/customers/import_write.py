"""Writing one batch of planned import rows (see crm.customers.imports): the customers, their
owner history, their audit rows and their search tokens, in as few round trips as possible.

Profiled on 20,000 generated rows, most of the time of the former ORM path went to Python,
not to PostgreSQL: model instances and ``get_db_prep_save`` per value, pinyin, and the audit
rows (``bulk_create`` builds one ``UNNEST`` statement whose arrays psycopg quotes in Python,
value by value). So here:

* new customers, their ``OwnershipChange`` rows and their audit rows go in through ``COPY``,
  built as plain tuples from the planned values (no model instances); the customers' ids come
  from their sequence first (one query), the others take their ids from the table default;
* updated customers are written by one ``COPY`` into a temporary table and one
  ``UPDATE ... FROM`` it, with their search tokens in the same statement (no ``bulk_update``
  CASE expressions, no second pass of ``search.customer_index``);
* the search tokens are ``search.customer_tokens``, as everywhere else; the name grams
  (CustomerNameGram) are written from them by SQL (``search.customer_name_grams_refresh``).

The columns written are the model's own: every concrete field of ``Customer`` that the import
does not set gets its model default, so a new field with a default needs nothing here. The
audit rows carry what ``crm.audit.services.audit_record_bulk`` would write (actor, channel,
request id, address, content type, object id and repr, the changes as
``audit_diff(audit_snapshot())`` gives them, the note); a test compares the two field by field.
They are written here rather than through that service because it is the largest single cost
of an import otherwise (the audit app's ``AuditCopyWriter``).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import AuditCopyWriter, audit_diff

from . import search
from .models import Customer, OwnershipChange
from .normalize import company_name_normalize, phone_digits
from .services import CUSTOMER_FIELDS

if TYPE_CHECKING:
    from .imports import RowPlan

logger = logging.getLogger(__name__)

AUDITED = (*CUSTOMER_FIELDS, "external_id")
# the values a row of the file may set (``RowPlan.data``); region is a Region, the rest text
_SETTABLE = frozenset(AUDITED) - {"owner", "department", "custom"}
# what an update may change, and so what the UPDATE writes
_UPDATED_COLUMNS = ("kind", "name", "short_name", "credit_code", "phone", "email", "industry", "region_id",
                    "address", "source", "stage", "level", "tags", "owner_id", "department_id", "notes",
                    "external_id", "name_norm", "phone_digits", "pinyin_key", "search_vector",
                    "last_activity_at", "pool_warned_at", "version", "updated_at")
_AUDITED_ATTNAMES = tuple((name, Customer._meta.get_field(name).attname) for name in AUDITED)
_SCOPE_FIELDS = frozenset({"owner", "department", "region"})
_UPDATE_TABLE = "qiao_import_customer_update"
_HISTORY_COLUMNS = ("customer_id", "from_owner_id", "to_owner_id", "reason", "actor_id", "batch", "note", "at")


def tsvector_literal(tokens: Iterable[str]) -> str | None:
    """The tsvector input text of these lexemes: what ``array_to_tsvector`` makes of them."""
    # escaped all at once: tokens never contain NUL (PostgreSQL text cannot hold it)
    text = "\0".join(tokens).replace("\\", "\\\\").replace("'", "''")
    return "'" + text.replace("\0", "' '") + "'" if text else None


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def copy_rows(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """``COPY table (columns) FROM STDIN`` of these rows (Python values; JSON as text)."""
    names = ", ".join(_quote(c) for c in columns)
    with cursor.cursor.copy(f"COPY {_quote(table)} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _next_ids(cursor, model, n: int) -> list[int]:
    meta = model._meta
    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                   [meta.db_table, meta.pk.column, n])
    return [row[0] for row in cursor.fetchall()]


def _customer_defaults() -> tuple[dict[str, object], frozenset[str]]:
    """The model default of every concrete field of Customer (by attname), and the attnames
    of its JSON fields (written as JSON text)."""
    defaults, json_fields = {}, set()
    for f in Customer._meta.concrete_fields:
        value = f.get_default()
        defaults[f.attname] = str(value) if isinstance(value, str) else value  # a TextChoices member
        if f.get_internal_type() == "JSONField":
            json_fields.add(f.attname)
    return defaults, frozenset(json_fields)


def _create(cursor, plans: list[RowPlan], *, actor, now, note: str, audit: AuditCopyWriter) -> int:
    if not plans:
        return 0
    attnames = [f.attname for f in Customer._meta.concrete_fields]
    defaults, json_fields = _customer_defaults()
    ids = _next_ids(cursor, Customer, len(plans))
    rows, history = [], []
    batch = uuid.uuid4()
    for plan, pk in zip(plans, ids, strict=True):
        owner = plan.owner or actor
        values = {k: v for k, v in plan.data.items() if k in _SETTABLE}
        region = values.pop("region", None)
        row = {**defaults, **values}
        row.update(id=pk, owner_id=owner.pk, department_id=owner.department_id,
                   region_id=region.pk if region is not None else owner.region_id,
                   created_by_id=actor.pk, last_activity_at=now, created_at=now, updated_at=now)
        name, phone = row["name"], row["phone"]
        row["name_norm"] = company_name_normalize(name)[:200]
        row["phone_digits"] = phone_digits(phone)[:40]
        row["pinyin_key"] = search.pinyin_key(row["short_name"], row["name_norm"])
        # search.customer_tokens reads attributes of a customer: the row's columns serve
        row["search_vector"] = tsvector_literal(search.customer_tokens(SimpleNamespace(**row)))
        rows.append([_json(row[a]) if a in json_fields and row[a] is not None else row[a] for a in attnames])
        history.append((pk, None, owner.pk, "created", actor.pk, batch, note[:500], now))
        # the audit row: audit_diff({}, audit_snapshot(customer)) without the empty values
        changes = {name_: {"old": None, "new": row[attname]} for name_, attname in _AUDITED_ATTNAMES
                   if row[attname] not in (None, "", [], {})}
        entry_note = note
        if plan.duplicates:  # confirmed by the user as not a duplicate: recorded
            entry_note = note + " " + _("确认不是重复客户（疑似：%(ids)s）") % {
                "ids": ", ".join(str(d.get("id") or d.get("name")) for d in plan.duplicates)}
        audit.add(pk=pk, name=name, action="create", changes=changes, note=entry_note)
    copy_rows(cursor, Customer._meta.db_table, [f.column for f in Customer._meta.concrete_fields], rows)
    copy_rows(cursor, OwnershipChange._meta.db_table, _HISTORY_COLUMNS, history)
    search.customer_name_grams_refresh(cursor, ids)
    return len(rows)


def existing_customers(condition, *, full: bool = True) -> QuerySet[Customer]:
    """Customers matching ``condition``, as an import needs them: every column it may write
    or audit (not the search tokens, which it recomputes), the owner's name (for a message)
    and the row version ``xmin`` (``row_version``) that ``_update`` writes over. Not ``full``
    (a dry run): only what the planning looks at."""
    qs = Customer.objects.filter(condition).order_by("pk")
    qs = qs.defer("search_vector") if full else qs.only(
        "id", "name", "external_id", "credit_code", "merged_into", "owner")
    return qs.annotate(owner_name=F("owner__full_name"),
                       row_version=RawSQL(f"{_quote(Customer._meta.db_table)}.xmin::text", ()))


def _snapshot(customer: Customer) -> dict:
    """``audit_snapshot(customer, AUDITED)`` for these fields (text, ids, a list of text,
    a JSON object): the values as they are, without the generic conversion."""
    return {name: getattr(customer, attname) for name, attname in _AUDITED_ATTNAMES}


def _ensure_update_table(cursor) -> None:
    """A temporary table for the rows of one UPDATE, emptied at every commit; made once per
    database session (and again in any session that does not have it)."""
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {_UPDATE_TABLE} (id bigint PRIMARY KEY, row_version text, "
        "kind varchar, name varchar, short_name varchar, credit_code varchar, phone varchar, email varchar, "
        "industry varchar, region_id bigint, address varchar, source varchar, stage varchar, level varchar, "
        "tags varchar[], owner_id bigint, department_id bigint, notes text, external_id varchar, "
        "name_norm varchar, phone_digits varchar, pinyin_key varchar, search_vector tsvector, "
        "last_activity_at timestamptz, "
        "pool_warned_at timestamptz, version integer, updated_at timestamptz) ON COMMIT DELETE ROWS")


def _apply(plan: RowPlan, customer: Customer, *, actor, now, note: str) -> tuple[dict, tuple | None]:
    """Set the planned values on ``customer``: (the audit diff, an owner history row or None).
    A diff naming owner, department or region means the customer's scope changed."""
    before = _snapshot(customer)
    for key, value in plan.data.items():
        if key in _SETTABLE:
            setattr(customer, key, value)
    history = None
    if plan.owner is not None and plan.owner.pk != customer.owner_id:
        history = (customer.pk, customer.owner_id, plan.owner.pk, "transfer", actor.pk, uuid.uuid4(),
                   note[:500], now)
        customer.owner = plan.owner
        customer.department_id = plan.owner.department_id
        customer.last_activity_at = now
        customer.pool_warned_at = None
    customer.name_norm = company_name_normalize(customer.name)[:200]
    customer.phone_digits = phone_digits(customer.phone)[:40]
    customer.pinyin_key = search.pinyin_key(customer.short_name, customer.name_norm)
    diff = audit_diff(before, _snapshot(customer))
    if diff:
        customer.version += 1
        customer.updated_at = now
    return diff, history


def _write_updates(cursor, customers: list[Customer]) -> set[int]:
    """One UPDATE of these customers from a temporary table, each only if its row is still the
    version that was read; the ids written."""
    _ensure_update_table(cursor)
    copy_rows(cursor, _UPDATE_TABLE, ("id", "row_version", *_UPDATED_COLUMNS), (
        (c.pk, c.row_version, c.kind, c.name, c.short_name, c.credit_code, c.phone, c.email, c.industry,
         c.region_id, c.address, c.source, c.stage, c.level, list(c.tags or []), c.owner_id, c.department_id,
         c.notes, c.external_id, c.name_norm, c.phone_digits, c.pinyin_key,
         tsvector_literal(search.customer_tokens(c)),
         c.last_activity_at, c.pool_warned_at, c.version, c.updated_at) for c in customers))
    assignments = ", ".join(f"{_quote(col)} = u.{_quote(col)}" for col in _UPDATED_COLUMNS)
    cursor.execute(f"UPDATE {_quote(Customer._meta.db_table)} AS c SET {assignments} FROM {_UPDATE_TABLE} AS u "
                   "WHERE c.id = u.id AND c.xmin::text = u.row_version RETURNING c.id")
    written = {row[0] for row in cursor.fetchall()}
    cursor.execute(f"DELETE FROM {_UPDATE_TABLE}")  # the same transaction may write another batch
    search.customer_name_grams_refresh(cursor, sorted(written))
    return written


def _update(cursor, plans: list[RowPlan], *, actor, now, note: str, audit: AuditCopyWriter) -> None:
    """Update the customers the plans matched (``plan.existing``, read without a lock by
    ``existing_customers``). Rows whose values do not change are not written at all. The
    others are written only over the row version that was read; a customer changed by someone
    else in between is read again, locked this time, and the row applied to that."""
    pending = plans
    for attempt in range(2):
        changed: dict[int, Customer] = {}
        entries, history = [], []
        for plan in pending:
            customer = plan.existing
            diff, moved = _apply(plan, customer, actor=actor, now=now, note=note)
            if diff:
                changed[customer.pk] = customer  # a customer two rows name (by id, by code): once
                entries.append((customer, diff))
                if moved:
                    history.append(moved)
        if not changed:
            return
        written = _write_updates(cursor, list(changed.values()))
        for customer, diff in entries:
            if customer.pk in written:
                audit.add(pk=customer.pk, name=str(customer), action="update", changes=diff, note=note)
        if history:
            copy_rows(cursor, OwnershipChange._meta.db_table, _HISTORY_COLUMNS,
                      [h for h in history if h[0] in written])
        # its contacts' search tokens carry the customer's scope (the customer's own are written above)
        search.scope_index(sorted({customer.pk for customer, diff in entries if customer.pk in written
                                   and not _SCOPE_FIELDS.isdisjoint(diff)}))
        missed = set(changed) - written
        if not missed:
            return
        if attempt:  # cannot happen: the rows were locked
            raise DatabaseError(f"customers {sorted(missed)} changed while locked")
        fresh = {c.pk: c for c in existing_customers(Q(pk__in=missed)).select_for_update(of=("self",))}
        pending = []
        for plan in plans:
            if plan.existing.pk in missed:
                if plan.existing.pk not in fresh:  # deleted meanwhile: nothing to update
                    continue
                plan.existing = fresh[plan.existing.pk]
                pending.append(plan)


class CustomerStats:
    """Keeps the planner's statistics of the customer table fresh while an import grows it.

    Every batch looks its rows up by name, phone, e-mail, external id and credit code. Without
    statistics (a table never analysed, or analysed when it was a tenth of its size) PostgreSQL
    underestimates the table and reads all of it for each batch instead of probing the indexes:
    the import slows down as it goes (measured: 20 ms per lookup at 30,000 rows, growing with
    the table, against 2 ms with statistics). Autovacuum would catch up eventually, but not
    within one import. So the table is analysed (a sample, ~0.1-0.3 s) when it was never
    analysed but has rows, and whenever this import has added as many rows as the statistics
    knew of (at least ``min_rows``): at 10,000, 20,000, 40,000, 80,000 rows for an import into an
    empty table."""

    def __init__(self, *, min_rows: int = 10_000):
        self.min_rows = min_rows
        self.added = 0
        self.enabled = True
        reltuples, relpages = self._read()
        self.known = max(reltuples, 0)
        self.stale = reltuples < 0 and relpages > 0

    @staticmethod
    def _read() -> tuple[float, int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples, relpages FROM pg_class WHERE oid = %s::regclass",
                           [_quote(Customer._meta.db_table)])
            reltuples, relpages = cursor.fetchone()
        return reltuples, relpages

    def created(self, n: int) -> None:
        self.added += n
        if self.added >= max(self.min_rows, self.known):
            self.stale = True

    def refresh(self) -> None:
        """Analyse if due (call between batches, outside their transactions)."""
        if not (self.stale and self.enabled):
            return
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {_quote(Customer._meta.db_table)}")
        except DatabaseError as exc:  # not the table's owner: the import goes on, only slower
            logger.warning("import: could not analyse %s: %s", Customer._meta.db_table, exc)
            self.enabled = False
            return
        self.known, self.added, self.stale = max(self._read()[0], 0), 0, False


def write_batch(plans: list[RowPlan], *, actor, job, allow_duplicates: bool) -> tuple[int, int, list[RowPlan]]:
    """Write the planned rows of one batch (in the caller's transaction). Returns the numbers
    of customers created and of rows that matched an existing customer (unchanged ones count
    too), and the rejected plans (likely duplicates included unless allowed), by row number."""
    now = timezone.now()
    note = _("导入 #%(id)s：%(file)s") % {"id": job.pk, "file": job.file_name}
    rejected = [p for p in plans if p.action == "reject"]
    creates = []
    for plan in plans:
        if plan.action != "create":
            continue
        if plan.duplicates and not allow_duplicates:
            rejected.append(plan)
            continue
        creates.append(plan)
    rejected.sort(key=lambda p: p.number)
    updates = [p for p in plans if p.action == "update"]
    audit = AuditCopyWriter(model=Customer, actor=actor, at=now)
    with connection.cursor() as cursor:
        # The batch's commit does not wait for its WAL to reach the disk: a crash of the database
        # server may lose the last batches committed (well under a second's worth), but each
        # whole, with the job's counters, which are in the same transaction. The job then resumes
        # after the last batch that survived, as after any failure. The job's final "done" is
        # committed normally, and that flushes everything before it.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        created = _create(cursor, creates, actor=actor, now=now, note=note, audit=audit)
        _update(cursor, updates, actor=actor, now=now, note=note, audit=audit)
        changed = [int(pk) for pk in audit.object_ids()]  # created, and updated with a difference
        audit.write(cursor)
    from .services import customers_updated_emit

    customers_updated_emit(customer_ids=changed, change="imported")  # nothing unless subscribed
    return created, len(updates), rejected
