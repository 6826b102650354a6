"""The pre-go-live clean-up: a scan of the whole tenant for groups of likely duplicates, and
merging a duplicate into a survivor (contacts, activities and the rest move over), audited
and undoable."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_record, audit_snapshot
from crm.org.enums import Scope

from . import links, search
from .models import Contact, Customer, MergeRecord

# Fields a merge may fill on the survivor when the survivor has none.
FILLABLE = ("short_name", "phone", "email", "industry", "address", "source", "level", "region",
            "credit_code", "external_id")
SNAPSHOT_FIELDS = FILLABLE + ("tags", "notes", "custom")


def can_clean_up(actor) -> bool:
    """The de-duplication pass is a company-wide job: roles that see everything."""
    return bool(actor and actor.is_authenticated and actor.is_active
                and actor.effective_scope() == Scope.ALL)


@dataclass
class DuplicateGroup:
    ids: list[int]
    reasons: set[str] = field(default_factory=set)


def duplicate_groups(*, actor, limit: int = 500) -> list[DuplicateGroup]:
    """Groups of customers sharing a normalised name, a phone number or an e-mail address,
    joined when they overlap (A~B by name, B~C by phone: one group). One GROUP BY per key over
    indexed columns, then a union-find in Python."""
    if not can_clean_up(actor):
        raise PermissionDenied(_("只有可见全部客户的角色才能做全库查重。"))
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    pair_reason: list[tuple[list[int], str]] = []
    table = Customer._meta.db_table
    with connection.cursor() as cursor:
        for column, reason, condition in (("name_norm", "name", "name_norm <> ''"),
                                          ("phone_digits", "phone", "length(phone_digits) >= 5"),
                                          ("email", "email", "email <> ''")):
            cursor.execute(
                f"SELECT array_agg(id ORDER BY id) FROM {table} "
                f"WHERE merged_into_id IS NULL AND {condition} "
                f"GROUP BY {column} HAVING count(*) > 1")
            for (ids,) in cursor.fetchall():
                pair_reason.append((ids, reason))
                for other in ids[1:]:
                    a, b = find(ids[0]), find(other)
                    if a != b:
                        parent[b] = a
    groups: dict[int, DuplicateGroup] = {}
    for ids, reason in pair_reason:
        root = find(ids[0])
        group = groups.setdefault(root, DuplicateGroup(ids=[]))
        group.ids = sorted(set(group.ids) | set(ids))
        group.reasons.add(reason)
    ordered = sorted(groups.values(), key=lambda g: (-len(g.ids), g.ids[0]))
    return ordered[:limit]


def duplicate_groups_with_customers(*, actor, limit: int = 500) -> list[dict]:
    """The scan's groups with their customer rows (for the review page and the API)."""
    groups = duplicate_groups(actor=actor, limit=limit)
    ids = {pk for g in groups for pk in g.ids}
    rows = {c.pk: c for c in Customer.objects.filter(pk__in=ids).select_related("owner", "region")}
    return [{"reasons": sorted(g.reasons), "customers": [rows[pk] for pk in g.ids if pk in rows]}
            for g in groups]


def merge_history(*, actor, limit: int = 20):
    if not can_clean_up(actor):
        raise PermissionDenied(_("只有可见全部客户的角色才能做全库查重。"))
    return MergeRecord.objects.select_related("survivor", "merged", "actor")[:limit]


def _lock_pair(actor, survivor_id: int, merged_id: int) -> tuple[Customer, Customer]:
    if survivor_id == merged_id:
        raise ValidationError({"merged_id": _("不能把客户合并到它自己。")})
    rows = {c.pk: c for c in Customer.objects.visible_to(actor)
            .filter(pk__in=[survivor_id, merged_id]).select_for_update(of=("self",)).order_by("pk")}
    if len(rows) != 2:
        raise Customer.DoesNotExist
    return rows[survivor_id], rows[merged_id]


