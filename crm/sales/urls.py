"""Staff web pages of sales."""

from django.urls import path

from . import views

app_name = "sales"

urlpatterns = [
    path("opportunities/", views.opportunity_list, name="opportunities"),
    path("projects/", views.opportunity_list, {"projects": True}, name="projects"),
    path("pipeline/", views.pipeline_board, name="pipeline"),
    path("opportunities/new/", views.opportunity_create, name="opportunity-create"),
    path("opportunities/<int:opportunity_id>/", views.opportunity_detail, name="opportunity-detail"),
    path("opportunities/<int:opportunity_id>/edit/", views.opportunity_edit, name="opportunity-edit"),
    path("opportunities/<int:opportunity_id>/stage/", views.opportunity_stage, name="opportunity-stage"),
    path("opportunities/<int:opportunity_id>/won/", views.opportunity_won, name="opportunity-won"),
    path("opportunities/<int:opportunity_id>/lost/", views.opportunity_lost, name="opportunity-lost"),
    path("opportunities/<int:opportunity_id>/reopen/", views.opportunity_reopen, name="opportunity-reopen"),
    path("customers/pick/", views.customer_pick, name="customer-pick"),
    path("customers/options/", views.customer_options, name="customer-options"),
    path("products/suggest/", views.product_suggest, name="product-suggest"),
    path("quotes/", views.quote_list, name="quotes"),
    path("quotes/new/", views.quote_create, name="quote-create"),
    path("quotes/<int:quote_id>/", views.quote_detail, name="quote-detail"),
    path("quotes/<int:quote_id>/edit/", views.quote_edit, name="quote-edit"),
    path("quotes/<int:quote_id>/send/", views.quote_send, name="quote-send"),
    path("quotes/<int:quote_id>/recall/", views.quote_recall, name="quote-recall"),
    path("quotes/<int:quote_id>/reopen/", views.quote_reopen, name="quote-reopen"),
    path("quotes/<int:quote_id>/accept/", views.quote_accept, name="quote-accept"),
    path("quotes/<int:quote_id>/reject/", views.quote_reject, name="quote-reject"),
    path("quotes/<int:quote_id>/print/", views.quote_print, name="quote-print"),
    path("forecast/", views.forecast_page, name="forecast"),
]
