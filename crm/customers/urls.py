"""Staff web pages of customers and contacts."""

from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/release/", views.customer_release, name="release"),
    path("<int:customer_id>/contacts/new/", views.contact_create, name="contact-create"),
    path("transfer/", views.customers_bulk_transfer, name="transfer"),
    path("views/save/", views.saved_view_save, name="view-save"),
    path("views/delete/", views.saved_view_delete, name="view-delete"),
    path("contacts/", views.contact_list, name="contacts"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact-edit"),
    path("pool/", views.pool, name="pool"),
    path("pool/<int:customer_id>/claim/", views.pool_claim, name="claim"),
    path("handover/", views.handover, name="handover"),
    path("search/", views.search_view, name="search"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
