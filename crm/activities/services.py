"""Write-side operations on tasks, activities (visits, calls, meetings, notes, emails; planned
visits) and notifications (the in-app bell and its emails). Keyword-only, transactional,
audited."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_record_bulk, audit_snapshot
from crm.customers import selectors as customer_selectors
from crm.customers.services import customer_settings_get, customer_touch
from crm.org.selectors import staff_in_scope_of, staff_list
from crm.org.services import StaleVersion

from . import selectors
from .enums import ActivityKind, NotificationKind, TaskPriority, TaskStatus
from .models import Activity, Notification, PoolWarningNotice, Task
from .permissions import can_edit_activity

log = logging.getLogger(__name__)

TASK_AUDIT_FIELDS = ("title", "notes", "due_at", "status", "owner", "assignee", "priority",
                     "remind_at", "customer")
ACTIVITY_AUDIT_FIELDS = ("kind", "customer", "contact", "subject", "body", "occurred_at",
                         "duration_minutes", "participants", "outcome", "next_step", "next_step_at",
                         "planned", "owner", "cancelled_at", "cancelled_by", "cancel_reason")
ACTIVITY_EDITABLE = ("kind", "contact_id", "subject", "body", "occurred_at", "duration_minutes",
                     "participant_ids", "outcome", "next_step", "next_step_at")
EDIT_FIELDS = ("kind", "contact", "subject", "body", "occurred_at", "duration_minutes", "outcome",
               "next_step", "next_step_at")
FUTURE_SLACK = datetime.timedelta(minutes=10)
REMINDER_WINDOW = datetime.timedelta(days=2)
CANCEL_REASON_MAX = 300


class VisitStateConflict(ValidationError):
    """The visit is not in a state that allows the operation (completing a cancelled visit,
    cancelling a completed one). A ValidationError, so forms show it; the API answers 409."""

    def __init__(self, message, *, code: str):
        super().__init__(message, code=code)


# -- helpers -----------------------------------------------------------------------------------
def _customer_for(actor, customer_id):
    """The customer if the actor may see it; raises ObjectDoesNotExist (a 404) otherwise."""
    return customer_selectors.customer_get_for_actor(actor=actor, customer_id=customer_id)


def _language_of(user) -> str:
    supported = dict(settings.LANGUAGES)
    if getattr(user, "language", "") in supported:
        return user.language
    tenant_lang = getattr(getattr(connection, "tenant", None), "language", None)
    return tenant_lang if tenant_lang in supported else settings.LANGUAGE_CODE


def _assignable(actor, user_id, *, field: str, message: str):
    if user_id in (None, "", actor.pk):
        return actor
    target = staff_in_scope_of(actor=actor).filter(pk=user_id).first()
    if target is None:
        raise ValidationError({field: message})
    return target


# -- notifications ---------------------------------------------------------------------------------
def notification_create(*, recipient, kind: str, title: str, body: str = "", url: str = "",
                        dedup_key: str | None = None, email: bool = False) -> Notification | None:
    """An in-app notification (and, with ``email``, one email sent by the next reminder run).
    With a ``dedup_key`` it happens at most once; returns None when it already had."""
    note = Notification(recipient=recipient, kind=kind, title=title[:200], body=body, url=url[:300],
                        dedup_key=dedup_key, email_wanted=email)
    if dedup_key is None:
        note.save()
        return note
    try:
        with transaction.atomic():
            note.save()
    except IntegrityError:
        return None
    return note


def notifications_mark_read(*, actor, notification_ids: Iterable[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=actor.pk, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    return qs.update(read_at=timezone.now())


def _site_url() -> str:
    try:
        from tenants.models import Tenant
        from tenants.selectors import tenant_base_url

        tenant = Tenant.objects.filter(schema_name=connection.schema_name).first()
        return tenant_base_url(tenant).rstrip("/") if tenant else ""
    except Exception:  # pragma: no cover - a link without a host is still useful
        return ""


def notification_emails_send(*, limit: int = 500) -> int:
    """Send the emails of notifications that want one, each once (the row is locked and
    marked in the same transaction; a failed send stays pending for the next run)."""
    sent = 0
    base = _site_url()
    pending = list(Notification.objects.filter(email_wanted=True, emailed_at__isnull=True)
                   .order_by("created_at", "pk").values_list("pk", flat=True)[:limit])
    for pk in pending:
        with transaction.atomic():
            note = (Notification.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("recipient")
                    .filter(pk=pk, emailed_at__isnull=True).first())
            if note is None:
                continue
            recipient = note.recipient
            if recipient.is_active and recipient.email:
                with translation.override(_language_of(recipient)):
                    body = render_to_string("activities/email/notification.txt", {
                        "user": recipient, "note": note,
                        "link": f"{base}{note.url}" if note.url.startswith("/") else note.url})
                    subject = note.title
                try:
                    send_mail(subject, body, None, [recipient.email])
                except Exception:
                    log.exception("notification %s: email to %s failed", note.pk, recipient.email)
                    continue
                sent += 1
            note.emailed_at = timezone.now()
            note.save(update_fields=["emailed_at"])
    return sent


# -- tasks -----------------------------------------------------------------------------------------
def _clean_priority(priority) -> str:
    priority = priority or TaskPriority.NORMAL
    if priority not in TaskPriority.values:
        raise ValidationError({"priority": _("优先级必须是 low、normal 或 high。")})
    return priority


def _notify_assigned(task: Task, *, actor) -> None:
    if task.assignee_id and task.assignee_id != actor.pk:
        assignee = task.assignee
        with translation.override(_language_of(assignee)):
            title = _("%(name)s 给你安排了任务：%(title)s") % {"name": actor.full_name, "title": task.title}
        notification_create(recipient=assignee, kind=NotificationKind.TASK_ASSIGNED, title=title,
                            body=task.notes, url="/", dedup_key=f"task-assigned:{task.pk}:{assignee.pk}")


@transaction.atomic
def task_create(*, actor, title: str, notes: str = "", due_at: datetime.datetime | None = None,
                priority: str = TaskPriority.NORMAL, remind_at: datetime.datetime | None = None,
                assignee_id: int | None = None, customer_id: int | None = None) -> Task:
    """A task owned by the actor, done by ``assignee_id`` (the actor unless a colleague in the
    actor's scope is named), optionally about a customer the actor can see."""
    title = (title or "").strip()
    if not title:
        raise ValidationError({"title": _("标题不能为空。")})
    priority = _clean_priority(priority)
    assignee = _assignable(actor, assignee_id, field="assignee",
                           message=_("只能把任务分配给你管辖范围内的在职同事。"))
    customer = _customer_for(actor, customer_id) if customer_id else None
    task = Task.objects.create(title=title[:200], notes=notes or "", due_at=due_at, owner=actor,
                               assignee=assignee, priority=priority, remind_at=remind_at,
                               customer=customer, department_id=actor.department_id,
                               region_id=actor.region_id, created_by=actor)
    audit_record(actor=actor, instance=task, action="create",
                 changes=audit_diff({}, audit_snapshot(task, TASK_AUDIT_FIELDS)))
    _notify_assigned(task, actor=actor)
    return task


TASK_EDITABLE = ("title", "notes", "due_at", "priority", "remind_at", "assignee_id", "customer_id")


@transaction.atomic
def task_update(*, actor, task_id: int, **fields) -> Task:
    unknown = set(fields) - set(TASK_EDITABLE)
    if unknown:
        raise ValidationError({name: _("这个字段不能修改。") for name in sorted(unknown)})
    task = selectors.task_get_for_actor(actor=actor, task_id=task_id)
    task = Task.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=task.pk)
    before = audit_snapshot(task, TASK_AUDIT_FIELDS)
    if "title" in fields:
        task.title = (fields["title"] or "").strip()[:200]
        if not task.title:
            raise ValidationError({"title": _("标题不能为空。")})
    for name in ("notes", "due_at", "remind_at"):
        if name in fields:
            setattr(task, name, fields[name] if name != "notes" else (fields[name] or ""))
    if "priority" in fields:
        task.priority = _clean_priority(fields["priority"])
    assignee_changed = False
    if "assignee_id" in fields and fields["assignee_id"] != task.assignee_id:
        task.assignee = _assignable(actor, fields["assignee_id"], field="assignee",
                                    message=_("只能把任务分配给你管辖范围内的在职同事。"))
        assignee_changed = True
    if "customer_id" in fields:
        task.customer = _customer_for(actor, fields["customer_id"]) if fields["customer_id"] else None
    task.save(update_fields=["title", "notes", "due_at", "remind_at", "priority", "assignee", "customer"])
    changes = audit_diff(before, audit_snapshot(task, TASK_AUDIT_FIELDS))
    if changes:
        audit_record(actor=actor, instance=task, action="update", changes=changes)
    if assignee_changed:
        _notify_assigned(task, actor=actor)
    return task


