from django.urls import path

from . import views

urlpatterns = [
    path("webhook-endpoints/", views.WebhookEndpointListApi.as_view(), name="api-webhook-endpoints"),
    path("webhook-endpoints/<int:endpoint_id>/", views.WebhookEndpointDetailApi.as_view(),
         name="api-webhook-endpoint"),
    path("webhook-endpoints/<int:endpoint_id>/rotate-secret", views.WebhookEndpointRotateSecretApi.as_view(),
         name="api-webhook-endpoint-rotate-secret"),
    path("webhook-endpoints/<int:endpoint_id>/ping", views.WebhookEndpointPingApi.as_view(),
         name="api-webhook-endpoint-ping"),
    path("webhook-deliveries/", views.WebhookDeliveryListApi.as_view(), name="api-webhook-deliveries"),
    path("webhook-deliveries/<int:delivery_id>/", views.WebhookDeliveryDetailApi.as_view(),
         name="api-webhook-delivery"),
    path("webhook-deliveries/<int:delivery_id>/replay", views.WebhookDeliveryReplayApi.as_view(),
         name="api-webhook-delivery-replay"),
    path("erp-clients/", views.ErpClientListApi.as_view(), name="api-erp-clients"),
    path("erp-clients/<int:client_id>/", views.ErpClientDetailApi.as_view(), name="api-erp-client"),
    path("erp-clients/<int:client_id>/revoke", views.ErpClientRevokeApi.as_view(), name="api-erp-client-revoke"),
    path("inbound-messages/", views.InboundMessageListApi.as_view(), name="api-inbound-messages"),
    path("erp/me", views.ErpMeApi.as_view(), name="api-erp-me"),
    path("erp/stock-levels", views.ErpStockLevelsApi.as_view(), name="api-erp-stock-levels"),
    path("erp/shipments", views.ErpShipmentsApi.as_view(), name="api-erp-shipments"),
    path("erp/payments", views.ErpPaymentsApi.as_view(), name="api-erp-payments"),
]
