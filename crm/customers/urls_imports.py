"""Web pages of the imports part of the customers app (mounted at /customers/import/)."""

from django.urls import path

from . import views_imports as views

app_name = "customers_imports"
urlpatterns = [
    path("", views.import_start, name="start"),
    path("export/", views.customer_export, name="export"),
    path("<int:job_id>/", views.import_detail, name="detail"),
    path("<int:job_id>/mapping/", views.import_mapping, name="mapping"),
    path("<int:job_id>/run/", views.import_run, name="run"),
    path("<int:job_id>/progress/", views.import_progress, name="progress"),
    path("<int:job_id>/errors.csv", views.import_errors, name="errors"),
]
