"""Pure predicates: may this actor read or change the catalog? No queries beyond the actor's
cached roles. The catalog is company data: every active staff member reads it; products,
categories and price lists need ``catalog.manage``; warehouses and stock ``catalog.manage_stock``."""

from crm.org.enums import Permission


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def can_view_catalog(actor) -> bool:
    return _active(actor)


def can_manage_catalog(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_CATALOG)


def can_manage_stock(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_STOCK)
