"""Pure predicates: may this actor do that to an order? No queries beyond the actor's cached
roles. The caller has already found the order through ``visible_to`` (outside the actor's
scope is a 404 before any of these is asked).

crm.org has no order permission codes yet, so the business roles decide:
* the owner, the business secretaries, regional managers and the tenant admin manage an
  order (edit the draft, submit, cancel, retry the stock reservation);
* whoever manages stock (``catalog.manage_stock``: warehouse staff, the tenant admin) ships;
* finance and the tenant admin set credit limits and mark orders invoiced and paid;
* the approval steps themselves are decided by the approval engine (crm.approvals)."""

from __future__ import annotations

from crm.org.enums import Permission, SystemRole

from .enums import EDITABLE_STATUSES

ORDER_MANAGER_ROLES = frozenset({SystemRole.TENANT_ADMIN, SystemRole.BUSINESS_SECRETARY,
                                 SystemRole.REGIONAL_MANAGER})
FINANCE_ROLES = frozenset({SystemRole.FINANCE, SystemRole.TENANT_ADMIN})
CLOSER_ROLES = FINANCE_ROLES | {SystemRole.BUSINESS_SECRETARY}


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def _has_role(actor, roles) -> bool:
    return bool(actor.role_codes() & {str(r) for r in roles})


def can_create_order(actor) -> bool:
    return _active(actor)


def can_manage_order(actor, order) -> bool:
    """Edit (while a draft), submit, cancel: the owner and the order managers."""
    return _active(actor) and (order.owner_id == actor.pk or _has_role(actor, ORDER_MANAGER_ROLES))


def can_edit_order(actor, order) -> bool:
    return can_manage_order(actor, order) and order.status in EDITABLE_STATUSES


def can_ship_orders(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_STOCK)


def can_reserve_stock(actor, order) -> bool:
    return can_ship_orders(actor) or can_manage_order(actor, order)


def can_manage_credit(actor) -> bool:
    return _active(actor) and _has_role(actor, FINANCE_ROLES)


def can_mark_paid(actor) -> bool:
    return _active(actor) and _has_role(actor, FINANCE_ROLES)


def can_close_order(actor) -> bool:
    return _active(actor) and _has_role(actor, CLOSER_ROLES)


def can_attach_to_order(actor, order) -> bool:
    return can_manage_order(actor, order) or can_ship_orders(actor) or can_mark_paid(actor)
