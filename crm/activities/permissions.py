"""Who may change an activity. Seeing one is wider than changing it: whoever sees the
customer sees its whole timeline, and participants see the activities they joined, but only
the owner and those whose own role scope covers the record (a manager of the owner's
department or region, a company-wide role) may edit, complete or cancel it."""

from __future__ import annotations

from crm.org.scoping import can_see


def can_edit_activity(actor, activity) -> bool:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return False
    if activity.owner_id == actor.pk:
        return True
    return can_see(actor, activity)


def can_cancel_visit(actor, activity) -> bool:
    """An open planned visit, by someone who may edit it."""
    return activity.is_open_plan() and can_edit_activity(actor, activity)


def can_complete_visit(actor, activity) -> bool:
    return activity.is_open_plan() and can_edit_activity(actor, activity)
