from django.urls import path

from . import views

urlpatterns = [
    path("tasks/", views.TaskListApi.as_view(), name="api-tasks"),
    path("tasks/<int:task_id>/", views.TaskDetailApi.as_view(), name="api-task-detail"),
    path("tasks/<int:task_id>/complete", views.TaskCompleteApi.as_view(), name="api-task-complete"),
]