@transaction.atomic
def task_complete(*, actor, task_id: int) -> Task:
    task = selectors.task_get_for_actor(actor=actor, task_id=task_id)
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.status == TaskStatus.DONE:
        return task
    if task.status != TaskStatus.OPEN:
        raise ValidationError({"status": _("只有待办任务可以完成。")})
    if actor.pk not in (task.owner_id, task.assignee_id) and actor.effective_scope() == "own":
        raise PermissionDenied(_("只能完成自己的任务。"))
    before = audit_snapshot(task, TASK_AUDIT_FIELDS)
    task.status = TaskStatus.DONE
    task.completed_at = timezone.now()
    task.save(update_fields=["status", "completed_at"])
    audit_record(actor=actor, instance=task, action="complete",
                 changes=audit_diff(before, audit_snapshot(task, TASK_AUDIT_FIELDS)))
    return task


def tasks_move_to_customer(*, task_ids: Sequence[int], customer_id: int, actor=None) -> int:
    """Re-point tasks at another customer (for merges and their undo). Unscoped: the caller
    has checked the actor may do the whole operation."""
    with transaction.atomic():
        tasks = list(Task.objects.filter(pk__in=list(task_ids)).select_for_update().order_by("pk"))
        moved = [t for t in tasks if t.customer_id != customer_id]
        changes = {t.pk: {"customer": {"old": t.customer_id, "new": customer_id}} for t in moved}
        Task.objects.filter(pk__in=[t.pk for t in moved]).update(customer_id=customer_id)
        audit_record_bulk(actor=actor, instances=moved, action="move", changes_by_pk=changes)
    return len(moved)


