from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.index, name="index"),
    path("endpoints/new", views.endpoint_create, name="endpoint-create"),
    path("endpoints/<int:endpoint_id>/", views.endpoint_detail, name="endpoint"),
    path("endpoints/<int:endpoint_id>/rotate-secret", views.endpoint_rotate, name="endpoint-rotate"),
    path("endpoints/<int:endpoint_id>/active", views.endpoint_active, name="endpoint-active"),
    path("endpoints/<int:endpoint_id>/ping", views.endpoint_ping, name="endpoint-ping"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<int:delivery_id>/", views.delivery_detail, name="delivery"),
    path("deliveries/<int:delivery_id>/attempts", views.delivery_attempts, name="delivery-attempts"),
    path("deliveries/<int:delivery_id>/replay", views.delivery_replay, name="delivery-replay"),
    path("erp-clients/new", views.client_create, name="client-create"),
    path("erp-clients/<int:client_id>/revoke", views.client_revoke, name="client-revoke"),
    path("inbound/", views.inbound, name="inbound"),
    path("help/", views.help_page, name="help"),
]
