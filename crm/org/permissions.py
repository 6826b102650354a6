"""Pure predicates: may this actor do that? No queries beyond the actor's cached roles."""

from .enums import Permission, SystemRole


def is_tenant_admin(actor) -> bool:
    return bool(actor and actor.is_authenticated and actor.is_active
                and SystemRole.TENANT_ADMIN in actor.role_codes())


def can_manage_staff(actor) -> bool:
    return bool(actor and actor.is_authenticated and actor.has_qiao_perm(Permission.MANAGE_STAFF))


def can_manage_roles(actor) -> bool:
    return bool(actor and actor.is_authenticated and actor.has_qiao_perm(Permission.MANAGE_ROLES))


def can_manage_structure(actor) -> bool:
    return bool(actor and actor.is_authenticated and actor.has_qiao_perm(Permission.MANAGE_STRUCTURE))


def can_manage_settings(actor) -> bool:
    return bool(actor and actor.is_authenticated and actor.has_qiao_perm(Permission.MANAGE_SETTINGS))


def can_view_audit_of_staff(actor, staff) -> bool:
    return bool(actor and actor.is_authenticated and (
        actor.pk == staff.pk or actor.has_qiao_perm(Permission.VIEW_AUDIT)
        or actor.has_qiao_perm(Permission.MANAGE_STAFF)))
