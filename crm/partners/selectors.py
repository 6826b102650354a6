"""Reads of partners for staff (``visible_to`` their scope) and the partner a portal user
belongs to. Portal reads of a partner's own records are in crm.partners.portal."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.org.enums import UserKind

from .enums import PartnerStatus
from .models import Partner, PartnerMember, PartnerSettings, PartnerTier


def partner_settings_get() -> PartnerSettings:
    row, _created = PartnerSettings.objects.get_or_create(id=1)
    return row


def tier_list(*, include_inactive: bool = False) -> QuerySet[PartnerTier]:
    qs = PartnerTier.objects.all()
    return qs if include_inactive else qs.filter(is_active=True)


def partner_list_visible_to(*, actor) -> QuerySet[Partner]:
    if actor is None or getattr(actor, "is_partner_user", True):
        return Partner.objects.none()
    return Partner.objects.visible_to(actor).select_related("tier", "owner", "region")


def partner_get_for_actor(*, actor, partner_id) -> Partner:
    """Partner.DoesNotExist when it does not exist or is outside the actor's scope (404)."""
    return partner_list_visible_to(actor=actor).get(pk=partner_id)


def unscoped_partner_get(*, partner_id) -> Partner:
    return Partner.objects.select_related("tier", "owner").get(pk=partner_id)


def member_of(user) -> PartnerMember | None:
    """The partner membership of a portal user (with its partner and tier), cached on the user
    object for the request; None for staff, anonymous users and users without one."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "kind", None) != UserKind.PARTNER:
        return None
    cached = getattr(user, "_partner_member_cache", False)
    if cached is not False:
        return cached
    member = (PartnerMember.objects.select_related("partner", "partner__tier", "partner__owner")
              .filter(user_id=user.pk).first())
    user._partner_member_cache = member
    return member


def portal_member_active(user) -> PartnerMember | None:
    """The membership of a portal user who may use the portal now: an active user of an active
    partner. None otherwise (suspended or terminated partners lock their users out at once)."""
    member = member_of(user)
    if member is None or not user.is_active or member.partner.status != PartnerStatus.ACTIVE:
        return None
    return member


def members_of_partner(*, partner_id) -> QuerySet[PartnerMember]:
    return (PartnerMember.objects.filter(partner_id=partner_id).select_related("user")
            .order_by("-user__is_active", "role", "user__full_name", "id"))
