from django.urls import path

from . import views

urlpatterns = [
    path("invoices/", views.InvoiceListApi.as_view(), name="api-invoices"),
    path("invoices/<int:invoice_id>/", views.InvoiceDetailApi.as_view(), name="api-invoice"),
    path("invoices/<int:invoice_id>/void", views.InvoiceVoidApi.as_view(), name="api-invoice-void"),
    path("payments/", views.PaymentListApi.as_view(), name="api-payments"),
    path("payments/<int:payment_id>/", views.PaymentDetailApi.as_view(), name="api-payment"),
    path("payments/<int:payment_id>/void", views.PaymentVoidApi.as_view(), name="api-payment-void"),
    path("receivables/aging", views.AgingReportApi.as_view(), name="api-receivables-aging"),
]
