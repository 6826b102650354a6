"""Staff API for tasks, activities (with planned visits) and notifications. Thin: every read
starts from a visible_to selector; an id outside the actor's scope answers 404."""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Q
from django.http import Http404
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.response import Response

from crm.activities import selectors, services
from crm.activities.enums import ActivityKind, ActivityStatus
from crm.org.api.base import StaffApiView

from .serializers import (
    ActivitySerializer,
    ActivityUpdateSerializer,
    ActivityWriteSerializer,
    CancelVisitSerializer,
    CompleteVisitSerializer,
    NotificationSerializer,
    PlanVisitSerializer,
    TaskSerializer,
)


def not_found_on_missing(func):
    """A record (or a referenced customer) outside the actor's scope is a 404; an operation
    the visit's state does not allow (completing a cancelled visit) is a 409."""
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ObjectDoesNotExist:
            raise Http404 from None
        except services.VisitStateConflict as exc:
            return Response({"detail": " ".join(exc.messages), "code": exc.code},
                            status=status.HTTP_409_CONFLICT)
    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    wrapper.__dict__.update(func.__dict__)
    return wrapper


# -- tasks -----------------------------------------------------------------------------------------
class TaskListApi(StaffApiView):
    @extend_schema(tags=["tasks"], responses={200: TaskSerializer(many=True)}, parameters=[
        OpenApiParameter("status", str), OpenApiParameter("owner", int), OpenApiParameter("assignee", int),
        OpenApiParameter("customer", int), OpenApiParameter("priority", str),
        OpenApiParameter("sort", str, enum=list(selectors.TASK_SORTS),
                         description="due_at (default: soonest first, undated last), -due_at, created_at, "
                                     "-created_at")])
    def get(self, request):
        qs = selectors.task_list_visible_to(actor=request.user)
        params = request.query_params
        qs = selectors.task_list_sorted(qs, params.get("sort"))
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("priority"):
            qs = qs.filter(priority=params["priority"])
        for name in ("owner", "assignee", "customer"):
            if params.get(name):
                qs = qs.filter(**{f"{name}_id": params[name]}) if params[name].isdigit() else qs.none()
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(tags=["tasks"], request=TaskSerializer, responses={201: TaskSerializer})
    @not_found_on_missing
    def post(self, request):
        data = TaskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_create(actor=request.user, **data.validated_data)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(StaffApiView):
    @extend_schema(tags=["tasks"], responses={200: TaskSerializer})
    @not_found_on_missing
    def get(self, request, task_id: int):
        return Response(TaskSerializer(selectors.task_get_for_actor(actor=request.user, task_id=task_id)).data)

    @extend_schema(tags=["tasks"], request=TaskSerializer, responses={200: TaskSerializer})
    @not_found_on_missing
    def patch(self, request, task_id: int):
        data = TaskSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        task = services.task_update(actor=request.user, task_id=task_id, **data.validated_data)
        return Response(TaskSerializer(selectors.task_get_for_actor(actor=request.user, task_id=task.pk)).data)


class TaskCompleteApi(StaffApiView):
    @extend_schema(tags=["tasks"], request=None, responses={200: TaskSerializer})
    @not_found_on_missing
    def post(self, request, task_id: int):
        task = services.task_complete(actor=request.user, task_id=task_id)
        return Response(TaskSerializer(task).data)


# -- activities ------------------------------------------------------------------------------------
class ActivityCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("-occurred_at", "-id")


def _moment(params, name: str, *, end: bool = False):
    raw = params.get(name)
    if not raw:
        return None
    from datetime import datetime, time, timedelta

    from django.utils import timezone

    try:
        day = parse_date(raw) if len(raw) == 10 else None
        value = None if day else parse_datetime(raw)
    except ValueError:
        day = value = None
    if day is not None:
        value = datetime.combine(day + timedelta(days=1) if end else day, time.min,
                                 tzinfo=timezone.get_current_timezone())
    elif value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value is None:
        raise serializers.ValidationError({name: _("时间格式应为 ISO 8601，例如 2026-01-31 或 2026-01-31T08:00:00+08:00。")})
    return value


