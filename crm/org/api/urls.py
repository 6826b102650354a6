from django.urls import path

from . import views

urlpatterns = [
    path("auth/token", views.AuthTokenApi.as_view(), name="api-auth-token"),
    path("auth/me", views.AuthMeApi.as_view(), name="api-auth-me"),
    path("staff/", views.StaffListApi.as_view(), name="api-staff-list"),
    path("staff/<int:user_id>/", views.StaffDetailApi.as_view(), name="api-staff-detail"),
    path("staff/<int:user_id>/deactivate", views.StaffDeactivateApi.as_view(), name="api-staff-deactivate"),
    path("staff/<int:user_id>/reactivate", views.StaffReactivateApi.as_view(), name="api-staff-reactivate"),
    path("staff/<int:user_id>/audit", views.StaffAuditApi.as_view(), name="api-staff-audit"),
    path("roles/", views.RoleListApi.as_view(), name="api-roles"),
    path("departments/", views.DepartmentListApi.as_view(), name="api-departments"),
    path("regions/", views.RegionListApi.as_view(), name="api-regions"),
]
