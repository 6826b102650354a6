"""Write-side operations on customers and contacts: create and edit with duplicate control,
ownership transfers and the leaver handover, the shared pool (release, claim), contact moves
with their employment history. Keyword-only, transactional, audited."""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_record_bulk, audit_snapshot
from crm.integrations.enums import WebhookEventType
from crm.integrations.services import webhook_emit_many, webhook_is_subscribed
from crm.org.enums import Scope
from crm.org.selectors import region_get_active, staff_in_scope_of, tenant_config_get
from crm.org.services import StaleVersion  # one exception for every stale edit (412 in the API)

from . import search
from .enums import DEFAULT_STAGES, CustomerKind, CustomerLevel, CustomFieldType, OwnershipReason
from .models import (
    Contact,
    ContactEmployment,
    Customer,
    CustomerSettings,
    CustomFieldDefinition,
    OwnershipChange,
)
from .normalize import (
    company_name_normalize,
    credit_code_is_valid,
    credit_code_normalize,
    phone_digits,
    phone_is_plausible,
)
from .selectors import customer_get_for_actor, duplicate_candidates

CUSTOMER_FIELDS = ("kind", "name", "short_name", "credit_code", "phone", "email", "industry",
                   "region", "address", "source", "stage", "level", "tags", "owner", "department",
                   "custom", "notes")
CONTACT_FIELDS = ("customer", "name", "title", "department", "role", "phones", "emails", "wechat",
                  "birthday", "notes", "is_active")


class CreditCodeTaken(Exception):
    """An identical credit code exists: never saved, whatever the override."""

    def __init__(self, existing: Customer):
        super().__init__(existing.credit_code)
        self.existing = existing


class PossibleDuplicates(Exception):
    """Customers that look like the same company; save again with an override to proceed."""

    def __init__(self, candidates: list[dict]):
        super().__init__(f"{len(candidates)} possible duplicates")
        self.candidates = candidates


def customer_settings_get() -> CustomerSettings:
    settings_row, _created = CustomerSettings.objects.get_or_create(id=1)
    return settings_row


def stage_choices() -> dict[str, str]:
    stages = tenant_config_get().customer_stages or list(DEFAULT_STAGES)
    return {key: str(DEFAULT_STAGES.get(key, key)) for key in stages}


# -- validation ------------------------------------------------------------------------------
def _clean_custom(values: dict | None) -> dict:
    values = dict(values or {})
    definitions = {d.code: d for d in CustomFieldDefinition.objects.filter(is_active=True)}
    errors, clean = {}, {}
    for code in values:
        if code not in definitions:
            errors[f"custom.{code}"] = _("没有名为“%(code)s”的自定义字段。") % {"code": code}
    for code, definition in definitions.items():
        raw = values.get(code)
        if raw in (None, ""):
            if definition.required:
                errors[f"custom.{code}"] = _("%(label)s 为必填项。") % {"label": definition.label_zh}
            continue
        try:
            if definition.type == CustomFieldType.NUMBER:
                clean[code] = str(decimal.Decimal(str(raw)))
            elif definition.type == CustomFieldType.DATE:
                clean[code] = datetime.date.fromisoformat(str(raw)).isoformat()
            elif definition.type == CustomFieldType.CHOICE:
                if raw not in definition.choices:
                    raise ValueError
                clean[code] = raw
            else:
                clean[code] = str(raw)[:1000]
        except (ValueError, decimal.InvalidOperation):
            errors[f"custom.{code}"] = _("%(label)s 的值“%(value)s”不符合类型“%(type)s”。") % {
                "label": definition.label_zh, "value": raw,
                "type": CustomFieldType(definition.type).label}
    if errors:
        raise ValidationError(errors)
    return clean


