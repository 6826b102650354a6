from django.urls import include, path

from . import views

urlpatterns = [
    path("customers/", views.CustomerListApi.as_view(), name="api-customers"),
    path("customers/transfer", views.CustomerTransferApi.as_view(), name="api-customers-transfer"),
    path("customers/handover", views.CustomerHandoverApi.as_view(), name="api-customers-handover"),
    path("customers/pool/", views.PoolListApi.as_view(), name="api-customers-pool"),
    path("customers/pool/<int:customer_id>/claim", views.PoolClaimApi.as_view(), name="api-customers-claim"),
    path("customers/<int:customer_id>/", views.CustomerDetailApi.as_view(), name="api-customer"),
    path("customers/<int:customer_id>/owners", views.CustomerOwnersApi.as_view(), name="api-customer-owners"),
    path("customers/<int:customer_id>/release", views.CustomerReleaseApi.as_view(), name="api-customer-release"),
    path("contacts/", views.ContactListApi.as_view(), name="api-contacts"),
    path("contacts/<int:contact_id>/", views.ContactDetailApi.as_view(), name="api-contact"),
    path("search", views.SearchApi.as_view(), name="api-search"),
    path("", include("crm.customers.api.urls_imports")),
    path("", include("crm.customers.api.urls_dedup")),
]
