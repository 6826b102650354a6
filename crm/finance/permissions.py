"""Pure predicates: may this actor do that in finance? No queries beyond the actor's cached
roles. The caller has already found the invoice or payment through ``visible_to`` (outside
the actor's scope is a 404 before any of these is asked).

Separation of duties, as a Chinese finance department expects it: only those with
``finance.manage`` (the finance role and the tenant admin by default; a custom role given it)
issue and void invoices, record and void payments and change the finance settings; everyone
else reads what their role's scope shows them (a salesperson: the invoices and payments of
their own orders)."""

from __future__ import annotations

from crm.org.enums import Permission


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def is_finance(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_FINANCE)


def can_issue_invoice(actor) -> bool:
    return is_finance(actor)


def can_void_invoice(actor) -> bool:
    return is_finance(actor)


def can_record_payment(actor) -> bool:
    return is_finance(actor)


def can_void_payment(actor) -> bool:
    return is_finance(actor)


def can_manage_finance_settings(actor) -> bool:
    return is_finance(actor)


def can_view_receivables(actor) -> bool:
    """The receivables pages: anyone active (each sees their scope)."""
    return _active(actor)