def _clean_customer(data: dict, *, partial: bool) -> dict:
    errors: dict[str, str] = {}
    clean = dict(data)
    if "region_id" in clean:
        region_id = clean.pop("region_id")
        clean["region"] = region_get_active(region_id=region_id) if region_id is not None else None
        if region_id is not None and clean["region"] is None:
            errors["region_id"] = _("所选的区域不存在。")
    if "name" in clean or not partial:
        clean["name"] = (clean.get("name") or "").strip()
        if not clean["name"]:
            errors["name"] = _("客户名称不能为空。")
    if "kind" in clean and clean["kind"] not in CustomerKind.values:
        errors["kind"] = _("类型必须是 company 或 individual。")
    if "credit_code" in clean:
        code = credit_code_normalize(clean["credit_code"] or "")
        if code and not credit_code_is_valid(code):
            errors["credit_code"] = _("统一社会信用代码“%(code)s”无效（应为 18 位，且校验位正确）。") % {"code": code}
        clean["credit_code"] = code or None
    if "phone" in clean:
        clean["phone"] = (clean["phone"] or "").strip()
        if clean["phone"] and not phone_is_plausible(clean["phone"]):
            errors["phone"] = _("电话号码“%(phone)s”格式不正确。") % {"phone": clean["phone"]}
    if "email" in clean:
        clean["email"] = (clean["email"] or "").strip().lower()
        if clean["email"]:
            try:
                validate_email(clean["email"])
            except ValidationError:
                errors["email"] = _("请输入有效的邮箱地址。")
    if "stage" in clean and clean["stage"] not in stage_choices():
        errors["stage"] = _("阶段“%(stage)s”不存在，可选：%(choices)s") % {
            "stage": clean["stage"], "choices": ", ".join(stage_choices())}
    if "level" in clean and clean["level"] and clean["level"] not in CustomerLevel.values:
        errors["level"] = _("等级必须是 A、B、C 或 D。")
    if "tags" in clean:
        tags = [str(t).strip()[:32] for t in (clean["tags"] or []) if str(t).strip()]
        clean["tags"] = list(dict.fromkeys(tags))[:30]
    if errors:
        raise ValidationError(errors)
    if "custom" in clean:
        clean["custom"] = _clean_custom(clean["custom"])
    return clean


def _derive(customer: Customer) -> None:
    customer.name_norm = company_name_normalize(customer.name)[:200]
    customer.phone_digits = phone_digits(customer.phone)[:40]
    customer.pinyin_key = search.pinyin_key(customer.short_name, customer.name_norm)


def _check_duplicates(customer: Customer, *, actor, override: bool) -> list[dict]:
    if customer.credit_code:
        taken = Customer.objects.live().filter(credit_code=customer.credit_code)
        if customer.pk:
            taken = taken.exclude(pk=customer.pk)
        existing = taken.first()
        if existing is not None:
            raise CreditCodeTaken(existing)
    candidates = duplicate_candidates(actor=actor, name=customer.name, phone=customer.phone,
                                      email=customer.email, exclude_id=customer.pk)
    if candidates and not override:
        raise PossibleDuplicates(candidates)
    return candidates


def _owner_history(customer: Customer, *, from_owner, to_owner, reason: str, actor,
                   batch: uuid.UUID | None = None, note: str = "") -> OwnershipChange:
    return OwnershipChange(customer=customer, from_owner=from_owner, to_owner=to_owner,
                           reason=reason, actor=actor if getattr(actor, "pk", None) else None,
                           batch=batch or uuid.uuid4(), note=note[:500])


# -- webhooks (crm.integrations) --------------------------------------------------------------
def customer_webhook_payload(customer: Customer, *, change: str) -> dict:
    """The ``data`` of a customer.updated event (``customer`` with owner and region loaded)."""
    return {"id": customer.pk, "name": customer.name, "credit_code": customer.credit_code,
            "phone": customer.phone,
            "owner": {"id": customer.owner.pk, "name": customer.owner.full_name} if customer.owner_id else None,
            "region": {"id": customer.region.pk, "name": customer.region.name} if customer.region_id else None,
            "stage": customer.stage, "updated_at": customer.updated_at, "version": customer.version,
            "change": change}


def customers_updated_emit(*, customer_ids: Sequence[int], change: str) -> None:
    """customer.updated for changes made outside these services (imports, merges)."""
    _emit_customers_updated(customer_ids, change=change)


