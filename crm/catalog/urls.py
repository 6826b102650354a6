"""Staff web pages of the catalog."""

from django.urls import path

from . import views

app_name = "catalog"

urlpatterns = [
    path("", views.product_list, name="products"),
    path("products/new/", views.product_create, name="product-create"),
    path("products/suggest/", views.product_suggest, name="product-suggest"),
    path("products/<int:product_id>/", views.product_detail, name="product-detail"),
    path("products/<int:product_id>/edit/", views.product_edit, name="product-edit"),
    path("products/<int:product_id>/deactivate/", views.product_set_active, {"active": False},
         name="product-deactivate"),
    path("products/<int:product_id>/reactivate/", views.product_set_active, {"active": True},
         name="product-reactivate"),
    path("categories/", views.category_list, name="categories"),
    path("categories/<int:category_id>/", views.category_change, name="category-change"),
    path("price-lists/", views.price_list_list, name="price-lists"),
    path("price-lists/new/", views.price_list_edit, name="price-list-create"),
    path("price-lists/<int:price_list_id>/", views.price_list_detail, name="price-list-detail"),
    path("price-lists/<int:price_list_id>/edit/", views.price_list_edit, name="price-list-edit"),
    path("price-lists/<int:price_list_id>/deactivate/", views.price_list_deactivate, name="price-list-deactivate"),
    path("price-lists/<int:price_list_id>/items/<int:item_id>/remove/", views.price_list_item_remove,
         name="price-list-item-remove"),
    path("warehouses/", views.warehouse_list, name="warehouses"),
    path("warehouses/<int:warehouse_id>/edit/", views.warehouse_edit, name="warehouse-edit"),
    path("warehouses/<int:warehouse_id>/", views.warehouse_change, name="warehouse-change"),
    path("stock/", views.stock, name="stock"),
]
