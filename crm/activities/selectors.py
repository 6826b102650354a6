"""Read-side queries on tasks, activities and notifications. Every read starts from the
actor's scope (``visible_to``) or from the actor's own rows; the few system-wide reads used
by periodic tasks are named ``unscoped_*``."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.customers import selectors as customer_selectors
from crm.org.enums import Scope
from crm.org.scoping import scope_q

from .enums import TaskPriority, TaskStatus
from .models import Activity, Notification, Task

PRIORITY_RANK = {TaskPriority.HIGH: 0, TaskPriority.NORMAL: 1, TaskPriority.LOW: 2}


# -- tasks -------------------------------------------------------------------------------------
def task_list_visible_to(*, actor) -> QuerySet[Task]:
    """Tasks in the actor's scope (by owner, department, region) plus those assigned to them."""
    qs = Task.objects.filter(_any(scope_q(Task, actor), Q(assignee=actor.pk)) if _active(actor) else Q(pk__in=[]))
    return qs.select_related("owner", "assignee", "customer", "department", "region")


def task_get_for_actor(*, actor, task_id) -> Task:
    return task_list_visible_to(actor=actor).get(pk=task_id)


# ?sort= of the task list: value -> ORDER BY. Undated tasks go last either way.
TASK_SORTS = {
    "due_at": (F("due_at").asc(nulls_last=True), F("id").asc()),
    "-due_at": (F("due_at").desc(nulls_last=True), F("id").desc()),
    "created_at": (F("created_at").asc(), F("id").asc()),
    "-created_at": (F("created_at").desc(), F("id").desc()),
}
TASK_SORT_DEFAULT = "due_at"


def task_list_sorted(qs: QuerySet[Task], sort: str | None) -> QuerySet[Task]:
    """``qs`` in the order named by ``sort`` (TASK_SORTS; empty for the default, due date
    first). An unknown value raises ValidationError naming the allowed ones."""
    return qs.order_by(*TASK_SORTS[sort_choice(sort, TASK_SORTS, TASK_SORT_DEFAULT)])


def sort_choice(sort: str | None, allowed, default: str) -> str:
    if not sort:
        return default
    if sort not in allowed:
        raise ValidationError({"sort": _("排序方式“%(value)s”无效，可选：%(choices)s。") % {
            "value": sort[:40], "choices": ", ".join(allowed)}})
    return sort


def _any(*conditions: Q) -> Q:
    """OR of filters; an empty Q (no restriction, e.g. the "all" scope) wins (``Q() | x`` is
    ``x`` in Django, which would narrow instead of widen)."""
    if any(not c for c in conditions):
        return Q()
    result = conditions[0]
    for condition in conditions[1:]:
        result |= condition
    return result


def _active(actor) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active)


def _mine(actor) -> Q:
    """Tasks I am to do: assigned to me, or mine with nobody assigned."""
    return Q(assignee=actor.pk) | Q(assignee__isnull=True, owner=actor.pk)


def _my_open_tasks(actor) -> QuerySet[Task]:
    return Task.objects.filter(_mine(actor), status=TaskStatus.OPEN).select_related("customer")