STATUS_FILTERS = {
    ActivityStatus.PLANNED: Q(planned=True, cancelled_at__isnull=True),
    ActivityStatus.CANCELLED: Q(cancelled_at__isnull=False),
    ActivityStatus.DONE: Q(planned=False, completed_at__isnull=False),
    ActivityStatus.LOGGED: Q(planned=False, completed_at__isnull=True),
}


def filter_activities(qs, params):
    """customer, kind, owner, status, planned (true: open plans, not cancelled; false: what
    happened), and the time range occurred_after / occurred_before (a date alone covers that
    whole day)."""
    for name in ("customer", "owner", "contact"):
        if params.get(name):
            qs = qs.filter(**{f"{name}_id": params[name]}) if params[name].isdigit() else qs.none()
    if params.get("kind"):
        kinds = [k for k in params.getlist("kind") if k]
        unknown = [k for k in kinds if k not in ActivityKind.values]
        if unknown:
            raise serializers.ValidationError({"kind": _("类型必须是 %(choices)s 之一。") % {
                "choices": ", ".join(ActivityKind.values)}})
        qs = qs.filter(kind__in=kinds)
    if params.get("planned") in ("true", "false", "1", "0"):
        qs = qs.filter(STATUS_FILTERS[ActivityStatus.PLANNED] if params["planned"] in ("true", "1")
                       else Q(planned=False))
    if params.get("status"):
        statuses = [v for v in params.getlist("status") if v]
        if any(v not in ActivityStatus.values for v in statuses):
            raise serializers.ValidationError({"status": _("状态必须是 %(choices)s 之一。") % {
                "choices": ", ".join(ActivityStatus.values)}})
        condition = Q()
        for value in dict.fromkeys(statuses):
            condition |= STATUS_FILTERS[value]
        qs = qs.filter(condition)
    after = _moment(params, "occurred_after")
    before = _moment(params, "occurred_before", end=True)
    if after:
        qs = qs.filter(occurred_at__gte=after)
    if before:
        qs = qs.filter(occurred_at__lt=before)
    return qs


def _write_kwargs(values: dict) -> dict:
    renames = {"contact": "contact_id", "participants": "participant_ids", "customer": "customer_id",
               "owner": "owner_id"}
    return {renames.get(k, k): v for k, v in values.items()}


class ActivityListApi(StaffApiView):
    @extend_schema(tags=["activities"], responses={200: ActivitySerializer(many=True)}, parameters=[
        OpenApiParameter("customer", int), OpenApiParameter("contact", int), OpenApiParameter("owner", int),
        OpenApiParameter("kind", str, many=True, enum=ActivityKind.values),
        OpenApiParameter("planned", bool, description="true: open planned visits (not done, not cancelled); "
                                                      "false: what happened"),
        OpenApiParameter("status", str, many=True, enum=ActivityStatus.values),
        OpenApiParameter("occurred_after", str, description="ISO date or date-time"),
        OpenApiParameter("occurred_before", str, description="ISO date (inclusive) or date-time (exclusive)"),
        OpenApiParameter("sort", str, enum=list(selectors.ACTIVITY_SORTS),
                         description="-occurred_at (default: newest first) or occurred_at"),
        OpenApiParameter("limit", int)])
    def get(self, request):
        """What the actor may see: their scope, every activity of a customer they can see, and
        the activities they joined as a participant."""
        ordering = selectors.activity_sort_ordering(request.query_params.get("sort"))
        qs = filter_activities(selectors.activity_list_visible_to(actor=request.user), request.query_params)
        paginator = ActivityCursor()
        paginator.ordering = ordering
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ActivitySerializer(page, many=True).data)

    @extend_schema(tags=["activities"], request=ActivityWriteSerializer, responses={201: ActivitySerializer})
    @not_found_on_missing
    def post(self, request):
        data = ActivityWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_log(actor=request.user, **_write_kwargs(data.validated_data))
        return Response(ActivitySerializer(selectors.activity_get_for_actor(
            actor=request.user, activity_id=activity.pk)).data, status=status.HTTP_201_CREATED)


