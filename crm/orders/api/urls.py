from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.OrderListApi.as_view(), name="api-orders"),
    path("orders/from-quote", views.OrderFromQuoteApi.as_view(), name="api-order-from-quote"),
    path("orders/<int:order_id>/", views.OrderDetailApi.as_view(), name="api-order"),
    path("orders/<int:order_id>/submit", views.OrderSubmitApi.as_view(), name="api-order-submit"),
    path("orders/<int:order_id>/cancel", views.OrderCancelApi.as_view(), name="api-order-cancel"),
    path("orders/<int:order_id>/recall", views.OrderRecallApi.as_view(), name="api-order-recall"),
    path("orders/<int:order_id>/reserve-stock", views.OrderStockReserveApi.as_view(), name="api-order-reserve-stock"),
    path("orders/<int:order_id>/shipments/", views.OrderShipmentListApi.as_view(), name="api-order-shipments"),
    path("orders/<int:order_id>/attachments/", views.OrderAttachmentListApi.as_view(), name="api-order-attachments"),
    path("orders/<int:order_id>/attachments/<int:attachment_id>", views.OrderAttachmentDetailApi.as_view(),
         name="api-order-attachment"),
    path("customers/<int:customer_id>/credit", views.CustomerCreditApi.as_view(), name="api-customer-credit"),
]
