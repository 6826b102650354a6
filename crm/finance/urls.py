"""Staff web pages of finance."""

from django.urls import path

from . import views

app_name = "finance"

urlpatterns = [
    path("", views.receivables, name="receivables"),
    path("aging/export", views.receivables_export, name="aging-export"),
    path("invoices/", views.invoice_list, name="invoices"),
    path("invoices/<int:invoice_id>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<int:invoice_id>/payments/", views.payment_record, name="payment-record"),
    path("invoices/<int:invoice_id>/void/", views.invoice_void, name="invoice-void"),
    path("orders/<int:order_id>/invoice/", views.invoice_issue, name="invoice-issue"),
    path("payments/", views.payment_list, name="payments"),
    path("payments/<int:payment_id>/void/", views.payment_void, name="payment-void"),
    path("settings/", views.finance_settings, name="settings"),
]
