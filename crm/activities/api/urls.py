from django.urls import path

from . import views

urlpatterns = [
    path("tasks/", views.TaskListApi.as_view(), name="api-tasks"),
    path("tasks/<int:task_id>/", views.TaskDetailApi.as_view(), name="api-task-detail"),
    path("tasks/<int:task_id>/complete", views.TaskCompleteApi.as_view(), name="api-task-complete"),
    path("activities/", views.ActivityListApi.as_view(), name="api-activities"),
    path("activities/plan", views.ActivityPlanApi.as_view(), name="api-activities-plan"),
    path("activities/<int:activity_id>/", views.ActivityDetailApi.as_view(), name="api-activity"),
    path("activities/<int:activity_id>/complete", views.ActivityCompleteApi.as_view(),
         name="api-activity-complete"),
    path("activities/<int:activity_id>/cancel", views.ActivityCancelApi.as_view(), name="api-activity-cancel"),
    path("notifications/", views.NotificationListApi.as_view(), name="api-notifications"),
    path("notifications/read", views.NotificationReadApi.as_view(), name="api-notifications-read"),
]
