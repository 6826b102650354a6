"""End customers a partner sells to, registered by its users in the portal.

Registering checks for duplicates twice:
- against the partner's own end customers (the same normalised name or credit code): refused,
  naming the partner's existing row (EndCustomerExists: a 400/409 with its name);
- against the tenant's customers (normalised name, credit code, phone): never refused and never
  revealed; the row stores ``tenant_match`` and the partner is told only that a possible
  duplicate was flagged. Staff see which customers matched (end_customer_tenant_matches).

Partner users see their partner's end customers: the partner admin all of them, partner sales
those they registered, or all of the partner's when the partner admin allows it."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.customers.normalize import (
    company_name_normalize,
    credit_code_is_valid,
    credit_code_normalize,
    phone_digits,
    phone_is_plausible,
)
from crm.inputs import clean_text
from crm.org.services import StaleVersion

from .enums import MemberRole
from .models import PartnerCustomer
from .selectors import partner_get_for_actor, partner_list_visible_to, portal_member_active

FIELDS = ["name", "credit_code", "contact_name", "phone", "email", "region", "address", "notes"]


class EndCustomerExists(ValidationError):
    """The partner already registered this end customer (its own row, named in the message)."""

    def __init__(self, existing: PartnerCustomer, field: str = "name"):
        self.existing = existing
        super().__init__({field: _("你们已登记过这个终端客户：“%(name)s”（登记于 %(day)s）。") % {
            "name": existing.name, "day": timezone.localtime(existing.created_at).date().isoformat()}},
            code="duplicate")


def _member(actor):
    member = portal_member_active(actor)
    if member is None:
        raise PermissionDenied(_("只有在用的渠道伙伴用户可以登记终端客户。"))
    return member


def _clean(data: dict, *, creating: bool) -> dict:
    clean: dict = {}
    errors: dict[str, str] = {}
    texts = [("name", _("客户名称"), 200), ("contact_name", _("联系人"), 100), ("phone", _("电话"), 40),
             ("email", _("邮箱"), 254), ("address", _("地址"), 300), ("notes", _("备注"), 2000),
             ("credit_code", _("统一社会信用代码"), 40)]
    for field, label, length in texts:
        if field in data or (creating and field == "name"):
            try:
                clean[field] = clean_text(data.get(field), field=field, label=label, max_length=length,
                                          required=field == "name")
            except ValidationError as exc:
                errors[field] = exc.message_dict[field][0]
    if clean.get("name") is not None and "name" in clean and not company_name_normalize(clean["name"]):
        errors.setdefault("name", _("客户名称至少要有一个文字或字母。"))
    if clean.get("credit_code"):
        code = credit_code_normalize(clean["credit_code"])
        if not credit_code_is_valid(code):
            errors["credit_code"] = _("统一社会信用代码“%(code)s”无效（应为 18 位，且校验位正确）。") % {"code": code}
        clean["credit_code"] = code
    if clean.get("phone") and not phone_is_plausible(clean["phone"]):
        errors["phone"] = _("电话号码格式不正确。")
    if clean.get("email"):
        clean["email"] = clean["email"].lower()
        if "@" not in clean["email"] or " " in clean["email"]:
            errors["email"] = _("邮箱格式不正确。")
    if "region_id" in data:
        raw = data.get("region_id")
        if raw in (None, ""):
            clean["region"] = None
        else:
            from crm.org.selectors import region_get_active

            region = region_get_active(region_id=raw)
            if region is None:
                errors["region_id"] = _("区域不存在或已停用。")
            clean["region"] = region
    if errors:
        raise ValidationError(errors)
    return clean


def unscoped_tenant_customer_match(*, name: str = "", credit_code: str = "", phone: str = "") -> list[int]:
    """Ids of the tenant's live customers that look like this one (normalised name, credit code
    or phone). Never shown to partners: they learn only whether the list is empty."""
    from crm.customers.models import Customer

    conditions = Q()
    norm = company_name_normalize(name)
    if norm:
        conditions |= Q(name_norm=norm)
    if credit_code:
        conditions |= Q(credit_code=credit_code)
    digits = phone_digits(phone)
    if len(digits) >= 5:
        conditions |= Q(phone_digits=digits)
    if not conditions:
        return []
    return list(Customer.objects.live().filter(conditions).order_by("pk").values_list("pk", flat=True)[:10])


def _own_duplicate(partner_id: int, *, name_norm: str, credit_code: str, exclude_id: int | None = None):
    qs = PartnerCustomer.objects.filter(partner_id=partner_id)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    match = qs.filter(name_norm=name_norm).first()
    if match is not None:
        return match, "name"
    if credit_code:
        match = qs.filter(credit_code=credit_code).first()
        if match is not None:
            return match, "credit_code"
    return None, ""


def end_customer_register(*, actor, data: dict) -> tuple[PartnerCustomer, bool]:
    """Register an end customer of the actor's partner. Returns (row, possible_duplicate): whether
    the tenant already has a customer like it (nothing else about it is told)."""
    member = _member(actor)
    clean = _clean(data, creating=True)
    norm = company_name_normalize(clean["name"])[:200]
    with transaction.atomic():
        existing, field = _own_duplicate(member.partner_id, name_norm=norm, credit_code=clean.get("credit_code", ""))
        if existing is not None:
            raise EndCustomerExists(existing, field)
        match = bool(unscoped_tenant_customer_match(name=clean["name"], credit_code=clean.get("credit_code", ""),
                                                    phone=clean.get("phone", "")))
        row = PartnerCustomer(partner_id=member.partner_id, name_norm=norm, tenant_match=match, created_by=actor,
                              **clean)
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError:
            existing, field = _own_duplicate(member.partner_id, name_norm=norm, credit_code="")
            if existing is None:
                raise ValidationError({"name": _("这个终端客户刚刚被登记过，请刷新后查看。")}) from None
            raise EndCustomerExists(existing, field) from None
        audit_record(actor=actor, instance=row, action="create",
                     changes={**audit_diff({}, audit_snapshot(row, FIELDS)),
                              "tenant_match": {"old": None, "new": match}})
    return row, match


def end_customers_visible_to(*, actor) -> QuerySet[PartnerCustomer]:
    """A partner user's end customers: the partner admin all of the partner's, partner sales
    their own unless the partner lets them see all. None for anyone else."""
    member = portal_member_active(actor)
    if member is None:
        return PartnerCustomer.objects.none()
    qs = PartnerCustomer.objects.filter(partner_id=member.partner_id)
    if member.role != MemberRole.ADMIN and not member.partner.sales_see_all:
        qs = qs.filter(created_by=actor)
    return qs.select_related("region", "created_by")


def end_customer_update(*, actor, end_customer_id: int, data: dict, version: int | None = None) -> PartnerCustomer:
    """Edit an end customer the partner user sees (PartnerCustomer.DoesNotExist otherwise). A
    changed name, credit code or phone is checked for duplicates again."""
    _member(actor)
    clean = _clean({k: v for k, v in data.items() if k in FIELDS or k == "region_id"}, creating=False)
    with transaction.atomic():
        row = end_customers_visible_to(actor=actor).select_for_update(of=("self",)).get(pk=end_customer_id)
        if version is not None and int(version) != row.version:
            raise StaleVersion(current=row.version)
        before = audit_snapshot(row, FIELDS)
        for name, value in clean.items():
            setattr(row, name, value)
        row.name_norm = company_name_normalize(row.name)[:200]
        existing, field = _own_duplicate(row.partner_id, name_norm=row.name_norm, credit_code=row.credit_code,
                                         exclude_id=row.pk)
        if existing is not None:
            raise EndCustomerExists(existing, field)
        changes = audit_diff(before, audit_snapshot(row, FIELDS))
        if not changes:
            return row
        if {"name", "credit_code", "phone"} & set(changes):
            row.tenant_match = bool(unscoped_tenant_customer_match(name=row.name, credit_code=row.credit_code,
                                                                   phone=row.phone))
        row.version += 1
        row.save()
        audit_record(actor=actor, instance=row, action="update", changes=changes)
    return row


# -- staff side -----------------------------------------------------------------------------------
def end_customer_list_for_partner(*, actor, partner_id: int) -> QuerySet[PartnerCustomer]:
    """The end customers of a partner in the staff actor's scope (Partner.DoesNotExist: 404)."""
    partner = partner_get_for_actor(actor=actor, partner_id=partner_id)
    return PartnerCustomer.objects.filter(partner=partner).select_related("region", "created_by")


