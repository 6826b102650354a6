"""URL root of the public host (BASE_DOMAIN): the site, the operator console, the admin."""

from django.contrib import admin
from django.urls import include, path

from crm.org.views import language_set
from tenants.api import BusinessModeListApi
from tenants.views import landing

urlpatterns = [
    path("", landing, name="landing"),
    path("api/v1/business-modes", BusinessModeListApi.as_view(), name="api-business-modes"),
    path("console/", include("console.urls")),
    path("billing/", include("billing.urls")),
    path("", include("signup.urls")),
    path("admin/", admin.site.urls),
    path("i18n/setlang/", language_set, name="set-language"),
]

handler404 = "config.errors.not_found"
handler403 = "config.errors.forbidden"
handler500 = "config.errors.server_error"
