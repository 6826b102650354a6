from django.urls import include, path

from . import support_access, views, views_billing

app_name = "org"

urlpatterns = [
    *support_access.urlpatterns,  # /support-access/ (console operators acting as a user)
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("reset/<uidb64>/<token>/", views.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("staff/", views.staff_list, name="staff-list"),
    path("staff/invite/", views.staff_invite, name="staff-invite"),
    path("staff/<int:user_id>/", views.staff_detail, name="staff-detail"),
    path("staff/<int:user_id>/deactivate/", views.staff_set_active, {"active": False}, name="staff-deactivate"),
    path("staff/<int:user_id>/reactivate/", views.staff_set_active, {"active": True}, name="staff-reactivate"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/modes/enable/", views.mode_enable, name="mode-enable"),
    path("settings/billing/", include(views_billing.urlpatterns)),
]