def _emit_customers_updated(customer_ids: Sequence[int], *, change: str) -> None:
    """One customer.updated event per changed customer (bulk changes too: the same payload
    shape for every consumer), sent after the caller's transaction commits; nothing when no
    endpoint subscribes. Keyed by id and version, so an event is never emitted twice."""
    if not customer_ids or not webhook_is_subscribed(event_type=WebhookEventType.CUSTOMER_UPDATED):
        return
    rows = list(Customer.objects.filter(pk__in=list(customer_ids)).select_related("owner", "region").order_by("pk"))
    webhook_emit_many(event_type=WebhookEventType.CUSTOMER_UPDATED,
                      payloads=[customer_webhook_payload(c, change=change) for c in rows],
                      idempotency_keys=[f"customer.updated:{c.pk}:v{c.version}" for c in rows])


# -- customers ---------------------------------------------------------------------------------
def customer_create(*, actor, data: dict, duplicate_override: bool = False,
                    override_reason: str = "") -> Customer:
    """Create a customer owned by the actor unless an owner in the actor's scope is named.
    Raises CreditCodeTaken, PossibleDuplicates (unless overridden) or ValidationError."""
    clean = _clean_customer(data, partial=False)
    owner = clean.pop("owner", None) or actor
    if "owner_id" in clean:  # an owner named by id: only a colleague within the actor's scope
        owner = staff_in_scope_of(actor=actor).filter(pk=clean.pop("owner_id")).first()
        if owner is None:
            raise ValidationError({"owner_id": _("负责人不存在，或不在你的管辖范围内。")})
    if owner != actor and not staff_in_scope_of(actor=actor).filter(pk=getattr(owner, "pk", owner)).exists():
        raise ValidationError({"owner": _("只能把客户分配给你管辖范围内的同事。")})
    with transaction.atomic():
        customer = Customer(**{k: v for k, v in clean.items() if k in CUSTOMER_FIELDS})
        customer.owner = owner
        if not customer.department_id:
            customer.department_id = owner.department_id
        if not customer.region_id:
            customer.region_id = owner.region_id
        customer.created_by = actor
        customer.last_activity_at = timezone.now()
        _derive(customer)
        candidates = _check_duplicates(customer, actor=actor, override=duplicate_override)
        try:
            with transaction.atomic():
                customer.save()
        except IntegrityError:  # a concurrent create took the credit code first
            raise CreditCodeTaken(Customer.objects.get(credit_code=customer.credit_code)) from None
        OwnershipChange.objects.bulk_create([_owner_history(
            customer, from_owner=None, to_owner=owner, reason=OwnershipReason.CREATED, actor=actor)])
        note = ""
        if candidates:
            note = _("确认不是重复客户（疑似：%(ids)s）：%(reason)s") % {
                "ids": ", ".join(str(c["id"]) for c in candidates), "reason": override_reason or "-"}
        audit_record(actor=actor, instance=customer, action="create", note=note,
                     changes=audit_diff({}, audit_snapshot(customer, CUSTOMER_FIELDS)))
        search.customer_index([customer.pk])
        _emit_customers_updated([customer.pk], change="created")
    return customer


