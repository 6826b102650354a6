"""Pure predicates: may this actor do that? No queries beyond the actor's cached roles.

Opportunities and quotes are customer-facing records: whoever may see one (its owner, or a
manager whose scope covers it, see crm.org.scoping) may work on it, as with customers.
Handing one to a colleague is limited to colleagues within the actor's scope (checked by
the services against crm.org.selectors.staff_in_scope_of)."""

from __future__ import annotations

from crm.org.enums import Scope


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def can_use_sales(actor) -> bool:
    return _active(actor)


def can_assign_others(actor) -> bool:
    """Managers (any scope wider than their own records) may name another owner."""
    return _active(actor) and actor.effective_scope() != Scope.OWN


def can_edit_quote(actor, quote) -> bool:
    return _active(actor) and quote.is_editable()
