"""Pure predicates: may this actor do that? No queries beyond the actor's cached roles and
what the caller passes in."""

from __future__ import annotations

from crm.org.enums import Permission

from .enums import AssignmentStatus, RequestStatus


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def can_manage_approval_policies(actor) -> bool:
    return _active(actor) and actor.has_qiao_perm(Permission.MANAGE_APPROVAL_POLICIES)


def can_set_delegation_for(actor, from_user_id: int) -> bool:
    """Everyone sets their own; the tenant admin (policies or staff managers) sets anyone's."""
    if not _active(actor):
        return False
    return (actor.pk == from_user_id or actor.has_qiao_perm(Permission.MANAGE_APPROVAL_POLICIES)
            or actor.has_qiao_perm(Permission.MANAGE_STAFF))


def can_recall_request(actor, request, *, decided: bool) -> bool:
    """The submitter, while the request is pending and nobody has decided anything yet."""
    return (_active(actor) and request.submitter_id == actor.pk and request.status == RequestStatus.PENDING
            and not decided)


def actionable_assignment(actor, request, assignments, delegator_ids) -> object | None:
    """The assignment of the active step the actor may decide: their own pending one first,
    else a pending one of someone who delegates to them (``delegator_ids``). The submitter
    never decides their own document, not even as a delegate."""
    if not _active(actor) or request.status != RequestStatus.PENDING or request.submitter_id == actor.pk:
        return None
    pending = [a for a in assignments if a.status == AssignmentStatus.PENDING]
    for assignment in pending:
        if assignment.approver_id == actor.pk:
            return assignment
    for assignment in pending:
        if assignment.approver_id in delegator_ids:
            return assignment
    return None