def customer_update(*, actor, customer_id: int, data: dict, version: int | None = None,
                    duplicate_override: bool = False, override_reason: str = "") -> Customer:
    clean = _clean_customer(data, partial=True)
    clean.pop("owner", None)  # ownership moves only through transfer, handover, pool
    with transaction.atomic():
        customer = customer_get_for_actor(actor=actor, customer_id=customer_id, for_update=True)
        if version is not None and version != customer.version:
            raise StaleVersion(current=customer.version)
        before = audit_snapshot(customer, CUSTOMER_FIELDS)
        identity_before = (customer.name, customer.phone, customer.email, customer.credit_code)
        scope_before = (customer.owner_id, customer.department_id, customer.region_id)
        for key, value in clean.items():
            if key in CUSTOMER_FIELDS:
                setattr(customer, key, value)
        _derive(customer)
        candidates = []
        if (customer.name, customer.phone, customer.email, customer.credit_code) != identity_before:
            candidates = _check_duplicates(customer, actor=actor, override=duplicate_override)
        customer.version = F("version") + 1
        customer.save()
        customer.refresh_from_db()
        changes = audit_diff(before, audit_snapshot(customer, CUSTOMER_FIELDS))
        if changes:
            note = ""
            if candidates:
                note = _("确认不是重复客户（疑似：%(ids)s）：%(reason)s") % {
                    "ids": ", ".join(str(c["id"]) for c in candidates), "reason": override_reason or "-"}
            audit_record(actor=actor, instance=customer, action="update", changes=changes, note=note)
            _emit_customers_updated([customer.pk], change="updated")
        search.customer_index([customer.pk])
        if (customer.owner_id, customer.department_id, customer.region_id) != scope_before:
            search.scope_index([customer.pk])  # its contacts' scope tokens
    return customer


def customer_touch(*, customer_id: int, at: datetime.datetime | None = None) -> None:
    """A follow-up happened (visit, call, order...): the pool clock starts again."""
    at = at or timezone.now()
    Customer.objects.filter(pk=customer_id).filter(
        Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at)
    ).update(last_activity_at=at, pool_warned_at=None)


def _assignable_owner(actor, owner_id) -> object:
    target = staff_in_scope_of(actor=actor).filter(pk=owner_id, is_active=True).first()
    if target is None:
        raise ValidationError({"to_owner": _("接收人不存在、已停用，或不在你的管辖范围内。")})
    return target


def customers_transfer(*, actor, customer_ids: Sequence[int], to_owner_id: int, note: str = "",
                       reason: str = OwnershipReason.TRANSFER) -> int:
    """Give one or many customers (all visible to the actor) to one colleague, in one step."""
    if actor.effective_scope() == Scope.OWN and reason != OwnershipReason.TRANSFER:
        raise PermissionDenied(_("你没有交接他人客户的权限。"))
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    if not ids:
        raise ValidationError({"customer_ids": _("请至少选择一个客户。")})
    with transaction.atomic():
        to_owner = _assignable_owner(actor, to_owner_id)
        customers = list(Customer.objects.visible_to(actor).live().filter(pk__in=ids)
                         .select_for_update(of=("self",)).order_by("pk"))
        if len(customers) != len(ids):
            raise ValidationError({"customer_ids": _("有 %(n)s 个客户不存在或不在你的可见范围内。") % {
                "n": len(ids) - len(customers)}})
        return _reassign(actor=actor, customers=customers, owners=[to_owner], reason=reason, note=note)


def _reassign(*, actor, customers: list[Customer], owners: list, reason: str, note: str) -> int:
    batch = uuid.uuid4()
    history, changes_by_pk = [], {}
    now = timezone.now()
    for i, customer in enumerate(customers):
        new_owner = owners[i % len(owners)]  # several colleagues share a leaver's book evenly
        if customer.owner_id == new_owner.pk:
            continue
        history.append(_owner_history(customer, from_owner=customer.owner, to_owner=new_owner,
                                      reason=reason, actor=actor, batch=batch, note=note))
        changes_by_pk[customer.pk] = {"owner": {"old": customer.owner_id, "new": new_owner.pk}}
        customer.owner = new_owner
        customer.department_id = new_owner.department_id
        customer.last_activity_at = now
        customer.pool_warned_at = None
    moved = [c for c in customers if c.pk in changes_by_pk]
    for customer in moved:
        customer.version += 1
        customer.updated_at = now
    Customer.objects.bulk_update(moved, ["owner", "department", "last_activity_at", "pool_warned_at",
                                         "version", "updated_at"], batch_size=1000)
    OwnershipChange.objects.bulk_create(history, batch_size=1000)
    audit_record_bulk(actor=actor, instances=moved, action=reason, changes_by_pk=changes_by_pk,
                      note=note)
    search.scope_index([c.pk for c in moved])
    _emit_customers_updated([c.pk for c in moved], change=str(reason))
    return len(moved)


