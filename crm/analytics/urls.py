"""Staff web pages of the sales dashboard."""

from django.urls import path

from . import views

app_name = "analytics"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("figures/", views.figures, name="figures"),
    path("export/<slug:table>.csv", views.export, name="export"),
]
