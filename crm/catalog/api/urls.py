from django.urls import path

from . import views

urlpatterns = [
    path("products/", views.ProductListApi.as_view(), name="api-products"),
    path("products/search", views.ProductSearchApi.as_view(), name="api-products-search"),
    path("products/<int:product_id>/", views.ProductDetailApi.as_view(), name="api-product"),
    path("products/<int:product_id>/reactivate", views.ProductReactivateApi.as_view(),
         name="api-product-reactivate"),
    path("categories/", views.CategoryListApi.as_view(), name="api-categories"),
    path("categories/<int:category_id>/", views.CategoryDetailApi.as_view(), name="api-category"),
    path("price-lists/", views.PriceListListApi.as_view(), name="api-price-lists"),
    path("price-lists/<int:price_list_id>/", views.PriceListDetailApi.as_view(), name="api-price-list"),
    path("price-lists/<int:price_list_id>/items/", views.PriceListItemListApi.as_view(),
         name="api-price-list-items"),
    path("price-lists/<int:price_list_id>/items/<int:item_id>/", views.PriceListItemDetailApi.as_view(),
         name="api-price-list-item"),
    path("prices/resolve", views.PriceResolveApi.as_view(), name="api-prices-resolve"),
    path("warehouses/", views.WarehouseListApi.as_view(), name="api-warehouses"),
    path("warehouses/<int:warehouse_id>/", views.WarehouseDetailApi.as_view(), name="api-warehouse"),
    path("stock/", views.StockListApi.as_view(), name="api-stock"),
    path("stock/receive", views.StockReceiveApi.as_view(), name="api-stock-receive"),
    path("stock/adjust", views.StockAdjustApi.as_view(), name="api-stock-adjust"),
    path("stock/settings", views.StockSettingsApi.as_view(), name="api-stock-settings"),
    path("stock-movements/", views.StockMovementListApi.as_view(), name="api-stock-movements"),
    path("stock-movements/<int:movement_id>/correct", views.StockMovementCorrectApi.as_view(),
         name="api-stock-movement-correct"),
]