def customers_handover(*, actor, from_owner_id: int, to_owner_ids: Sequence[int], note: str = "") -> int:
    """The leaver handover: every customer of one person, shared among one or several
    colleagues in a single recorded operation."""
    if actor.effective_scope() == Scope.OWN:
        raise PermissionDenied(_("你没有交接他人客户的权限。"))
    if not to_owner_ids:
        raise ValidationError({"to_owner_ids": _("请至少选择一位接收人。")})
    with transaction.atomic():
        owners = [_assignable_owner(actor, pk) for pk in dict.fromkeys(to_owner_ids)]
        if any(o.pk == from_owner_id for o in owners):
            raise ValidationError({"to_owner_ids": _("接收人不能是交出客户的人本人。")})
        customers = list(Customer.objects.visible_to(actor).live().filter(owner_id=from_owner_id)
                         .select_for_update(of=("self",)).order_by("pk"))
        return _reassign(actor=actor, customers=customers, owners=owners,
                         reason=OwnershipReason.HANDOVER, note=note)


# -- the shared pool -----------------------------------------------------------------------------
def customer_release(*, actor, customer_id: int, note: str = "") -> Customer:
    """Put a customer back into the pool by hand (its owner or a manager over it)."""
    with transaction.atomic():
        customer = customer_get_for_actor(actor=actor, customer_id=customer_id, for_update=True)
        if customer.owner_id is None:
            return customer
        _release([customer], actor=actor, note=note)
        customer.refresh_from_db()
    return customer


def _release(customers: list[Customer], *, actor, note: str) -> int:
    now = timezone.now()
    batch = uuid.uuid4()
    history = [_owner_history(c, from_owner=c.owner, to_owner=None, reason=OwnershipReason.RELEASED,
                              actor=actor, batch=batch, note=note) for c in customers]
    changes = {c.pk: {"owner": {"old": c.owner_id, "new": None}} for c in customers}
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
        released_from_id=F("owner_id"), owner=None, released_at=now, pool_warned_at=None,
        version=F("version") + 1, updated_at=now)
    OwnershipChange.objects.bulk_create(history, batch_size=1000)
    audit_record_bulk(actor=actor, instances=customers, action="release", changes_by_pk=changes, note=note)
    search.scope_index([c.pk for c in customers])
    _emit_customers_updated([c.pk for c in customers], change="released")
    return len(customers)


@dataclass
class PoolRun:
    warned: list[tuple[int, int]]  # (owner id, customer id)
    released: int


def pool_run(*, now: datetime.datetime | None = None, batch_size: int = 1000) -> PoolRun:
    """The periodic pool job of one tenant: warn owners of customers about to be released,
    release those without follow-up for N days."""
    now = now or timezone.now()
    rules = customer_settings_get()
    release_before = now - datetime.timedelta(days=rules.release_after_days)
    warn_before = release_before + datetime.timedelta(days=rules.warn_before_days)
    owned = Customer.objects.live().filter(owner__isnull=False)
    released = 0
    while True:
        with transaction.atomic():
            due = list(owned.filter(last_activity_at__lt=release_before)
                       .select_for_update(skip_locked=True, of=("self",)).order_by("pk")[:batch_size])
            if not due:
                break
            released += _release(due, actor=None, note=_("超过 %(n)s 天未跟进，自动释放") % {
                "n": rules.release_after_days})
    with transaction.atomic():
        to_warn = list(owned.filter(last_activity_at__lt=warn_before, pool_warned_at__isnull=True)
                       .values_list("owner_id", "pk")[:10000])
        Customer.objects.filter(pk__in=[pk for _o, pk in to_warn]).update(pool_warned_at=now)
    return PoolRun(warned=to_warn, released=released)