class ActivityDetailApi(StaffApiView):
    @extend_schema(tags=["activities"], responses={200: ActivitySerializer})
    @not_found_on_missing
    def get(self, request, activity_id: int):
        return Response(ActivitySerializer(selectors.activity_get_for_actor(
            actor=request.user, activity_id=activity_id)).data)

    @extend_schema(tags=["activities"], request=ActivityUpdateSerializer, responses={200: ActivitySerializer})
    @not_found_on_missing
    def patch(self, request, activity_id: int):
        data = ActivityUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = _write_kwargs(data.validated_data)
        version = self.edited_version(request, values.pop("version", None))
        services.activity_update(actor=request.user, activity_id=activity_id, version=version, **values)
        return Response(ActivitySerializer(selectors.activity_get_for_actor(
            actor=request.user, activity_id=activity_id)).data)


class ActivityPlanApi(StaffApiView):
    @extend_schema(tags=["activities"], request=PlanVisitSerializer, responses={201: ActivitySerializer})
    @not_found_on_missing
    def post(self, request):
        data = PlanVisitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        activity = services.activity_plan_visit(actor=request.user, **_write_kwargs(data.validated_data))
        return Response(ActivitySerializer(selectors.activity_get_for_actor(
            actor=request.user, activity_id=activity.pk)).data, status=status.HTTP_201_CREATED)


class ActivityCompleteApi(StaffApiView):
    @extend_schema(tags=["activities"], request=CompleteVisitSerializer, responses={200: ActivitySerializer})
    @not_found_on_missing
    def post(self, request, activity_id: int):
        data = CompleteVisitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.activity_complete_planned(actor=request.user, activity_id=activity_id, **data.validated_data)
        return Response(ActivitySerializer(selectors.activity_get_for_actor(
            actor=request.user, activity_id=activity_id)).data)


class ActivityCancelApi(StaffApiView):
    @extend_schema(tags=["activities"], request=CancelVisitSerializer,
                   responses={200: ActivitySerializer, 400: None, 403: None, 404: None, 409: None, 412: None},
                   parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER,
                                                description="the version you saw; 412 if stale")])
    @not_found_on_missing
    def post(self, request, activity_id: int):
        """Cancel a planned visit with a reason (owner, or whoever's scope covers it). Once
        more changes nothing; a completed visit cannot be cancelled (409)."""
        data = CancelVisitSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = self.edited_version(request, data.validated_data.get("version"))
        services.activity_cancel_planned(actor=request.user, activity_id=activity_id,
                                         reason=data.validated_data["reason"], version=version)
        return Response(ActivitySerializer(selectors.activity_get_for_actor(
            actor=request.user, activity_id=activity_id)).data)


# -- notifications -----------------------------------------------------------------------------------
class NotificationListApi(StaffApiView):
    @extend_schema(tags=["notifications"], responses={200: NotificationSerializer(many=True)},
                   parameters=[OpenApiParameter("unread", bool)])
    def get(self, request):
        qs = selectors.notification_list_for(actor=request.user)
        if request.query_params.get("unread") in ("true", "1"):
            qs = qs.filter(read_at__isnull=True)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        response = paginator.get_paginated_response(NotificationSerializer(page, many=True).data)
        response.data["unread"] = selectors.notification_unread_count(actor=request.user)
        return response


class NotificationReadApi(StaffApiView):
    @extend_schema(tags=["notifications"], request=None, responses={200: None},
                   parameters=[OpenApiParameter("id", int, many=True, description="omit to mark all read")])
    def post(self, request):
        ids = request.query_params.getlist("id")
        if not ids and hasattr(request.data, "get"):
            ids = request.data.get("ids") or []
        if not isinstance(ids, list) or not all(str(i).isdigit() for i in ids):
            raise serializers.ValidationError({"ids": _("请提供通知编号列表。")})
        ids = [int(i) for i in ids] or None
        marked = services.notifications_mark_read(actor=request.user, notification_ids=ids)
        return Response({"marked": marked, "unread": selectors.notification_unread_count(actor=request.user)})
