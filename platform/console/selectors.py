"""What the console reads: tenants with filters, one tenant's usage (from its schema),
the dashboard's figures and the operator log. Public schema unless said otherwise."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django.db.models import Case, Count, DecimalField, F, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context, schema_exists

from tenants.enums import TenantStatus
from tenants.models import Tenant

from .models import OperatorLogEntry, SupportSession

# -- the tenants list ----------------------------------------------------------------------------
SORTS = {
    "name": ("name", "id"), "-name": ("-name", "-id"),
    "created": ("created_at", "id"), "-created": ("-created_at", "-id"),
    "activity": (F("last_activity_at").asc(nulls_first=True), "id"),
    "-activity": (F("last_activity_at").desc(nulls_last=True), "-id"),
    "status": ("status", "name", "id"), "plan": ("plan_code", "name", "id"),
}
DEFAULT_SORT = "-created"
ACTIVITY_CHOICES = [
    ("", _("不限")), ("7", _("7 天内活跃")), ("30", _("30 天内活跃")),
    ("idle30", _("超过 30 天未活跃")), ("idle90", _("超过 90 天未活跃")), ("never", _("从未活跃")),
]


def tenant_list(*, q: str = "", status: str = "", mode: str = "", plan: str = "",
                created_from: datetime.date | None = None, created_to: datetime.date | None = None,
                activity: str = "", sort: str = DEFAULT_SORT,
                now: datetime.datetime | None = None) -> QuerySet[Tenant]:
    now = now or timezone.now()
    qs = Tenant.objects.real().select_related("subscription__plan")
    if q:
        q = q.strip()
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(admin_email__icontains=q)
                       | Q(pk__in=_tenants_with_domain_like(q)))
    if status:
        qs = qs.filter(status=status)
    if mode:
        qs = qs.filter(modes__contains=[mode])
    if plan:
        qs = qs.filter(plan_code=plan)
    if created_from:
        qs = qs.filter(created_at__gte=_day_start(created_from))
    if created_to:
        qs = qs.filter(created_at__lt=_day_start(created_to + datetime.timedelta(days=1)))
    if activity in ("7", "30"):
        qs = qs.filter(last_activity_at__gte=now - datetime.timedelta(days=int(activity)))
    elif activity in ("idle30", "idle90"):
        days = int(activity[4:])
        qs = qs.filter(Q(last_activity_at__lt=now - datetime.timedelta(days=days))
                       | Q(last_activity_at__isnull=True))
    elif activity == "never":
        qs = qs.filter(last_activity_at__isnull=True)
    return qs.order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))


def _tenants_with_domain_like(q: str):
    from tenants.models import Domain

    return Domain.objects.filter(domain__icontains=q.lower()).values("tenant_id")


def _day_start(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def tenant_status_counts() -> list[tuple[str, str, int]]:
    """(status, label, count) of every real tenant, in the lifecycle's order."""
    counts = dict(Tenant.objects.real().values_list("status").annotate(n=Count("id")))
    return [(value, label, counts.get(value, 0)) for value, label in TenantStatus.choices]


# -- one tenant ----------------------------------------------------------------------------------
# The main tables of a tenant, counted on its page (app label, model, label).
MAIN_TABLES = [
    ("customers", "Customer", _("客户")), ("customers", "Contact", _("联系人")),
    ("activities", "Activity", _("跟进记录")), ("activities", "Task", _("任务")),
    ("sales", "Opportunity", _("商机")), ("sales", "Quote", _("报价")),
    ("orders", "Order", _("订单")), ("finance", "Invoice", _("发票")),
    ("finance", "Payment", _("回款")), ("partners", "Partner", _("渠道伙伴")),
    ("catalog", "Product", _("产品")),
]
# Above this many rows (the planner's estimate) a table is not counted exactly: too slow.
EXACT_COUNT_BELOW = 20_000


@dataclass
class TenantUsage:
    staff_active: int = 0
    staff_total: int = 0
    partner_active: int = 0
    partner_total: int = 0
    last_login: datetime.datetime | None = None
    storage_bytes: int = 0
    rows: list | None = None  # [(label, count, estimated)]