def customer_claim(*, actor, customer_id: int) -> Customer:
    """Take a customer from the pool, within the role's daily limit; the owner it was
    released from waits M days."""
    from .selectors import pool_visible_to

    rules = customer_settings_get()
    now = timezone.now()
    with transaction.atomic():
        customer = pool_visible_to(actor=actor).select_for_update(of=("self",)).filter(pk=customer_id).first()
        if customer is None:
            raise Customer.DoesNotExist
        if (customer.released_from_id == actor.pk and customer.released_at
                and customer.released_at > now - datetime.timedelta(days=rules.reclaim_block_days)):
            until = customer.released_at + datetime.timedelta(days=rules.reclaim_block_days)
            raise ValidationError({"customer": _("这个客户是从你名下释放的，%(date)s 之后才能再次领取。") % {
                "date": timezone.localtime(until).strftime("%Y-%m-%d %H:%M")}})
        limit = claim_limit_for(actor, rules)
        today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        claimed_today = OwnershipChange.objects.filter(to_owner=actor, reason=OwnershipReason.CLAIMED,
                                                       at__gte=today).count()
        if claimed_today >= limit:
            raise ValidationError({"customer": _("你今天已领取 %(n)s 个客户，达到角色上限 %(limit)s 个。") % {
                "n": claimed_today, "limit": limit}})
        _reassign(actor=actor, customers=[customer], owners=[actor], reason=OwnershipReason.CLAIMED, note="")
        customer.refresh_from_db()
    return customer


def claim_limit_for(actor, rules: CustomerSettings) -> int:
    limits = [rules.claim_limits[c] for c in actor.role_codes() if c in rules.claim_limits]
    return max(limits) if limits else rules.default_claim_limit


def customer_settings_update(*, actor, **fields) -> CustomerSettings:
    from crm.org.permissions import can_manage_settings

    if not can_manage_settings(actor):
        raise PermissionDenied(_("你没有修改公司设置的权限。"))
    with transaction.atomic():
        row = CustomerSettings.objects.select_for_update().get_or_create(id=1)[0]
        names = ("release_after_days", "warn_before_days", "reclaim_block_days", "claim_limits",
                 "default_claim_limit")
        before = audit_snapshot(row, names)
        for key, value in fields.items():
            if key not in names:
                raise ValidationError({key: _("未知的设置项。")})
            setattr(row, key, value)
        if row.warn_before_days >= row.release_after_days:
            raise ValidationError({"warn_before_days": _("提醒天数必须小于释放天数。")})
        row.save()
        audit_record(actor=actor, instance=row, action="update",
                     changes=audit_diff(before, audit_snapshot(row, names)))
    return row


# -- contacts ------------------------------------------------------------------------------------
def _clean_contact(data: dict) -> dict:
    clean = dict(data)
    errors = {}
    if "name" in clean:
        clean["name"] = (clean["name"] or "").strip()
        if not clean["name"]:
            errors["name"] = _("联系人姓名不能为空。")
    if "phones" in clean:
        phones = [str(p).strip() for p in clean["phones"] or [] if str(p).strip()]
        bad = [p for p in phones if not phone_is_plausible(p)]
        if bad:
            errors["phones"] = _("电话号码“%(phone)s”格式不正确。") % {"phone": bad[0]}
        clean["phones"] = phones[:10]
    if "emails" in clean:
        emails = [str(e).strip().lower() for e in clean["emails"] or [] if str(e).strip()]
        for email in emails:
            try:
                validate_email(email)
            except ValidationError:
                errors["emails"] = _("邮箱“%(email)s”无效。") % {"email": email}
        clean["emails"] = emails[:10]
    if errors:
        raise ValidationError(errors)
    return clean


def contact_create(*, actor, customer_id: int, data: dict) -> Contact:
    clean = _clean_contact({**data, "name": data.get("name", "")})
    with transaction.atomic():
        customer = customer_get_for_actor(actor=actor, customer_id=customer_id)
        contact = Contact(customer=customer, created_by=actor,
                          **{k: v for k, v in clean.items() if k in CONTACT_FIELDS and k != "customer"})
        contact.save()
        ContactEmployment.objects.create(contact=contact, customer=customer, title=contact.title,
                                         department=contact.department, role=contact.role,
                                         started_at=timezone.now())
        audit_record(actor=actor, instance=contact, action="create",
                     changes=audit_diff({}, audit_snapshot(contact, CONTACT_FIELDS)))
        search.contact_index([contact.pk])
    return contact