def end_customers_flagged_for_staff(*, actor, since_days: int = 30, limit: int = 50) -> list[PartnerCustomer]:
    """Recently registered end customers flagged as possible duplicates of the tenant's
    customers, of partners in the staff actor's scope (the channel manager's inbox)."""
    since = timezone.now() - datetime.timedelta(days=since_days)
    partners = partner_list_visible_to(actor=actor).values("pk")
    return list(PartnerCustomer.objects.filter(partner_id__in=partners, tenant_match=True, created_at__gte=since)
                .select_related("partner", "created_by").order_by("-created_at", "-id")[:limit])


def end_customer_tenant_matches(*, actor, end_customer: PartnerCustomer) -> list[dict]:
    """For staff: the tenant's customers that look like this end customer, as the customer
    duplicate check shows them to the actor (full details only for customers they may see)."""
    from crm.customers.selectors import duplicate_candidates

    found = duplicate_candidates(actor=actor, name=end_customer.name, phone=end_customer.phone,
                                 email=end_customer.email)
    if end_customer.credit_code:
        ids = set(unscoped_tenant_customer_match(credit_code=end_customer.credit_code)) - {c["id"] for c in found}
        if ids:
            from crm.customers.models import Customer

            for c in Customer.objects.filter(pk__in=ids).select_related("owner"):
                found.append({"id": c.pk, "name": c.name, "owner": c.owner.full_name if c.owner else None,
                              "in_pool": c.owner_id is None, "visible": False, "matched_on": ["credit_code"]})
    return found
