"""Who may do what with partners (staff side). Partner users' own rights are in crm.partners.portal."""

from crm.org.enums import Permission, Scope


def can_manage_partners(actor) -> bool:
    """Create partners, edit them, change their status and tier, set quotas, invite their users
    (within the actor's scope): the partners.manage permission."""
    return bool(actor and actor.is_active and not actor.is_partner_user
                and actor.has_qiao_perm(Permission.MANAGE_PARTNERS))


def can_manage_tiers(actor) -> bool:
    """Tiers and channel settings are company-wide: partners.manage with the "all" scope."""
    return can_manage_partners(actor) and actor.effective_scope() == Scope.ALL