# -- activities ------------------------------------------------------------------------------------
def _clean_text(value, *, limit: int) -> str:
    return (value or "").strip()[:limit]


def _contact_of(actor, customer, contact_id):
    if not contact_id:
        return None
    contact = (customer_selectors.contact_list_visible_to(actor=actor)
               .filter(pk=contact_id, customer_id=customer.pk).first())
    if contact is None:
        raise ValidationError({"contact": _("联系人不存在，或不属于客户“%(name)s”。") % {"name": customer.name}})
    return contact


def _participants(actor, ids) -> list:
    ids = list(dict.fromkeys(int(i) for i in (ids or [])))
    if not ids:
        return []
    found = list(staff_list(actor=actor, include_inactive=False).filter(pk__in=ids))
    if len(found) != len(ids):
        raise ValidationError({"participants": _("参与同事中有人不存在或已停用。")})
    return found


def _check_duration(minutes) -> None:
    if minutes is not None and not 0 <= int(minutes) <= 24 * 60:
        raise ValidationError({"duration_minutes": _("时长应在 0 到 1440 分钟之间。")})


def _check_next_step(next_step: str, next_step_at, occurred_at) -> None:
    if next_step_at and not next_step:
        raise ValidationError({"next_step": _("填写了下一步时间，请同时写明下一步做什么。")})
    if next_step_at and occurred_at and next_step_at < occurred_at - FUTURE_SLACK:
        raise ValidationError({"next_step_at": _("下一步时间不能早于本次跟进的时间。")})


def _follow_up(activity: Activity, *, actor) -> None:
    """The next step of an activity as an open task of its owner (made once, kept in step)."""
    if not (activity.next_step and activity.next_step_at):
        return
    task = activity.follow_up_task
    if task is not None and task.status == TaskStatus.OPEN:
        before = audit_snapshot(task, TASK_AUDIT_FIELDS)
        task.title = activity.next_step[:200]
        task.due_at = task.remind_at = activity.next_step_at
        task.save(update_fields=["title", "due_at", "remind_at"])
        changes = audit_diff(before, audit_snapshot(task, TASK_AUDIT_FIELDS))
        if changes:
            audit_record(actor=actor, instance=task, action="update", changes=changes)
        return
    if task is not None:
        return  # done or cancelled: a new next step is a new activity's business
    owner = activity.owner
    task = Task.objects.create(
        title=activity.next_step[:200], notes=_("来自跟进记录：%(subject)s") % {"subject": activity.subject},
        due_at=activity.next_step_at, remind_at=activity.next_step_at, owner=owner, assignee=owner,
        customer_id=activity.customer_id, department_id=owner.department_id, region_id=owner.region_id,
        created_by=actor)
    audit_record(actor=actor, instance=task, action="create",
                 changes=audit_diff({}, audit_snapshot(task, TASK_AUDIT_FIELDS)),
                 note=f"activity {activity.pk}")
    activity.follow_up_task = task
    activity.save(update_fields=["follow_up_task"])


