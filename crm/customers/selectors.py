"""Read-side queries on customers and contacts. Every read starts from visible_to."""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Collate
from django.utils.translation import gettext_lazy

from crm.org.enums import Scope

from .models import NAME_COLLATION, Contact, ContactEmployment, Customer, OwnershipChange
from .normalize import company_name_normalize, phone_digits


def customer_list_visible_to(*, actor) -> QuerySet[Customer]:
    return (Customer.objects.visible_to(actor).live()
            .select_related("owner", "region", "department"))


def customer_get_for_actor(*, actor, customer_id, for_update: bool = False) -> Customer:
    """The customer if the actor may see it; Customer.DoesNotExist otherwise (a 404)."""
    qs = Customer.objects.visible_to(actor).live().filter(pk=customer_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    return qs.get()


def pool_visible_to(*, actor) -> QuerySet[Customer]:
    """Customers in the shared pool that the actor may see and claim: those of the actor's
    region and its sub-regions (or of no region); everything for company-wide roles."""
    qs = Customer.objects.in_pool().select_related("region", "released_from")
    if not actor.is_active:
        return qs.none()
    if actor.effective_scope() == Scope.ALL or not actor.region_id:
        return qs
    from crm.org.scoping import subtree_ids

    return qs.filter(Q(region__isnull=True) | Q(region__in=subtree_ids(actor.region)))


def contact_list_visible_to(*, actor) -> QuerySet[Contact]:
    """No test of the customer's merge state: a merge moves every contact to the survivor and
    a merged customer takes no new contacts (it is not found by customer_get_for_actor), so
    the join it would cost on every contact read (a whole search's matches) buys nothing."""
    return Contact.objects.visible_to(actor).select_related("customer")


def contact_get_for_actor(*, actor, contact_id, for_update: bool = False) -> Contact:
    qs = Contact.objects.visible_to(actor).filter(pk=contact_id)
    if for_update:
        qs = qs.select_for_update(of=("self",))
    return qs.get()


def customer_owner_history(*, customer: Customer) -> QuerySet[OwnershipChange]:
    return customer.ownership_changes.select_related("from_owner", "to_owner", "actor").order_by("-at", "-id")


def customer_past_contacts(*, customer: Customer) -> QuerySet[ContactEmployment]:
    """People who worked at this customer and have moved on (the contact moved elsewhere)."""
    return (ContactEmployment.objects.filter(customer=customer, ended_at__isnull=False)
            .exclude(contact__customer=customer).select_related("contact", "contact__customer"))


def duplicate_candidates(*, actor, name: str = "", phone: str = "", email: str = "",
                         exclude_id: int | None = None, limit: int = 10) -> list[dict]:
    """Customers anywhere in the tenant that look like the same one: the same normalised
    name, phone or email. A candidate the actor may not see shows only its name and owner,
    so nobody is told more than "this customer already exists, ask X"."""
    conditions = Q()
    norm = company_name_normalize(name)
    if norm:
        conditions |= Q(name_norm=norm)
    digits = phone_digits(phone)
    if len(digits) >= 5:
        conditions |= Q(phone_digits=digits)
    if email:
        conditions |= Q(email=email.strip().lower())
    if not conditions:
        return []
    qs = Customer.objects.live().filter(conditions).select_related("owner")
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    found = list(qs.order_by("pk")[:limit])
    visible = set(Customer.objects.visible_to(actor).filter(pk__in=[c.pk for c in found])
                  .values_list("pk", flat=True)) if found else set()
    result = []
    for c in found:
        reasons = []
        if norm and c.name_norm == norm:
            reasons.append("name")
        if len(digits) >= 5 and c.phone_digits == digits:
            reasons.append("phone")
        if email and c.email == email.strip().lower():
            reasons.append("email")
        item = {"id": c.pk, "name": c.name, "owner": c.owner.full_name if c.owner else None,
                "in_pool": c.owner_id is None, "visible": c.pk in visible, "matched_on": reasons}
        if c.pk in visible:
            item.update(phone=c.phone, email=c.email, credit_code=c.credit_code)
        result.append(item)
    return result


def saved_views_for(*, actor) -> list:
    from .models import SavedView

    return list(SavedView.objects.filter(user=actor).order_by("name"))


def customer_list_filter(qs: QuerySet[Customer], params) -> QuerySet[Customer]:
    """The list filters shared by the API, the web list and the export: owner, region (with
    sub-regions), stage, level, tags, kind, created/updated ranges, days since the last
    follow-up. A malformed value raises ValidationError naming the parameter. (The order and
    the pages: ``customer_sort_get`` and ``customer_list_page`` below.)"""
    import datetime

    from django.core.exceptions import ValidationError
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime
    from django.utils.translation import gettext as _

    from crm.org.selectors import region_subtree_ids

    if params.get("owner"):
        qs = qs.filter(owner_id=params["owner"]) if params["owner"].isdigit() else qs.none()
    if params.get("region"):
        ids = region_subtree_ids(region_id=params["region"]) if params["region"].isdigit() else None
        qs = qs.filter(region__in=ids) if ids else qs.none()
    for name in ("stage", "level", "kind"):
        if params.get(name):
            qs = qs.filter(**{name: params[name]})
    if params.get("tag"):
        qs = qs.filter(tags__contains=[t for t in params.getlist("tag") if t])
    for name, lookup in (("created_after", "created_at__gte"), ("created_before", "created_at__lt"),
                         ("updated_after", "updated_at__gte"), ("updated_before", "updated_at__lt")):
        if params.get(name):
            value = parse_datetime(params[name]) or parse_datetime(params[name] + "T00:00:00+08:00")
            if value is None:
                raise ValidationError({name: _("时间格式应为 ISO 8601，例如 2026-01-31 或 2026-01-31T08:00:00+08:00。")})
            qs = qs.filter(**{lookup: value})
    if params.get("idle_days"):
        if not params["idle_days"].isdigit():
            raise ValidationError({"idle_days": _("请输入天数。")})
        since = timezone.now() - datetime.timedelta(days=int(params["idle_days"]))
        qs = qs.filter(Q(last_activity_at__lt=since) | Q(last_activity_at__isnull=True))
    return qs


# -- sorted keyset pages of the customer list ----------------------------------------------------
# Every sort is a walk over (key, id) on an index that starts with the key (and one that
# starts with the owner, for "my customers" and ?owner=): a range scan from the cursor,
# never an OFFSET, correct for ties because the id breaks them. A customer without any
# follow-up (last_activity_at NULL) counts as the oldest: first when oldest first, last when
# newest first. Names sort by NAME_COLLATION: pinyin order (ICU's Chinese collation) where
# the database has ICU, code-point order where it does not (the migration that adds the
# index creates the collation accordingly).


@dataclass(frozen=True)
class CustomerSort:
    value: str  # the ?sort= value
    field: str
    descending: bool
    label: str
    nullable: bool = False  # NULL counts as the smallest value
    collation: str | None = None

    def key(self):
        return Collate(self.field, self.collation) if self.collation else F(self.field)


CUSTOMER_SORTS: dict[str, CustomerSort] = {s.value: s for s in (
    CustomerSort("-updated_at", "updated_at", True, gettext_lazy("最近更新")),
    CustomerSort("updated_at", "updated_at", False, gettext_lazy("最早更新")),
    CustomerSort("-created_at", "created_at", True, gettext_lazy("最新创建")),
    CustomerSort("created_at", "created_at", False, gettext_lazy("最早创建")),
    CustomerSort("last_activity_at", "last_activity_at", False, gettext_lazy("最久未跟进（即将释放）"), nullable=True),
    CustomerSort("-last_activity_at", "last_activity_at", True, gettext_lazy("最近跟进优先"), nullable=True),
    CustomerSort("name", "name", False, gettext_lazy("名称（拼音 A→Z）"), collation=NAME_COLLATION),
    CustomerSort("-name", "name", True, gettext_lazy("名称（拼音 Z→A）"), collation=NAME_COLLATION),
)}
CUSTOMER_SORT_DEFAULT = "-updated_at"


def customer_sort_get(value: str | None) -> CustomerSort:
    """The sort named by ``?sort=`` (the default when empty); ValidationError naming the
    allowed values otherwise."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    if not value:
        return CUSTOMER_SORTS[CUSTOMER_SORT_DEFAULT]
    if value not in CUSTOMER_SORTS:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": value[:40], "choices": ", ".join(CUSTOMER_SORTS)}})
    return CUSTOMER_SORTS[value]


@dataclass
class KeysetPage:
    rows: list
    next_cursor: str | None = None
    previous_cursor: str | None = None


def _cursor_encode(sort: CustomerSort, row, *, backwards: bool) -> str:
    value = getattr(row, sort.field)
    if isinstance(value, datetime.datetime):
        value = value.astimezone(datetime.UTC).isoformat()
    raw = json.dumps([sort.value, "p" if backwards else "n", value, row.pk], ensure_ascii=False,
                     separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _cursor_decode(sort: CustomerSort, token: str):
    """(backwards, value, id) of a cursor made by ``_cursor_encode`` for the same sort."""
    from django.core.exceptions import ValidationError
    from django.utils.translation import gettext as _

    invalid = ValidationError({"cursor": _("翻页位置无效，请从第一页重新开始。")})
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        sort_value, direction, value, pk = json.loads(raw)
    except (ValueError, TypeError, UnicodeDecodeError):
        raise invalid from None
    if sort_value != sort.value:
        raise ValidationError({"cursor": _("这个翻页位置属于排序“%(cursor)s”，不能用于排序“%(sort)s”；请从第一页重新开始。") % {
            "cursor": str(sort_value)[:40], "sort": sort.value}})
    try:
        if direction not in ("n", "p") or not isinstance(pk, int) or isinstance(pk, bool):
            raise ValueError(direction)
        if value is not None:
            if sort.field.endswith("_at"):
                value = datetime.datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError(value)
            elif not isinstance(value, str):
                raise ValueError(value)
        elif not sort.nullable:
            raise ValueError(value)
    except (ValueError, TypeError):
        raise invalid from None
    return direction == "p", value, pk


def _walk(qs: QuerySet[Customer], sort: CustomerSort, *, descending: bool, after, limit: int) -> list:
    """Up to ``limit`` rows of ``qs`` in the order (key, id), descending or not, strictly after
    the position ``after`` ((value, id), or None for the start). A nullable key is walked as
    two segments, the NULL rows (by id) before the others ascending and after them
    descending, each one index range scan."""
    qs = qs.alias(_sort_key=sort.key())
    key = F("_sort_key")
    beyond = "lt" if descending else "gt"
    order_id = F("id").desc() if descending else F("id").asc()
    if descending:
        order_key = key.desc(nulls_last=True) if sort.nullable else key.desc()
    else:
        order_key = key.asc(nulls_first=True) if sort.nullable else key.asc()
    segments = ["value", "null"] if descending else ["null", "value"]
    if not sort.nullable:
        segments = ["value"]
    bound = None
    if after is not None:
        value, pk = after
        segment = "null" if value is None else "value"
        segments = segments[segments.index(segment):]
        if value is None:
            bound = Q(**{f"id__{beyond}": pk})
        else:
            edge = "lte" if descending else "gte"
            bound = Q(**{f"_sort_key__{edge}": value}) & (Q(**{f"_sort_key__{beyond}": value})
                                                          | Q(**{f"id__{beyond}": pk}))
    rows: list = []
    for i, segment in enumerate(segments):
        part = qs.filter(_sort_key__isnull=True) if segment == "null" else (
            qs.filter(_sort_key__isnull=False) if sort.nullable else qs)
        if i == 0 and bound is not None:
            part = part.filter(bound)
        rows += list(part.order_by(order_key, order_id)[:limit - len(rows)])
        if len(rows) >= limit:
            break
    return rows


def customer_list_page(qs: QuerySet[Customer], *, sort: CustomerSort, cursor: str | None = None,
                       limit: int = 50) -> KeysetPage:
    """One page of ``qs`` in ``sort`` order, after (or, for a "previous" cursor, before) the
    row the cursor names. Raises ValidationError on a cursor that is malformed or belongs to
    another sort."""
    backwards, after = False, None
    if cursor:
        backwards, value, pk = _cursor_decode(sort, cursor)
        after = (value, pk)
    if not backwards:
        rows = _walk(qs, sort, descending=sort.descending, after=after, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        return KeysetPage(
            rows=rows,
            next_cursor=_cursor_encode(sort, rows[-1], backwards=False) if more else None,
            previous_cursor=_cursor_encode(sort, rows[0], backwards=True) if rows and after else None)
    rows = _walk(qs, sort, descending=not sort.descending, after=after, limit=limit + 1)
    if not rows:  # nothing before it (any more): the first page
        return customer_list_page(qs, sort=sort, limit=limit)
    more = len(rows) > limit
    rows = rows[:limit][::-1]
    return KeysetPage(
        rows=rows,
        next_cursor=_cursor_encode(sort, rows[-1], backwards=False),
        previous_cursor=_cursor_encode(sort, rows[0], backwards=True) if more else None)


def unscoped_customer_place(*, customer_id: int) -> tuple[int | None, int | None]:
    """(department id, region id) of a customer, whoever asks (for records that follow it)."""
    row = Customer.objects.filter(pk=customer_id).values_list("department_id", "region_id").first()
    return row or (None, None)