def tenant_usage(tenant: Tenant) -> TenantUsage | None:
    """Live figures from the tenant's schema: users, rows of the main tables (exact when small,
    the planner's estimate when large), storage (tables with their indexes and TOAST) and the
    last sign-in. Four queries whatever the tenant's size; None when it has no schema."""
    from crm.org.enums import UserKind
    from crm.org.models import User

    if tenant.status in (TenantStatus.AWAITING_PAYMENT, TenantStatus.PROVISIONING) \
            or not schema_exists(tenant.schema_name):
        return None
    usage = TenantUsage(rows=[])
    quote = connection.ops.quote_name
    with schema_context(tenant.schema_name):
        figures = User.objects.aggregate(
            staff_active=Count("id", filter=Q(kind=UserKind.STAFF, is_active=True)),
            staff_total=Count("id", filter=Q(kind=UserKind.STAFF)),
            partner_active=Count("id", filter=Q(kind=UserKind.PARTNER, is_active=True)),
            partner_total=Count("id", filter=Q(kind=UserKind.PARTNER)),
            last_login=Max("last_login"))
        for key, value in figures.items():
            setattr(usage, key, value or (None if key == "last_login" else 0))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.relname, c.reltuples::bigint, pg_total_relation_size(c.oid) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'm')", [tenant.schema_name])
            tables = {name: (estimate, size) for name, estimate, size in cursor.fetchall()}
            usage.storage_bytes = sum(size for _est, size in tables.values())
            wanted = []
            for app_label, model_name, label in MAIN_TABLES:
                try:
                    table = apps.get_model(app_label, model_name)._meta.db_table
                except LookupError:
                    continue
                if table in tables:
                    wanted.append((table, label, tables[table][0]))
            exact = [t for t, _label, estimate in wanted if estimate < EXACT_COUNT_BELOW]
            counts = {}
            if exact:
                schema = quote(tenant.schema_name)
                cursor.execute(" UNION ALL ".join(
                    f"SELECT %s, count(*) FROM {schema}.{quote(t)}" for t in exact), exact)
                counts = dict(cursor.fetchall())
        usage.rows = [(label, counts.get(t, max(estimate, 0)), t not in counts)
                      for t, label, estimate in wanted]
    return usage


def tenant_events(tenant: Tenant, *, limit: int = 100):
    return tenant.events.all()[:limit]


def operator_log_for_tenant(tenant: Tenant, *, limit: int = 50) -> QuerySet[OperatorLogEntry]:
    return OperatorLogEntry.objects.filter(tenant=tenant).order_by("-at", "-id")[:limit]


def support_sessions_for_tenant(tenant: Tenant, *, limit: int = 20) -> QuerySet[SupportSession]:
    return SupportSession.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:limit]


