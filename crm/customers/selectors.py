"""Read-side queries on customers and contacts. Every read starts from visible_to."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.org.enums import Scope

from .models import Contact, ContactEmployment, Customer, OwnershipChange
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
    return Contact.objects.visible_to(actor).filter(customer__merged_into__isnull=True).select_related("customer")


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
    follow-up. A malformed value raises ValidationError naming the parameter."""
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
