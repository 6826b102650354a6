"""URL patterns added by the imports part of the customers app."""

from django.urls import path

from . import imports

urlpatterns = [
    path("customers/imports", imports.CustomerImportListApi.as_view(), name="api-customer-imports"),
    path("customers/imports/<int:job_id>", imports.CustomerImportDetailApi.as_view(), name="api-customer-import"),
    path("customers/imports/<int:job_id>/run", imports.CustomerImportRunApi.as_view(),
         name="api-customer-import-run"),
    path("customers/imports/<int:job_id>/errors.csv", imports.CustomerImportErrorsApi.as_view(),
         name="api-customer-import-errors"),
    path("customers/import-templates", imports.ImportTemplateListApi.as_view(), name="api-customer-import-templates"),
    path("customers/export", imports.CustomerExportApi.as_view(), name="api-customers-export"),
]
