"""Pure predicates: may this actor do that to an order? No queries beyond the actor's cached
roles. The caller has already found the order through ``visible_to`` (outside the actor's
scope is a 404 before any of these is asked).

Permission codes (crm.org.enums.Permission), which custom roles are built from too; the
system roles have them by default (SYSTEM_ROLE_DEFAULTS):
* the owner manages their own order (edit the draft, submit, cancel, retry the stock
  reservation); ``orders.manage`` manages every order the actor sees (business secretaries,
  regional managers, the tenant admin);
* ``catalog.manage_stock`` ships (warehouse staff, the tenant admin);
* ``finance.manage`` sets credit limits (finance, the tenant admin; invoices and payments are
  crm.finance's);
* ``orders.close`` closes a paid order (finance, business secretaries, the tenant admin);
* the approval steps themselves are decided by the approval engine (crm.approvals)."""

from __future__ import annotations

from crm.org.enums import Permission

from .enums import EDITABLE_STATUSES


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def can_create_order(actor) -> bool:
    return _active(actor)


def can_manage_order(actor, order) -> bool:
    """Edit (while a draft), submit, cancel: the owner and the order managers."""
    return _active(actor) and (order.owner_id == actor.pk or actor.has_qiao_perm(Permission.MANAGE_ORDERS))


def can_edit_order(actor, order) -> bool:
    return can_manage_order(actor, order) and order.status in EDITABLE_STATUSES


def can_ship_orders(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_STOCK)


def can_reserve_stock(actor, order) -> bool:
    return can_ship_orders(actor) or can_manage_order(actor, order)


def can_manage_credit(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_FINANCE)


def can_mark_paid(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_FINANCE)


def can_close_order(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.CLOSE_ORDERS)


def can_attach_to_order(actor, order) -> bool:
    return can_manage_order(actor, order) or can_ship_orders(actor) or can_mark_paid(actor)
