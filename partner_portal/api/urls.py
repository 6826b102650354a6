from django.urls import path

from . import views as v

app_name = "portal-api"

urlpatterns = [
    path("auth/token", v.PortalTokenApi.as_view(), name="auth-token"),
    path("me", v.PortalMeApi.as_view(), name="me"),
    path("catalog", v.PortalCatalogApi.as_view(), name="catalog"),
    path("orders", v.PortalOrderListApi.as_view(), name="orders"),
    path("orders/preview", v.PortalOrderPreviewApi.as_view(), name="order-preview"),
    path("orders/<int:order_id>", v.PortalOrderDetailApi.as_view(), name="order"),
    path("orders/<int:order_id>/submit", v.PortalOrderSubmitApi.as_view(), name="order-submit"),
    path("orders/<int:order_id>/recall", v.PortalOrderRecallApi.as_view(), name="order-recall"),
    path("orders/<int:order_id>/cancel", v.PortalOrderCancelApi.as_view(), name="order-cancel"),
    path("statements", v.PortalStatementApi.as_view(), name="statement"),
    path("statements/invoices", v.PortalInvoiceListApi.as_view(), name="invoices"),
    path("statements/payments", v.PortalPaymentListApi.as_view(), name="payments"),
    path("end-customers", v.PortalEndCustomerListApi.as_view(), name="end-customers"),
    path("end-customers/<int:end_customer_id>", v.PortalEndCustomerDetailApi.as_view(), name="end-customer"),
    path("deals", v.PortalDealListApi.as_view(), name="deals"),
    path("deals/<int:deal_id>", v.PortalDealDetailApi.as_view(), name="deal"),
    path("deals/<int:deal_id>/withdraw", v.PortalDealWithdrawApi.as_view(), name="deal-withdraw"),
    path("users", v.PortalUserListApi.as_view(), name="users"),
    path("users/settings", v.PortalPartnerSettingsApi.as_view(), name="users-settings"),
    path("users/<int:member_id>", v.PortalUserDetailApi.as_view(), name="user"),
    path("notifications", v.PortalNotificationListApi.as_view(), name="notifications"),
]