def contact_update(*, actor, contact_id: int, data: dict, version: int | None = None) -> Contact:
    """Edit a contact. A new customer, title, department or role closes the current
    employment row and opens a new one, so both employers keep the history."""
    from .selectors import contact_get_for_actor

    clean = _clean_contact(data)
    with transaction.atomic():
        contact = contact_get_for_actor(actor=actor, contact_id=contact_id, for_update=True)
        if version is not None and version != contact.version:
            raise StaleVersion(current=contact.version)
        before = audit_snapshot(contact, CONTACT_FIELDS)
        if "customer_id" in clean:
            clean["customer"] = customer_get_for_actor(actor=actor, customer_id=clean.pop("customer_id"))
        job_before = (contact.customer_id, contact.title, contact.department, contact.role)
        for key, value in clean.items():
            if key in CONTACT_FIELDS:
                setattr(contact, key, value)
        contact.version = F("version") + 1
        contact.save()
        contact.refresh_from_db()
        job_after = (contact.customer_id, contact.title, contact.department, contact.role)
        if job_after != job_before:
            now = timezone.now()
            ContactEmployment.objects.filter(contact=contact, ended_at__isnull=True).update(ended_at=now)
            ContactEmployment.objects.create(contact=contact, customer=contact.customer, title=contact.title,
                                             department=contact.department, role=contact.role,
                                             started_at=now)
        changes = audit_diff(before, audit_snapshot(contact, CONTACT_FIELDS))
        if changes:
            audit_record(actor=actor, instance=contact, action="update", changes=changes)
        search.contact_index([contact.pk])
    return contact


def custom_field_define(*, actor, code: str, label_zh: str, label_en: str, type: str,
                        choices: Iterable[str] = (), required: bool = False) -> CustomFieldDefinition:
    from crm.org.permissions import can_manage_settings

    if not can_manage_settings(actor):
        raise PermissionDenied(_("你没有修改公司设置的权限。"))
    if type not in CustomFieldType.values:
        raise ValidationError({"type": _("字段类型必须是 text、number、date 或 choice。")})
    choices = [str(c) for c in choices]
    if type == CustomFieldType.CHOICE and not choices:
        raise ValidationError({"choices": _("单选字段至少需要一个选项。")})
    if CustomFieldDefinition.objects.filter(code=code).exists():
        raise ValidationError({"code": _("字段代码“%(code)s”已存在。") % {"code": code}})
    with transaction.atomic():
        definition = CustomFieldDefinition.objects.create(
            code=code, label_zh=label_zh, label_en=label_en, type=type, choices=choices,
            required=required, position=CustomFieldDefinition.objects.count())
        audit_record(actor=actor, instance=definition, action="create",
                     changes=audit_diff({}, audit_snapshot(definition, ["code", "label_zh", "type", "choices", "required"])))
    return definition


# -- saved views -------------------------------------------------------------------------------------
MAX_SAVED_VIEWS = 20


def saved_view_save(*, actor, name: str, query: str):
    """Keep (or replace) a named filter set for the actor; at most MAX_SAVED_VIEWS each."""
    from .models import SavedView

    name = (name or "").strip()[:40]
    if not name:
        raise ValidationError({"name": _("请给这个视图起个名字。")})
    with transaction.atomic():
        view, created = SavedView.objects.update_or_create(user=actor, name=name,
                                                           defaults={"query": query[:1000]})
        if created and SavedView.objects.filter(user=actor).count() > MAX_SAVED_VIEWS:
            raise ValidationError({"name": _("最多保存 %(n)s 个视图，请先删除不用的。") % {"n": MAX_SAVED_VIEWS}})
    return view


def saved_view_delete(*, actor, name: str) -> None:
    from .models import SavedView

    SavedView.objects.filter(user=actor, name=name).delete()
