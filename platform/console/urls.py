from django.urls import path

from . import views

app_name = "console"

TENANT_ACTIONS = "suspend|resume|close|plan|trial|domain-add|domain-remove|provision|support-revoke"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("login/code/", views.login_code_view, name="login-code"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("tenants/", views.tenant_list, name="tenants"),
    path("tenants/new/", views.tenant_new, name="tenant-new"),
    path("tenants/<int:tenant_id>/", views.tenant_detail, name="tenant"),
    path("tenants/<int:tenant_id>/support/", views.support_start, name="support"),
    path("tenants/<int:tenant_id>/<str:action>/", views.tenant_action, name="tenant-action"),
    path("log/", views.operator_log, name="log"),
    path("operators/", views.operators, name="operators"),
]
