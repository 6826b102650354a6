from django.urls import path

from . import views

app_name = "activities"

urlpatterns = [
    path("", views.today, name="today"),
    path("calendar/", views.calendar_month, name="calendar"),
    path("activities/", views.activity_list, name="list"),
    path("activities/new/", views.activity_new, name="new"),
    path("activities/<int:activity_id>/", views.activity_detail, name="detail"),
    path("activities/<int:activity_id>/complete", views.visit_complete, name="visit-complete"),
    path("activities/<int:activity_id>/cancel", views.visit_cancel, name="visit-cancel"),
    path("visits/plans/", views.visit_plans, name="visit-plans"),
    path("tasks/<int:task_id>/complete", views.task_complete, name="task-complete"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read", views.notifications_read_all, name="notifications-read"),
    path("notifications/<int:notification_id>/", views.notification_open, name="notification-open"),
]
