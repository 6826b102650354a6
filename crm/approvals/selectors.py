"""Read-side queries of the approval engine: the inbox, a request as its viewer may see it,
a document's approval history, the waiting count, policies and delegations."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from crm.org.enums import Scope
from crm.org.scoping import scope_q

from .enums import ApproverKind, AssignmentStatus, ScopeRestriction
from .models import (
    ApprovalAssignment,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
    Delegation,
    PolicyStep,
)

INBOX_PAGE = 50


# -- delegation ------------------------------------------------------------------------------
def delegations_active_to(*, actor, now: datetime.datetime | None = None) -> list[Delegation]:
    """The delegations in force now whose delegate is ``actor`` (their givers still active)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return []
    now = now or timezone.now()
    return list(Delegation.objects.filter(to_user_id=actor.pk, active=True, starts_at__lte=now, ends_at__gt=now,
                                          from_user__is_active=True).order_by("id"))


def delegator_ids_for(*, actor, doc_type: str, now: datetime.datetime | None = None) -> set[int]:
    """The people on whose behalf ``actor`` may decide documents of ``doc_type`` now."""
    return {d.from_user_id for d in delegations_active_to(actor=actor, now=now) if d.covers(doc_type)}


def delegation_list_for(*, actor) -> dict[str, list[Delegation]]:
    """The delegations the actor gave and received, newest first (active and past)."""
    base = Delegation.objects.select_related("from_user", "to_user", "created_by").order_by("-starts_at", "-id")
    return {"given": list(base.filter(from_user_id=actor.pk)[:100]),
            "received": list(base.filter(to_user_id=actor.pk)[:100])}


def unscoped_delegation_get(*, delegation_id) -> Delegation:
    return Delegation.objects.select_related("from_user", "to_user").get(pk=delegation_id)


# -- approvers -------------------------------------------------------------------------------
def _ancestor_paths(node) -> list[str]:
    """The materialised paths of a tree node and its ancestors ("000001.", "000001.000004.")."""
    parts = [p for p in (node.path or "").split(".") if p]
    return [".".join(parts[:i]) + "." for i in range(1, len(parts) + 1)]


def approvers_resolve(*, approver_kind: str, role_code: str = "", scope: str = ScopeRestriction.NONE,
                      user_id: int | None = None, submitter, department=None, region=None,
                      owner_id: int | None = None) -> list[int]:
    """The active staff who approve a step for this submitter, never the submitter.

    A role step restricted to the submitter's department (region) is approved by the role's
    holders whose department (region) subtree contains the submitter's: the submitter's own
    department or one above it."""
    User = get_user_model()
    if approver_kind in (ApproverKind.USER, ApproverKind.OWNER):
        user_id = owner_id if approver_kind == ApproverKind.OWNER else user_id
        if not user_id or user_id == submitter.pk:
            return []
        return list(User.staff.filter(pk=user_id, is_active=True).values_list("pk", flat=True))
    qs = User.staff.filter(is_active=True, roles__code=role_code).exclude(pk=submitter.pk)
    if scope == ScopeRestriction.SUBMITTER_DEPARTMENT:
        if department is None:
            return []
        qs = qs.filter(department__path__in=_ancestor_paths(department))
    elif scope == ScopeRestriction.SUBMITTER_REGION:
        if region is None:
            return []
        qs = qs.filter(region__path__in=_ancestor_paths(region))
    return sorted(set(qs.values_list("pk", flat=True)))


def role_holders(*, role_codes, submitter) -> dict[str, list[int]]:
    """The active staff holding each of ``role_codes`` (no scope restriction), never the
    submitter: what approvers_resolve gives for each such role step, in one query."""
    if not role_codes:
        return {}
    User = get_user_model()
    out: dict[str, set[int]] = {}
    rows = (User.staff.filter(is_active=True, roles__code__in=list(role_codes)).exclude(pk=submitter.pk)
            .values_list("pk", "roles__code"))
    for pk, code in rows:
        out.setdefault(code, set()).add(pk)
    return {code: sorted(ids) for code, ids in out.items()}


