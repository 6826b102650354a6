from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/sales", views.DashboardSalesApi.as_view(), name="api-dashboard-sales"),
    path("dashboard/pipeline", views.DashboardPipelineApi.as_view(), name="api-dashboard-pipeline"),
]