def _day_bounds(now: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + datetime.timedelta(days=1)


def _by_priority(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: (PRIORITY_RANK.get(t.priority, 1), t.due_at or t.created_at, t.pk))


# -- activities ----------------------------------------------------------------------------------
def joined_by(actor) -> Exists:
    """The activity has ``actor`` among its participants: an EXISTS on the participants
    table (its (activity_id, user_id) unique index), so a row never repeats."""
    return Exists(Activity.participants.through.objects.filter(activity_id=OuterRef("pk"), user_id=actor.pk))


def activity_scope_q(actor) -> Q:
    """The actor's own scope over activities (owner, department, region), widened to every
    activity of a customer the actor can see (whoever sees the customer sees its timeline)
    and to the activities the actor joined as a participant (seeing those does not open
    their customer: that stays with the customer's own scope). The customer part is a
    subquery so each half can use its own index."""
    if not _active(actor):
        return Q(pk__in=[])
    own = scope_q(Activity, actor)
    if not own:
        return Q()
    visible_customers = customer_selectors.customer_list_visible_to(actor=actor)
    if actor.effective_scope() == Scope.OWN:
        # a salesperson's few thousand customers: hashed once, probed per activity
        customer_part = Q(customer__in=visible_customers.values("pk"))
    else:
        # a department or region may hold hundreds of thousands of customers: hashing them all
        # for one page costs seconds. Probe the one customer of each activity read instead (a
        # primary-key lookup with the scope as a filter).
        customer_part = Q(Exists(visible_customers.order_by().filter(pk=OuterRef("customer_id"))))
    return own | customer_part | Q(joined_by(actor))


def activity_list_visible_to(*, actor) -> QuerySet[Activity]:
    """Activities in the actor's scope, every activity of a customer the actor can see, and
    the activities the actor joined."""
    return (Activity.objects.filter(activity_scope_q(actor))
            .select_related("customer", "contact", "owner", "planned_by", "follow_up_task", "cancelled_by")
            .prefetch_related(Prefetch("participants")))


def mine_q(actor) -> Q:
    """Activities I own or joined ("my activities", my calendar)."""
    if not _active(actor):
        return Q(pk__in=[])
    return Q(owner=actor.pk) | Q(joined_by(actor))


def activities_of(*, actor) -> QuerySet[Activity]:
    return Activity.objects.filter(mine_q(actor))


# ?sort= of the activity list: value -> ORDER BY (each served by the (…, -occurred_at, -id)
# indexes, read forwards or backwards).
ACTIVITY_SORTS = {
    "-occurred_at": ("-occurred_at", "-id"),
    "occurred_at": ("occurred_at", "id"),
}
ACTIVITY_SORT_DEFAULT = "-occurred_at"


def activity_sort_ordering(sort: str | None) -> tuple[str, ...]:
    """The ORDER BY of ``sort`` (ACTIVITY_SORTS; empty for the default, newest first). An
    unknown value raises ValidationError naming the allowed ones."""
    return ACTIVITY_SORTS[sort_choice(sort, ACTIVITY_SORTS, ACTIVITY_SORT_DEFAULT)]


def customers_openable_by(*, actor, customer_ids) -> set[int]:
    """Which of these customers the actor may open (a participant sees an activity's
    customer name, but the customer page only within their own scope)."""
    ids = {i for i in customer_ids if i}
    if not ids or not _active(actor):
        return set()
    return set(customer_selectors.customer_list_visible_to(actor=actor).filter(pk__in=ids)
               .values_list("pk", flat=True))


def activity_get_for_actor(*, actor, activity_id) -> Activity:
    return activity_list_visible_to(actor=actor).get(pk=activity_id)


def activity_timeline(*, actor, customer_id: int, limit: int = 50) -> list[Activity]:
    """A customer's activities, newest first, if the actor may see the customer (else none)."""
    if not _active(actor) or not customer_selectors.customer_list_visible_to(actor=actor).filter(
            pk=customer_id).exists():
        return []
    return list(Activity.objects.filter(customer_id=customer_id)
                .select_related("contact", "owner", "planned_by", "cancelled_by")
                .prefetch_related("participants")
                .order_by("-occurred_at", "-id")[:limit])


def visits_planned_for(*, actor, start: datetime.datetime, end: datetime.datetime) -> QuerySet[Activity]:
    """My open planned visits (not done, not cancelled) in [start, end)."""
    return (Activity.objects.filter(owner=actor.pk, planned=True, cancelled_at__isnull=True,
                                    occurred_at__gte=start, occurred_at__lt=end)
            .select_related("customer", "contact", "planned_by").order_by("occurred_at", "id"))


def visit_plans_visible_to(*, actor) -> QuerySet[Activity]:
    """Planned visits neither done nor cancelled, in the actor's scope (a manager sees the
    team's plans)."""
    return (Activity.objects.filter(scope_q(Activity, actor) if _active(actor) else Q(pk__in=[]), planned=True,
                                    cancelled_at__isnull=True)
            .select_related("customer", "contact", "owner", "planned_by").order_by("occurred_at", "id"))


def unscoped_activity_ids_of_customer(*, customer_id: int) -> list[int]:
    """Every activity of a customer, whoever may see it (for merges)."""
    return list(Activity.objects.filter(customer_id=customer_id).values_list("pk", flat=True))


def unscoped_task_ids_of_customer(*, customer_id: int) -> list[int]:
    """Every task linked to a customer, whoever may see it (for merges)."""
    return list(Task.objects.filter(customer_id=customer_id).values_list("pk", flat=True))


# -- the today page and the calendar -------------------------------------------------------------
def today_for(*, actor, now: datetime.datetime | None = None) -> dict:
    """What the "today" page shows: my overdue and due-today open tasks (by priority), my
    planned visits of today, my customers about to be released to the pool."""
    now = timezone.localtime(now or timezone.now())
    start, end = _day_bounds(now)
    mine = _my_open_tasks(actor)
    return {
        "overdue": _by_priority(list(mine.filter(due_at__lt=start).order_by("due_at", "id")[:50])),
        "today": _by_priority(list(mine.filter(due_at__gte=start, due_at__lt=end).order_by("due_at", "id")[:50])),
        "undated": list(mine.filter(due_at__isnull=True).order_by("-created_at", "-id")[:20]),
        "visits": list(visits_planned_for(actor=actor, start=start, end=end)[:50]),
        "overdue_visits": list(visits_planned_for(actor=actor, start=start - datetime.timedelta(days=30),
                                                  end=start)[:20]),
        "pool_warnings": pool_warnings_for(actor=actor, now=now),
        **_approvals_waiting(actor),
        "now": now,
    }


TODAY_APPROVALS = 5


def _approvals_waiting(actor) -> dict:
    """The approvals waiting for me (mine and delegated to me): the newest few and the count."""
    from crm.approvals import selectors as approval_selectors  # the engine notifies through us

    count = approval_selectors.approvals_waiting_count(actor=actor)
    items = approval_selectors.approval_inbox_for(actor=actor, limit=TODAY_APPROVALS).items if count else []
    return {"approvals": items, "approvals_waiting": count,
            "approvals_more": count > len(items)}


def pool_warnings_for(*, actor, now: datetime.datetime | None = None, limit: int = 50) -> list[dict]:
    """My customers that the pool job has warned about, soonest release first."""
    from crm.customers.services import customer_settings_get

    now = now or timezone.now()
    rules = customer_settings_get()
    customers = list(customer_selectors.customer_list_visible_to(actor=actor)
                     .filter(owner=actor.pk, pool_warned_at__isnull=False)
                     .order_by("last_activity_at", "pk")[:limit])
    return [{"customer": c, "release_at": release_at_of(c, rules),
             "days_left": days_left(release_at_of(c, rules), now)} for c in customers]


def release_at_of(customer, rules) -> datetime.datetime | None:
    if customer.last_activity_at is None:
        return None
    return customer.last_activity_at + datetime.timedelta(days=rules.release_after_days)


def days_left(release_at: datetime.datetime | None, now: datetime.datetime) -> int:
    if release_at is None:
        return 0
    seconds = (release_at - now).total_seconds()
    return max(0, -int(-seconds // 86400))  # whole days, rounded up


@dataclass
class CalendarDay:
    date: datetime.date
    in_month: bool
    is_today: bool
    tasks: list = field(default_factory=list)
    activities: list = field(default_factory=list)


def calendar_month_for(*, actor, year: int, month: int, today: datetime.date | None = None) -> dict:
    """My tasks (by due date) and activities (mine and those I joined, by time) of one month,
    as weeks of days."""
    today = today or timezone.localdate()
    weeks_dates = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)
    tz = timezone.get_current_timezone()
    first = datetime.datetime.combine(weeks_dates[0][0], datetime.time.min, tzinfo=tz)
    last = datetime.datetime.combine(weeks_dates[-1][-1] + datetime.timedelta(days=1), datetime.time.min, tzinfo=tz)
    days = {d: CalendarDay(d, d.month == month, d == today) for week in weeks_dates for d in week}
    tasks = (Task.objects.filter(_mine(actor), due_at__gte=first, due_at__lt=last)
             .exclude(status=TaskStatus.CANCELLED).select_related("customer").order_by("due_at", "id"))
    for task in tasks[:1000]:
        days[timezone.localtime(task.due_at, tz).date()].tasks.append(task)
    # mine and those I joined; a cancelled plan stays, shown struck through
    activities = (activities_of(actor=actor).filter(occurred_at__gte=first, occurred_at__lt=last)
                  .select_related("customer").order_by("occurred_at", "id"))
    for activity in activities[:1000]:
        days[timezone.localtime(activity.occurred_at, tz).date()].activities.append(activity)
    weeks = [[days[d] for d in week] for week in weeks_dates]
    previous = (datetime.date(year, month, 1) - datetime.timedelta(days=1)).replace(day=1)
    following = (datetime.date(year, month, 28) + datetime.timedelta(days=4)).replace(day=1)
    return {"weeks": weeks, "month": datetime.date(year, month, 1), "previous": previous,
            "following": following, "today": today}


# -- notifications -------------------------------------------------------------------------------
def notification_list_for(*, actor) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=actor.pk).order_by("-created_at", "-id")


def notification_unread_count(*, actor) -> int:
    if not _active(actor):
        return 0
    return Notification.objects.filter(recipient=actor.pk, read_at__isnull=True).count()


def unscoped_tasks_to_remind(*, now: datetime.datetime, window: datetime.timedelta) -> QuerySet[Task]:
    """Open tasks whose reminder time has come (within ``window``) and not gone out yet."""
    return (Task.objects.filter(status=TaskStatus.OPEN, remind_at__lte=now, remind_at__gt=now - window)
            .filter(Q(reminded_at__isnull=True) | Q(reminded_at__lt=F("remind_at")))
            .select_related("owner", "assignee", "customer").order_by("remind_at", "pk"))


def unscoped_pool_warnings_untold(*, limit: int = 5000) -> list:
    """Customers the pool job warned about whose owner has not been told of that warning."""
    from django.db.models import Exists, OuterRef

    from crm.customers.models import Customer

    from .models import PoolWarningNotice

    told = PoolWarningNotice.objects.filter(customer=OuterRef("pk"), warned_at=OuterRef("pool_warned_at"))
    return list(Customer.objects.live().filter(owner__isnull=False, owner__is_active=True,
                                               pool_warned_at__isnull=False)
                .filter(~Exists(told)).select_related("owner").order_by("owner_id", "last_activity_at", "pk")[:limit])