# -- the dashboard -------------------------------------------------------------------------------
def dashboard_figures(*, now: datetime.datetime | None = None) -> dict:
    from billing.enums import BillingStatus, Interval
    from billing.models import Plan, StripeEvent, Subscription

    now = now or timezone.now()
    real = Tenant.objects.real()

    # sign-ups per week (Monday to Sunday, local time), the last 12 weeks
    today = timezone.localdate(now)
    this_week = today - datetime.timedelta(days=today.weekday())
    first_week = this_week - datetime.timedelta(weeks=11)
    per_week = {
        row["week"].date() if isinstance(row["week"], datetime.datetime) else row["week"]: row["n"]
        for row in real.filter(created_at__gte=_day_start(first_week), created_at__lte=now)
        .annotate(week=TruncWeek("created_at")).values("week").annotate(n=Count("id"))
    }
    weeks = [(first_week + datetime.timedelta(weeks=i)) for i in range(12)]
    signups = [(week, per_week.get(week, 0)) for week in weeks]
    top = max([n for _w, n in signups] + [1])

    active = real.filter(status=TenantStatus.ACTIVE)
    by_mode = list(active.annotate(primary=F("modes__0")).values("primary")
                   .annotate(n=Count("id")).order_by("-n", "primary"))
    plan_names = {p.code: p.display_name for p in Plan.objects.all()}
    by_plan = [(row["plan_code"], plan_names.get(row["plan_code"], row["plan_code"]), row["n"])
               for row in active.values("plan_code").annotate(n=Count("id")).order_by("-n", "plan_code")]

    # MRR: active subscriptions paid through Stripe; a yearly price counts for a twelfth
    paid = (Subscription.objects.filter(status=BillingStatus.ACTIVE, tenant__is_template=False)
            .exclude(stripe_subscription_id=""))
    money = DecimalField(max_digits=14, decimal_places=2)
    mrr = paid.aggregate(mrr=Sum(Case(
        When(interval=Interval.YEAR, then=F("plan__price_yearly") / Value(Decimal(12))),
        default=F("plan__price_monthly"), output_field=money)), n=Count("id"))

    # churn: cancelled in the last 30 days over those active (not cancelled) at its start
    start = now - datetime.timedelta(days=30)
    subs = Subscription.objects.filter(tenant__is_template=False)
    at_start = subs.filter(created_at__lte=start).exclude(status=BillingStatus.INCOMPLETE).filter(
        Q(cancelled_at__isnull=True) | Q(cancelled_at__gt=start)).filter(
        Q(closed_at__isnull=True) | Q(closed_at__gt=start)).count()
    churned = subs.filter(cancelled_at__gt=start, cancelled_at__lte=now, created_at__lte=start).count()
    churn = (Decimal(churned) * 100 / at_start).quantize(Decimal("0.1")) if at_start else None

    failed_events = (StripeEvent.objects.filter(type="invoice.payment_failed", created__gte=start)
                     .select_related("tenant").order_by("-created"))
    from billing.enums import StripeEventStatus

    attention = (StripeEvent.objects.filter(status__in=[StripeEventStatus.FLAGGED, StripeEventStatus.FAILED])
                 .select_related("tenant").order_by("-received_at", "-id"))
    past_due = (Subscription.objects.filter(status=BillingStatus.PAST_DUE, tenant__is_template=False)
                .select_related("tenant", "plan").order_by("past_due_since"))
    return {
        "signups": [(w, n, round(n * 100 / top)) for w, n in signups],
        "signups_total": sum(n for _w, n in signups),
        "by_mode": by_mode, "by_plan": by_plan, "active_total": active.count(),
        "mrr": (mrr["mrr"] or Decimal(0)).quantize(Decimal("0.01")), "paying": mrr["n"],
        "churned": churned, "churn_base": at_start, "churn_rate": churn,
        "failed_payments": failed_events.count(), "failed_recent": list(failed_events[:10]),
        "past_due": list(past_due[:20]), "past_due_total": past_due.count(),
        "events_attention": list(attention[:20]), "events_attention_total": attention.count(),
        "status_counts": tenant_status_counts(),
    }


# -- the operator log ----------------------------------------------------------------------------
def operator_log_list(*, operator: str = "", action: str = "", tenant: str = "",
                      date_from: datetime.date | None = None,
                      date_to: datetime.date | None = None) -> QuerySet[OperatorLogEntry]:
    qs = OperatorLogEntry.objects.select_related("tenant")
    if operator:
        qs = qs.filter(operator_email__icontains=operator.strip().lower())
    if action:
        qs = qs.filter(action=action)
    if tenant:
        tenant = tenant.strip()
        qs = qs.filter(Q(tenant__slug__icontains=tenant) | Q(tenant__name__icontains=tenant)
                       | (Q(tenant_id=int(tenant)) if tenant.isdigit() else Q(pk__in=[])))
    if date_from:
        qs = qs.filter(at__gte=_day_start(date_from))
    if date_to:
        qs = qs.filter(at__lt=_day_start(date_to + datetime.timedelta(days=1)))
    return qs.order_by("-at", "-id")


# -- operators -----------------------------------------------------------------------------------
def operator_list(*, viewer) -> list:
    """The operators (public staff users) by email, each with ``second_factor_at`` (set up
    when), ``second_factor_pending`` (enrolment started, not confirmed) and ``resettable``
    (``viewer`` is a superuser and may reset this other operator's second factor)."""
    from django.contrib.auth import get_user_model

    from .models import OperatorTOTP

    enrolled = dict(OperatorTOTP.objects.values_list("operator_id", "confirmed_at"))
    people = list(get_user_model().objects.filter(is_staff=True).order_by("email"))
    for person in people:
        person.second_factor_at = enrolled.get(person.pk)
        person.second_factor_pending = person.pk in enrolled and enrolled[person.pk] is None
        person.resettable = viewer.is_superuser and person.pk != viewer.pk and person.pk in enrolled
    return people