def customer_merge(*, actor, survivor_id: int, merged_id: int) -> MergeRecord:
    """Merge ``merged`` into ``survivor``: its contacts and every record another app links to it
    (crm.customers.links: activities, tasks, opportunities, quotes, ...) move, empty fields of
    the survivor are filled from it, tags are combined, and it is marked merged (hidden from
    lists and search, kept for the record). Undo with ``customer_merge_undo``."""
    if not can_clean_up(actor):
        raise PermissionDenied(_("只有可见全部客户的角色才能合并客户。"))
    with transaction.atomic():
        survivor, merged = _lock_pair(actor, survivor_id, merged_id)
        if survivor.merged_into_id or merged.merged_into_id:
            raise ValidationError({"merged_id": _("其中一个客户已经被合并过了。")})
        survivor_before = audit_snapshot(survivor, SNAPSHOT_FIELDS)
        merged_before = audit_snapshot(merged, SNAPSHOT_FIELDS)
        contact_ids = list(Contact.objects.filter(customer=merged).values_list("pk", flat=True))
        linked = links.registered()
        linked_ids = links.moved_ids(linked, merged.pk)  # activities, tasks, opportunities, quotes, ...
        filled = {}
        # Unique values move rather than copy: clear them on the merged row first.
        moving_unique = {f: getattr(merged, f) for f in ("credit_code", "external_id")
                         if getattr(merged, f) and not getattr(survivor, f)}
        if moving_unique:
            Customer.objects.filter(pk=merged.pk).update(**{f: None for f in moving_unique})
        for name in FILLABLE:
            ours, theirs = getattr(survivor, name), getattr(merged, name)
            if not ours and theirs:
                setattr(survivor, name, theirs)
                filled[name] = audit_snapshot(merged, [name])[name]
        survivor.tags = list(dict.fromkeys([*survivor.tags, *merged.tags]))
        if merged.notes and merged.notes not in survivor.notes:
            survivor.notes = (survivor.notes + "\n" if survivor.notes else "") + merged.notes
        from .services import _derive

        _derive(survivor)
        survivor.version += 1
        survivor.save()
        Contact.objects.filter(pk__in=contact_ids).update(customer=survivor, updated_at=timezone.now())
        for link in linked:
            link.move(ids=linked_ids[link.key], customer_id=survivor.pk, actor=actor)
        now = timezone.now()
        Customer.objects.filter(pk=merged.pk).update(merged_into=survivor, merged_at=now,
                                                     version=merged.version + 1, updated_at=now)
        record = MergeRecord.objects.create(
            survivor=survivor, merged=merged, actor=actor,
            moved={"contacts": contact_ids, **linked_ids, "filled": sorted(filled)},
            survivor_snapshot=survivor_before, merged_snapshot=merged_before)
        audit_record(actor=actor, instance=survivor, action="merge",
                     changes={k: {"old": survivor_before.get(k), "new": v} for k, v in filled.items()},
                     note=_("合并了客户 #%(id)s “%(name)s”") % {"id": merged.pk, "name": merged.name})
        audit_record(actor=actor, instance=merged, action="merged",
                     changes={"merged_into": {"old": None, "new": survivor.pk}},
                     note=_("并入客户 #%(id)s") % {"id": survivor.pk})
        search.customer_index([survivor.pk])
        search.scope_index([survivor.pk])  # the contacts it took over
        search.contact_index(contact_ids)  # their update time (the phone grams rank by it)
        from .services import customers_updated_emit

        customers_updated_emit(customer_ids=[survivor.pk, merged.pk], change="merged")
    return record


def customer_merge_undo(*, actor, merge_id: int) -> MergeRecord:
    """Put both customers back as they were before the merge: the contacts and activities that
    moved go back, the survivor's filled fields are emptied again, the duplicate reappears."""
    if not can_clean_up(actor):
        raise PermissionDenied(_("只有可见全部客户的角色才能撤销合并。"))
    with transaction.atomic():
        record = MergeRecord.objects.select_for_update().filter(pk=merge_id).first()
        if record is None:
            raise MergeRecord.DoesNotExist
        if record.undone_at:
            return record  # idempotent
        survivor = Customer.objects.select_for_update().get(pk=record.survivor_id)
        merged = Customer.objects.select_for_update().get(pk=record.merged_id)
        if survivor.merged_into_id:
            raise ValidationError({"merge": _("存活客户之后又被合并了，请先撤销那次合并。")})
        before = record.survivor_snapshot
        for name in record.moved.get("filled", []):
            value = before.get(name)
            field = Customer._meta.get_field(name)
            setattr(survivor, field.attname if field.is_relation else name, value)
        survivor.tags = before.get("tags", survivor.tags)
        survivor.notes = before.get("notes", survivor.notes)
        from .services import _derive

        _derive(survivor)
        survivor.version += 1
        survivor.save()
        restore = {f: record.merged_snapshot.get(f) for f in ("credit_code", "external_id")
                   if record.merged_snapshot.get(f)}
        now = timezone.now()
        Customer.objects.filter(pk=merged.pk).update(merged_into=None, merged_at=None, updated_at=now,
                                                     version=merged.version + 1, **restore)
        Contact.objects.filter(pk__in=record.moved.get("contacts", []), customer=survivor).update(
            customer=merged, updated_at=now)
        for link in links.registered():
            link.move(ids=record.moved.get(link.key, []), customer_id=merged.pk, actor=actor)
        record.undone_at = now
        record.undone_by = actor
        record.save(update_fields=["undone_at", "undone_by"])
        audit_record(actor=actor, instance=survivor, action="merge_undone",
                     note=_("撤销合并：客户 #%(id)s 已恢复") % {"id": merged.pk})
        audit_record(actor=actor, instance=merged, action="merge_undone",
                     changes={"merged_into": {"old": survivor.pk, "new": None}})
        search.customer_index([survivor.pk, merged.pk])
        search.scope_index([survivor.pk, merged.pk])
        search.contact_index(record.moved.get("contacts", []))  # their update time (the phone grams)
        from .services import customers_updated_emit

        customers_updated_emit(customer_ids=[survivor.pk, merged.pk], change="merge_undone")
    return record
