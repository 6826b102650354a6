from django.urls import path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("tenants/new/", views.tenant_new, name="tenant-new"),
    path("tenants/<int:tenant_id>/", views.tenant_detail, name="tenant"),
]