def _touch(activity: Activity) -> None:
    if not activity.planned:
        customer_touch(customer_id=activity.customer_id, at=min(activity.occurred_at, timezone.now()))


def activity_log(*, actor, customer_id: int, kind: str, subject: str = "", body: str = "",
                 occurred_at: datetime.datetime | None = None, duration_minutes: int | None = None,
                 contact_id: int | None = None, participant_ids: Sequence[int] = (), outcome: str = "",
                 next_step: str = "", next_step_at: datetime.datetime | None = None) -> Activity:
    """Record a visit, call, meeting, note or email that happened with a customer the actor
    can see. The customer's pool clock starts again; a next step with a time becomes a task."""
    now = timezone.now()
    occurred_at = occurred_at or now
    if kind not in ActivityKind.values:
        raise ValidationError({"kind": _("类型必须是 %(choices)s 之一。") % {"choices": ", ".join(ActivityKind.values)}})
    if occurred_at > now + FUTURE_SLACK:
        raise ValidationError({"occurred_at": _("已发生的跟进时间不能晚于现在；将来的拜访请做成拜访计划。")})
    _check_duration(duration_minutes)
    next_step = _clean_text(next_step, limit=300)
    _check_next_step(next_step, next_step_at, occurred_at)
    with transaction.atomic():
        customer = _customer_for(actor, customer_id)
        contact = _contact_of(actor, customer, contact_id)
        participants = _participants(actor, participant_ids)
        activity = Activity.objects.create(
            kind=kind, customer=customer, contact=contact,
            subject=_clean_text(subject, limit=200) or f"{ActivityKind(kind).label} · {customer.name}"[:200],
            body=body or "", occurred_at=occurred_at, duration_minutes=duration_minutes,
            outcome=_clean_text(outcome, limit=500), next_step=next_step, next_step_at=next_step_at,
            owner=actor, department_id=actor.department_id,
            region_id=customer.region_id or actor.region_id, created_by=actor)
        if participants:
            activity.participants.set(participants)
        audit_record(actor=actor, instance=activity, action="create",
                     changes=audit_diff({}, audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)))
        _follow_up(activity, actor=actor)
        _touch(activity)
    return activity


def _activity_for_edit(actor, activity_id) -> Activity:
    """The activity, locked, if the actor's own scope covers it (seeing it through its
    customer is not enough to change someone else's record)."""
    activity = selectors.activity_get_for_actor(actor=actor, activity_id=activity_id)
    if not can_edit_activity(actor, activity):
        raise PermissionDenied(_("只能修改自己或下属的跟进记录。"))
    return (Activity.objects.select_for_update(of=("self",))
            .select_related("customer", "owner", "planned_by", "follow_up_task").get(pk=activity.pk))


