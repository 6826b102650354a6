"""URL root of a tenant host (<slug>.<BASE_DOMAIN>). No Django admin here."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from crm.org.views import language_set

api_v1 = [
    path("", include("crm.org.api.urls")),
    path("", include("crm.activities.api.urls")),
    path("", include("crm.customers.api.urls")),
    path("", include("crm.catalog.api.urls")),
    path("", include("crm.approvals.api.urls")),
    path("", include("crm.sales.api.urls")),
    path("", include("crm.orders.api.urls")),
    path("", include("crm.finance.api.urls")),
    path("", include("crm.analytics.api.urls")),
    path("", include("crm.integrations.api.urls")),
    path("", include("crm.partners.api.urls")),
]

urlpatterns = [
    path("", include("crm.activities.urls")),
    path("", include("crm.org.urls")),
    path("customers/", include("crm.customers.urls")),
    path("customers/import/", include("crm.customers.urls_imports")),
    path("customers/duplicates/", include("crm.customers.urls_dedup")),
    path("catalog/", include("crm.catalog.urls")),
    path("approvals/", include("crm.approvals.urls")),
    path("sales/", include("crm.sales.urls")),
    path("orders/", include("crm.orders.urls")),
    path("finance/", include("crm.finance.urls")),
    path("analytics/", include("crm.analytics.urls")),
    path("integrations/", include("crm.integrations.urls")),
    path("partners/", include("crm.partners.urls")),
    path("i18n/setlang/", language_set, name="set-language"),
    path("portal/", include("partner_portal.urls")),
    path("api/v1/portal/", include("partner_portal.api.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "config.errors.not_found"
handler403 = "config.errors.forbidden"
handler500 = "config.errors.server_error"
