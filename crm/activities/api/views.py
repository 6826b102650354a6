from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

from crm.activities import selectors, services
from crm.activities.models import Task
from crm.org.api.base import StaffApiView


class TaskSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.full_name", read_only=True)

    class Meta:
        model = Task
        fields = ["id", "title", "notes", "due_at", "status", "owner", "owner_name",
                  "department", "region", "created_at", "completed_at"]
        read_only_fields = ["id", "status", "owner", "owner_name", "department", "region",
                            "created_at", "completed_at"]


class TaskListApi(StaffApiView):
    @extend_schema(tags=["tasks"], responses={200: TaskSerializer(many=True)})
    def get(self, request):
        qs = selectors.task_list_visible_to(actor=request.user)
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        if request.query_params.get("owner"):
            qs = qs.filter(owner_id=request.query_params["owner"]) if request.query_params["owner"].isdigit() else qs.none()
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs.order_by("due_at", "id"), request, view=self)
        return paginator.get_paginated_response(TaskSerializer(page, many=True).data)

    @extend_schema(tags=["tasks"], request=TaskSerializer, responses={201: TaskSerializer})
    def post(self, request):
        data = TaskSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_create(actor=request.user, **data.validated_data)
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskDetailApi(StaffApiView):
    @extend_schema(tags=["tasks"], responses={200: TaskSerializer})
    def get(self, request, task_id: int):
        try:
            return Response(TaskSerializer(selectors.task_get_for_actor(actor=request.user, task_id=task_id)).data)
        except Task.DoesNotExist:
            raise Http404 from None


class TaskCompleteApi(StaffApiView):
    @extend_schema(tags=["tasks"], request=None, responses={200: TaskSerializer})
    def post(self, request, task_id: int):
        try:
            task = services.task_complete(actor=request.user, task_id=task_id)
        except Task.DoesNotExist:
            raise Http404 from None
        return Response(TaskSerializer(task).data)