def activity_update(*, actor, activity_id: int, version: int | None = None, **fields) -> Activity:
    unknown = set(fields) - set(ACTIVITY_EDITABLE)
    if unknown:
        raise ValidationError({name: _("这个字段不能修改。") for name in sorted(unknown)})
    with transaction.atomic():
        activity = _activity_for_edit(actor, activity_id)
        if version is not None and int(version) != activity.version:
            raise StaleVersion(current=activity.version)
        if activity.is_cancelled():
            raise VisitStateConflict(_("这次拜访已取消，不能再修改。"), code="visit_cancelled")
        before = audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)
        if "kind" in fields:
            if fields["kind"] not in ActivityKind.values:
                raise ValidationError({"kind": _("类型必须是 %(choices)s 之一。") % {
                    "choices": ", ".join(ActivityKind.values)}})
            activity.kind = fields["kind"]
        if "subject" in fields:
            activity.subject = _clean_text(fields["subject"], limit=200)
            if not activity.subject:
                raise ValidationError({"subject": _("主题不能为空。")})
        if "body" in fields:
            activity.body = fields["body"] or ""
        if "outcome" in fields:
            activity.outcome = _clean_text(fields["outcome"], limit=500)
        if "occurred_at" in fields and fields["occurred_at"]:
            if not activity.planned and fields["occurred_at"] > timezone.now() + FUTURE_SLACK:
                raise ValidationError({"occurred_at": _("已发生的跟进时间不能晚于现在；将来的拜访请做成拜访计划。")})
            activity.occurred_at = fields["occurred_at"]
        if "duration_minutes" in fields:
            _check_duration(fields["duration_minutes"])
            activity.duration_minutes = fields["duration_minutes"]
        if "contact_id" in fields:
            activity.contact = _contact_of(actor, activity.customer, fields["contact_id"])
        if "next_step" in fields:
            activity.next_step = _clean_text(fields["next_step"], limit=300)
        if "next_step_at" in fields:
            activity.next_step_at = fields["next_step_at"]
        _check_next_step(activity.next_step, activity.next_step_at, activity.occurred_at)
        if "participant_ids" in fields:
            activity.participants.set(_participants(actor, fields["participant_ids"]))
        activity.version += 1
        activity.save(update_fields=[*EDIT_FIELDS, "version", "updated_at"])
        changes = audit_diff(before, audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS))
        if changes:
            audit_record(actor=actor, instance=activity, action="update", changes=changes)
        _follow_up(activity, actor=actor)
        _touch(activity)
    return activity


def activity_plan_visit(*, actor, customer_id: int, planned_at: datetime.datetime, owner_id: int | None = None,
                        subject: str = "", body: str = "", contact_id: int | None = None,
                        participant_ids: Sequence[int] = ()) -> Activity:
    """Plan a visit for oneself, or (a manager) for a colleague in one's scope. The visit
    shows on that person's today page and calendar; they are notified."""
    start_of_today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    if planned_at is None:
        raise ValidationError({"planned_at": _("请填写计划拜访的时间。")})
    if planned_at < start_of_today:
        raise ValidationError({"planned_at": _("计划拜访的时间不能早于今天。")})
    with transaction.atomic():
        owner = _assignable(actor, owner_id, field="owner",
                            message=_("只能为你管辖范围内的在职同事安排拜访。"))
        customer = _customer_for(actor, customer_id)
        if owner.pk != actor.pk and not customer_selectors.customer_list_visible_to(actor=owner).filter(
                pk=customer.pk).exists():
            raise ValidationError({"owner": _("%(name)s 看不到客户“%(customer)s”，请先把客户转给他或换一位同事。") % {
                "name": owner.full_name, "customer": customer.name}})
        contact = _contact_of(actor, customer, contact_id)
        participants = _participants(actor, participant_ids)
        activity = Activity.objects.create(
            kind=ActivityKind.VISIT, customer=customer, contact=contact,
            subject=_clean_text(subject, limit=200) or _("拜访 %(name)s") % {"name": customer.name},
            body=body or "", occurred_at=planned_at, planned=True, planned_by=actor, owner=owner,
            department_id=owner.department_id, region_id=customer.region_id or owner.region_id,
            created_by=actor)
        if participants:
            activity.participants.set(participants)
        audit_record(actor=actor, instance=activity, action="plan",
                     changes=audit_diff({}, audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)))
        if owner.pk != actor.pk:
            with translation.override(_language_of(owner)):
                title = _("%(manager)s 为你安排了拜访：%(customer)s，%(when)s") % {
                    "manager": actor.full_name, "customer": customer.name,
                    "when": timezone.localtime(planned_at).strftime("%Y-%m-%d %H:%M")}
            notification_create(recipient=owner, kind=NotificationKind.VISIT_PLANNED, title=title,
                                body=activity.body, url="/", dedup_key=f"visit-planned:{activity.pk}")
    return activity