# -- requests --------------------------------------------------------------------------------
def _visibility_q(actor) -> Q | None:
    """None: the actor sees every request (a company-wide role)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return Q(pk__in=[])
    if actor.effective_scope() == Scope.ALL:
        return None
    q = scope_q(ApprovalRequest, actor)  # the submitter, or a manager whose scope covers them
    q |= Exists(ApprovalStep.objects.filter(request=OuterRef("pk"), approver_ids__contains=[actor.pk]))
    q |= Exists(ApprovalAssignment.objects.filter(request=OuterRef("pk"), decided_by=actor.pk))
    for delegation in delegations_active_to(actor=actor):
        on_chain = Exists(ApprovalStep.objects.filter(request=OuterRef("pk"),
                                                      approver_ids__contains=[delegation.from_user_id]))
        q |= (on_chain & Q(doc_type__in=delegation.doc_types)) if delegation.doc_types else on_chain
    return q


def approval_requests_visible_to(*, actor) -> QuerySet[ApprovalRequest]:
    """Requests the actor may see: their own submissions, those on whose chain they (or
    someone who delegates to them) stand, and those of submitters their role scope covers."""
    q = _visibility_q(actor)
    qs = ApprovalRequest.objects.all()
    return qs if q is None else qs.filter(q)


def approval_request_get_for_actor(*, actor, request_id) -> ApprovalRequest:
    """One request if visible (ApprovalRequest.DoesNotExist otherwise, a 404)."""
    try:
        request_id = int(request_id)
    except (TypeError, ValueError):
        raise ApprovalRequest.DoesNotExist from None
    return approval_requests_visible_to(actor=actor).select_related("submitter").get(pk=request_id)


def _steps_prefetch() -> Prefetch:
    assignments = ApprovalAssignment.objects.select_related("approver", "decided_by").order_by("id")
    return Prefetch("steps", queryset=ApprovalStep.objects.order_by("position").prefetch_related(
        Prefetch("assignments", queryset=assignments)))


def approval_request_detail(*, request: ApprovalRequest) -> ApprovalRequest:
    """The request with its steps and their assignments loaded (three queries)."""
    return ApprovalRequest.objects.select_related("submitter").prefetch_related(_steps_prefetch()).get(
        pk=request.pk)


def approval_history_for_document(*, doc_type: str, object_id: int) -> list[ApprovalRequest]:
    """Every approval request of one document, newest first, with steps and decisions, for
    the document's timeline. Unscoped: the document app shows it only to those who may see
    the document."""
    return list(ApprovalRequest.objects.filter(doc_type=doc_type, object_id=object_id)
                .select_related("submitter").prefetch_related(_steps_prefetch()).order_by("-id"))


def approval_request_pending_for(*, doc_type: str, object_id: int) -> ApprovalRequest | None:
    return ApprovalRequest.objects.filter(doc_type=doc_type, object_id=object_id, status="pending").first()


@dataclass
class Page:
    items: list = field(default_factory=list)
    next_cursor: int | None = None


def _cursor(value) -> int | None:
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None


def approval_submissions_for(*, actor, status: str = "", doc_type: str = "", cursor=None,
                             limit: int = INBOX_PAGE) -> Page:
    """My submissions, newest first, keyset-paginated by id."""
    qs = ApprovalRequest.objects.filter(submitter_id=actor.pk)
    if status:
        qs = qs.filter(status=status)
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    before = _cursor(cursor)
    if before:
        qs = qs.filter(pk__lt=before)
    rows = list(qs.order_by("-id")[:limit + 1])
    return Page(items=rows[:limit], next_cursor=rows[limit - 1].pk if len(rows) > limit else None)


# -- the inbox -------------------------------------------------------------------------------
@dataclass
class InboxItem:
    assignment: ApprovalAssignment
    on_behalf_of: object | None  # the approver when I act as their delegate

    @property
    def request(self) -> ApprovalRequest:
        return self.assignment.request

    @property
    def step(self) -> ApprovalStep:
        return self.assignment.step


def _pending(doc_type: str, before: int | None) -> QuerySet[ApprovalAssignment]:
    qs = ApprovalAssignment.objects.filter(status=AssignmentStatus.PENDING)
    if doc_type:
        qs = qs.filter(doc_type=doc_type)
    if before:
        qs = qs.filter(pk__lt=before)
    return qs


def approval_inbox_for(*, actor, doc_type: str = "", cursor=None, limit: int = INBOX_PAGE) -> Page:
    """The approvals waiting for me, newest first: my pending assignments and those of
    people who delegate to me now. Each source is one backward scan of the
    (approver, status, id) index with the page limit; with no delegation, one query."""
    limit = max(1, min(int(limit or INBOX_PAGE), 200))
    before = _cursor(cursor)
    related = ("request", "request__submitter", "step", "approver")
    heavy = ("request__facts", "request__chain")  # not shown in a list
    delegations = delegations_active_to(actor=actor)
    own = _pending(doc_type, before).filter(approver_id=actor.pk)
    if not delegations:
        rows = list(own.select_related(*related).defer(*heavy).order_by("-id")[:limit + 1])
    else:
        parts = [own.order_by("-id").values_list("pk", flat=True)[:limit + 1]]
        for d in delegations:
            part = _pending(doc_type, before).filter(approver_id=d.from_user_id)
            if d.doc_types:
                part = part.filter(doc_type__in=d.doc_types)
            parts.append(part.order_by("-id").values_list("pk", flat=True)[:limit + 1])
        # one statement: (own ORDER BY id DESC LIMIT n) UNION ALL (delegated ... LIMIT n) ...
        ids = sorted(set(parts[0].union(*parts[1:], all=True)), reverse=True)[:limit + 1]
        rows = list(ApprovalAssignment.objects.filter(pk__in=ids).select_related(*related).defer(*heavy)
                    .order_by("-id"))
    more = len(rows) > limit
    rows = rows[:limit]
    items, seen_steps = [], set()
    # one line per step: my own assignment wins over a delegated one on the same step
    for row in sorted(rows, key=lambda a: a.approver_id != actor.pk):
        if row.step_id in seen_steps or row.request.submitter_id == actor.pk:
            continue
        seen_steps.add(row.step_id)
        items.append(InboxItem(assignment=row, on_behalf_of=None if row.approver_id == actor.pk else row.approver))
    items.sort(key=lambda item: item.assignment.pk, reverse=True)
    return Page(items=items, next_cursor=rows[-1].pk if more and rows else None)


WAITING_COUNT_CAP = 999


def approvals_waiting_count(*, actor, cap: int = WAITING_COUNT_CAP) -> int:
    """How many approvals wait for me (mine and delegated to me), for the "today" page; at
    most ``cap`` (shown as "999+"), so that a backlog of thousands costs no more than a
    thousand index entries. Each source is counted on the inbox index (LIMIT cap); a step
    where both I and someone who delegates to me are approvers counts twice."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return 0
    total = (ApprovalAssignment.objects.filter(approver_id=actor.pk, status=AssignmentStatus.PENDING)
             .order_by()[:cap].count())
    for d in delegations_active_to(actor=actor):
        if total >= cap:
            break
        theirs = (ApprovalAssignment.objects.filter(approver_id=d.from_user_id, status=AssignmentStatus.PENDING)
                  .exclude(request__submitter_id=actor.pk))
        if d.doc_types:
            theirs = theirs.filter(doc_type__in=d.doc_types)
        total += theirs.order_by()[:cap - total].count()
    return min(total, cap)


# -- policies --------------------------------------------------------------------------------
def approval_policy_get(*, doc_type: str) -> ApprovalPolicy | None:
    return (ApprovalPolicy.objects.filter(doc_type=doc_type).select_related("updated_by")
            .prefetch_related(Prefetch("steps", queryset=PolicyStep.objects.select_related("user")
                                       .order_by("position"))).first())


def approval_policies_list() -> list[ApprovalPolicy]:
    return list(ApprovalPolicy.objects.select_related("updated_by").prefetch_related(
        Prefetch("steps", queryset=PolicyStep.objects.select_related("user").order_by("position")))
        .order_by("doc_type"))
