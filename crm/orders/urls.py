"""Staff web pages of orders."""

from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/", views.order_create, name="create"),
    path("from-quote/", views.order_from_quote, name="from-quote"),
    path("entry/preview/", views.entry_preview, name="entry-preview"),
    path("entry/customers/", views.customer_suggest, name="customer-suggest"),
    path("entry/products/", views.product_suggest, name="product-suggest"),
    path("<int:order_id>/", views.order_detail, name="detail"),
    path("<int:order_id>/edit/", views.order_edit, name="edit"),
    path("<int:order_id>/ship/", views.order_ship, name="ship"),
    path("<int:order_id>/attachments/", views.attachment_upload, name="attachment-upload"),
    path("<int:order_id>/attachments/<int:attachment_id>/", views.attachment_download, name="attachment"),
    path("<int:order_id>/<slug:action>/", views.order_action, name="action"),
]