def activity_complete_planned(*, actor, activity_id: int, occurred_at: datetime.datetime | None = None,
                              outcome: str = "", body: str | None = None,
                              duration_minutes: int | None = None, next_step: str = "",
                              next_step_at: datetime.datetime | None = None) -> Activity:
    """A planned visit happened: record when and how it went; the customer's pool clock
    starts again. Completing twice changes nothing."""
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + FUTURE_SLACK:
        raise ValidationError({"occurred_at": _("已发生的跟进时间不能晚于现在；将来的拜访请做成拜访计划。")})
    _check_duration(duration_minutes)
    with transaction.atomic():
        activity = _activity_for_edit(actor, activity_id)
        if activity.is_cancelled():
            raise VisitStateConflict(_("这次拜访已于 %(when)s 取消，不能再记录为完成；如果还是去了，请另记一条跟进。") % {
                "when": timezone.localtime(activity.cancelled_at).strftime("%Y-%m-%d %H:%M")},
                code="visit_cancelled")
        if not activity.planned:
            if activity.completed_at:
                return activity
            raise ValidationError({"planned": _("这条记录不是计划中的拜访。")})
        before = audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)
        activity.planned = False
        activity.completed_at = now
        activity.occurred_at = occurred_at
        activity.outcome = _clean_text(outcome, limit=500)
        if body is not None:
            activity.body = body
        activity.duration_minutes = duration_minutes
        activity.next_step = _clean_text(next_step, limit=300)
        activity.next_step_at = next_step_at
        _check_next_step(activity.next_step, next_step_at, occurred_at)
        activity.version += 1
        activity.save(update_fields=["planned", "completed_at", "occurred_at", "outcome", "body",
                                     "duration_minutes", "next_step", "next_step_at", "version",
                                     "updated_at"])
        audit_record(actor=actor, instance=activity, action="complete",
                     changes=audit_diff(before, audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)))
        _follow_up(activity, actor=actor)
        _touch(activity)
    return activity


def activity_cancel_planned(*, actor, activity_id: int, reason: str,
                            version: int | None = None) -> Activity:
    """Call off a planned visit, with a reason. It stays in the customer's timeline marked
    cancelled, leaves the owner's today page and open plans, and does not restart the
    customer's pool clock. The owner and whoever planned it (when not the actor) are told.

    Cancelling a cancelled visit changes nothing (a retried request with the version it had
    then is answered with the visit as it is); a completed one cannot be cancelled."""
    reason = _clean_text(reason, limit=CANCEL_REASON_MAX)
    if not reason:
        raise ValidationError({"reason": _("请填写取消拜访的原因。")})
    with transaction.atomic():
        activity = _activity_for_edit(actor, activity_id)
        if activity.is_cancelled():
            return activity
        if not activity.planned:
            if activity.completed_at:
                raise VisitStateConflict(_("这次拜访已完成，不能取消。"), code="visit_completed")
            raise ValidationError({"planned": _("这条记录不是计划中的拜访。")})
        if version is not None and int(version) != activity.version:
            raise StaleVersion(current=activity.version)
        before = audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)
        activity.cancelled_at = timezone.now()
        activity.cancelled_by = actor
        activity.cancel_reason = reason
        activity.version += 1
        activity.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason", "version", "updated_at"])
        audit_record(actor=actor, instance=activity, action="cancel",
                     changes=audit_diff(before, audit_snapshot(activity, ACTIVITY_AUDIT_FIELDS)),
                     note=reason)
        _notify_cancelled(activity, actor=actor)
    return activity


def _notify_cancelled(activity: Activity, *, actor) -> None:
    told = {actor.pk}
    for recipient in (activity.owner, activity.planned_by):
        if recipient is None or recipient.pk in told or not recipient.is_active:
            continue
        told.add(recipient.pk)
        with translation.override(_language_of(recipient)):
            title = _("%(name)s 取消了拜访：%(customer)s，%(when)s") % {
                "name": actor.full_name, "customer": activity.customer.name,
                "when": timezone.localtime(activity.occurred_at).strftime("%Y-%m-%d %H:%M")}
            body = _("原因：%(reason)s") % {"reason": activity.cancel_reason}
        notification_create(recipient=recipient, kind=NotificationKind.VISIT_CANCELLED, title=title, body=body,
                            url=f"/activities/{activity.pk}/",
                            dedup_key=f"visit-cancelled:{activity.pk}:{recipient.pk}")


