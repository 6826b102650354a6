"""URL root of the public host (BASE_DOMAIN): the site and sign-up, billing webhooks, the
operator console, the admin."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from crm.org.views import language_set
from signup.views import landing
from tenants.api import BusinessModeListApi

urlpatterns = [
    path("", landing, name="landing"),
    path("api/v1/business-modes", BusinessModeListApi.as_view(), name="api-business-modes"),
    path("console/", include("console.urls")),
    path("billing/", include("billing.urls")),
    path("", include("signup.urls")),
    # Operators sign in once, with their second factor, through the console (the admin's own
    # password-only form is not offered).
    path("admin/login/", RedirectView.as_view(url="/console/login/?next=/admin/", query_string=False)),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", language_set, name="set-language"),
]

handler404 = "config.errors.not_found"
handler403 = "config.errors.forbidden"
handler500 = "config.errors.server_error"