def activities_move_to_customer(*, activity_ids: Sequence[int], customer_id: int, actor=None) -> int:
    """Re-point activities at another customer (a merge moves the duplicate's timeline to
    the survivor; its undo moves them back). Unscoped: the caller has checked that the actor
    may do the whole operation. Contacts move with a merge, so they are kept."""
    with transaction.atomic():
        activities = list(Activity.objects.filter(pk__in=list(activity_ids))
                          .select_for_update().order_by("pk"))
        moved = [a for a in activities if a.customer_id != customer_id]
        changes = {a.pk: {"customer": {"old": a.customer_id, "new": customer_id}} for a in moved}
        Activity.objects.filter(pk__in=[a.pk for a in moved]).update(
            customer_id=customer_id, updated_at=timezone.now())
        audit_record_bulk(actor=actor, instances=moved, action="move", changes_by_pk=changes)
    return len(moved)


# -- the periodic reminder run ----------------------------------------------------------------------
def _remind_task(task: Task, *, now) -> bool:
    recipient = task.assignee or task.owner
    told = False
    if recipient.is_active:
        with translation.override(_language_of(recipient)):
            title = _("任务提醒：%(title)s") % {"title": task.title}
            lines = []
            if task.due_at:
                lines.append(_("截止时间：%(when)s") % {
                    "when": timezone.localtime(task.due_at).strftime("%Y-%m-%d %H:%M")})
            if task.customer_id:
                lines.append(_("客户：%(name)s") % {"name": task.customer.name})
            lines.append(_("优先级：%(priority)s") % {"priority": TaskPriority(task.priority).label})
            if task.notes:
                lines.append(task.notes)
        told = notification_create(
            recipient=recipient, kind=NotificationKind.TASK_REMINDER, title=title, body="\n".join(lines),
            url="/", email=True,
            dedup_key=f"task-reminder:{task.pk}:{int(task.remind_at.timestamp())}") is not None
    task.reminded_at = max(now, task.remind_at)
    task.save(update_fields=["reminded_at"])
    return told


def _pool_warn_owner(owner, customers: list, *, rules, now) -> bool:
    """Tell one owner about the customers newly warned; each customer's warning once."""
    fresh = []
    for customer in customers:
        try:
            with transaction.atomic():
                notice = PoolWarningNotice.objects.create(customer_id=customer.pk, owner=owner,
                                                          warned_at=customer.pool_warned_at)
        except IntegrityError:
            continue
        fresh.append((customer, notice))
    if not fresh:
        return False
    days = min(selectors.days_left(selectors.release_at_of(c, rules), now) for c, _n in fresh)
    with translation.override(_language_of(owner)):
        title = _("%(n)s 个客户将在 %(days)s 天内被释放到公海") % {"n": len(fresh), "days": max(days, 1)}
        names = "、".join(c.name for c, _n in fresh[:10]) if _language_of(owner).startswith("zh") \
            else ", ".join(c.name for c, _n in fresh[:10])
        more = len(fresh) - 10
        body = _("请尽快跟进：%(names)s") % {"names": names}
        if more > 0:
            body += " " + _("等 %(n)s 个") % {"n": len(fresh)}
    note = notification_create(recipient=owner, kind=NotificationKind.POOL_WARNING, title=title,
                               body=body, url="/", email=True)
    PoolWarningNotice.objects.filter(pk__in=[n.pk for _c, n in fresh]).update(notification=note)
    return True


def reminders_send(*, now: datetime.datetime | None = None, batch_size: int = 500) -> dict:
    """The periodic run of one tenant: due task reminders and pool warnings, in-app and by
    email, each once however often it runs."""
    now = now or timezone.now()
    reminded = 0
    while True:
        with transaction.atomic():
            due = list(selectors.unscoped_tasks_to_remind(now=now, window=REMINDER_WINDOW)
                       .select_for_update(skip_locked=True, of=("self",))[:batch_size])
            if not due:
                break
            reminded += sum(_remind_task(task, now=now) for task in due)
    warned_owners = 0
    untold = selectors.unscoped_pool_warnings_untold()
    if untold:
        rules = customer_settings_get()
        by_owner: dict[int, list] = defaultdict(list)
        owners = {}
        for customer in untold:
            by_owner[customer.owner_id].append(customer)
            owners[customer.owner_id] = customer.owner
        for owner_id, customers in by_owner.items():
            with transaction.atomic():
                warned_owners += _pool_warn_owner(owners[owner_id], customers, rules=rules, now=now)
    emailed = notification_emails_send()
    return {"reminded": reminded, "pool_warned_owners": warned_owners, "emailed": emailed}
