"""Staff API of the catalog: products (with as-you-type search), categories, price lists and
their items, price resolution, warehouses, stock and the stock ledger. Thin: every read
starts from a selector, every write is one service call; a record that does not exist is a
404, a write without the permission a 403."""

from __future__ import annotations

import datetime
from decimal import Decimal
from functools import wraps

from django.core.exceptions import ObjectDoesNotExist
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import CursorPagination, LimitOffsetPagination
from rest_framework.response import Response

from crm.catalog import selectors, services
from crm.catalog.enums import DEFAULT_PRODUCT_SORT, PRODUCT_SORTS, MovementKind
from crm.catalog.permissions import can_manage_catalog, can_manage_stock
from crm.org.api.base import StaffApiView
from crm.org.api.base import validated as _valid

from .serializers import (
    CatalogSettingsSerializer,
    CatalogSettingsWriteSerializer,
    CategorySerializer,
    CategoryWriteSerializer,
    PriceListItemSerializer,
    PriceListItemUpdateSerializer,
    PriceListItemWriteSerializer,
    PriceListSerializer,
    PriceListWriteSerializer,
    ProductSearchSerializer,
    ProductSerializer,
    ProductWriteSerializer,
    ResolvedPriceSerializer,
    StockAdjustSerializer,
    StockLevelSerializer,
    StockMovementSerializer,
    StockReceiveSerializer,
    WarehouseSerializer,
    WarehouseWriteSerializer,
)

TAG_PRODUCTS, TAG_PRICES, TAG_STOCK = ["catalog"], ["catalog prices"], ["catalog stock"]


def not_found_on_missing(func):
    """A record named in the URL that does not exist is a 404."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ObjectDoesNotExist:
            raise Http404 from None
    return wrapper


def _need_catalog_manager(request) -> None:
    if not can_manage_catalog(request.user):
        raise PermissionDenied(_("你没有管理产品目录的权限。"))


def _need_stock_manager(request) -> None:
    if not can_manage_stock(request.user):
        raise PermissionDenied(_("你没有管理仓库与库存的权限。"))



def _flag(request, name: str, default: str = "") -> str:
    return (request.query_params.get(name) or default).strip().lower()


class _Cursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("sku",)


def _duplicate_sku(exc: services.DuplicateSku) -> Response:
    existing = exc.existing
    return Response({
        "detail": exc.message_dict["sku"][0], "code": "duplicate_sku", "sku": exc.message_dict["sku"],
        "existing": {"id": existing.pk, "sku": existing.sku, "name": existing.name},
    }, status=status.HTTP_409_CONFLICT)


# -- products ---------------------------------------------------------------------------------------------
class ProductListApi(StaffApiView):
    @extend_schema(tags=TAG_PRODUCTS, responses={200: ProductSerializer(many=True)}, parameters=[
        OpenApiParameter("q", str, description="SKU prefix, name fragment (two Chinese characters too), pinyin"),
        OpenApiParameter("category", int, description="with its sub-categories"),
        OpenApiParameter("active", str, enum=["true", "false", "all"], description="default true"),
        OpenApiParameter("sort", str, enum=list(PRODUCT_SORTS), description="default sku"),
        OpenApiParameter("limit", int)])
    def get(self, request):
        flag = _flag(request, "active", "true")
        if flag not in ("true", "false", "all"):
            raise serializers.ValidationError({"active": _("active 只能是 true、false 或 all。")})
        active = {"true": True, "false": False, "all": None}[flag]
        sort = request.query_params.get("sort") or DEFAULT_PRODUCT_SORT
        qs = selectors.product_list(actor=request.user, q=request.query_params.get("q", ""),
                                    category_id=request.query_params.get("category"), active=active, sort=sort)
        paginator = _Cursor()
        paginator.ordering = PRODUCT_SORTS[sort]
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ProductSerializer(page, many=True).data)

    @extend_schema(tags=TAG_PRODUCTS, request=ProductWriteSerializer,
                   responses={201: ProductSerializer, 409: None})
    def post(self, request):
        _need_catalog_manager(request)
        values = _valid(ProductWriteSerializer, request.data)
        values.pop("version", None)
        try:
            product = services.product_create(actor=request.user, data=values)
        except services.DuplicateSku as exc:
            return _duplicate_sku(exc)
        return Response(ProductSerializer(selectors.product_get(actor=request.user, product_id=product.pk)).data,
                        status=status.HTTP_201_CREATED)


class ProductDetailApi(StaffApiView):
    @extend_schema(tags=TAG_PRODUCTS, responses={200: ProductSerializer})
    @not_found_on_missing
    def get(self, request, product_id: int):
        return Response(ProductSerializer(selectors.product_get(actor=request.user, product_id=product_id)).data)

    @extend_schema(tags=TAG_PRODUCTS, request=ProductWriteSerializer,
                   responses={200: ProductSerializer, 409: None, 412: None})
    @not_found_on_missing
    def patch(self, request, product_id: int):
        selectors.product_get(actor=request.user, product_id=product_id)
        _need_catalog_manager(request)
        values = _valid(ProductWriteSerializer, request.data, partial=True)
        version = self.edited_version(request, values.pop("version", None))
        try:
            services.product_update(actor=request.user, product_id=product_id, data=values, version=version)
        except services.DuplicateSku as exc:
            return _duplicate_sku(exc)
        return Response(ProductSerializer(selectors.product_get(actor=request.user, product_id=product_id)).data)

    @extend_schema(tags=TAG_PRODUCTS, request=None, responses={200: ProductSerializer},
                   description="Deactivates the product (it is never deleted: orders and stock name it).")
    @not_found_on_missing
    def delete(self, request, product_id: int):
        selectors.product_get(actor=request.user, product_id=product_id)
        _need_catalog_manager(request)
        services.product_deactivate(actor=request.user, product_id=product_id)
        return Response(ProductSerializer(selectors.product_get(actor=request.user, product_id=product_id)).data)


class ProductReactivateApi(StaffApiView):
    @extend_schema(tags=TAG_PRODUCTS, request=None, responses={200: ProductSerializer})
    @not_found_on_missing
    def post(self, request, product_id: int):
        selectors.product_get(actor=request.user, product_id=product_id)
        _need_catalog_manager(request)
        services.product_reactivate(actor=request.user, product_id=product_id)
        return Response(ProductSerializer(selectors.product_get(actor=request.user, product_id=product_id)).data)


class ProductSearchApi(StaffApiView):
    """As-you-type: active products by SKU prefix, name fragment or pinyin, best first."""

    @extend_schema(tags=TAG_PRODUCTS, responses={200: ProductSearchSerializer}, parameters=[
        OpenApiParameter("q", str, required=True), OpenApiParameter("limit", int, description="1-50, default 10"),
        OpenApiParameter("include_inactive", bool)])
    def get(self, request):
        q = request.query_params.get("q", "")
        if len(q) > 100:
            raise serializers.ValidationError({"q": _("搜索内容最长 100 个字符。")})
        raw_limit = request.query_params.get("limit", "10")
        limit = min(int(raw_limit), 50) if raw_limit.isdigit() and int(raw_limit) > 0 else 10
        results = selectors.product_search_as_you_type(
            actor=request.user, q=q, limit=limit, include_inactive=_flag(request, "include_inactive") == "true")
        return Response({"query": q, "results": ProductSerializer(results, many=True).data})


# -- categories ---------------------------------------------------------------------------------------------
class CategoryListApi(StaffApiView):
    @extend_schema(tags=TAG_PRODUCTS, responses={200: CategorySerializer(many=True)},
                   parameters=[OpenApiParameter("include_inactive", bool)])
    def get(self, request):
        qs = selectors.category_list_visible_to(actor=request.user,
                                                include_inactive=_flag(request, "include_inactive") == "true")
        return Response(CategorySerializer(qs[:2000], many=True).data)

    @extend_schema(tags=TAG_PRODUCTS, request=CategoryWriteSerializer, responses={201: CategorySerializer})
    def post(self, request):
        _need_catalog_manager(request)
        values = _valid(CategoryWriteSerializer, request.data)
        if not values.get("name"):
            raise serializers.ValidationError({"name": _("分类名称不能为空。")})
        category = services.category_create(actor=request.user, name=values["name"],
                                            parent_id=values.get("parent_id"))
        return Response(CategorySerializer(category).data, status=status.HTTP_201_CREATED)


class CategoryDetailApi(StaffApiView):
    @extend_schema(tags=TAG_PRODUCTS, responses={200: CategorySerializer})
    @not_found_on_missing
    def get(self, request, category_id: int):
        return Response(CategorySerializer(selectors.category_get(actor=request.user, category_id=category_id)).data)

    @extend_schema(tags=TAG_PRODUCTS, request=CategoryWriteSerializer, responses={200: CategorySerializer})
    @not_found_on_missing
    def patch(self, request, category_id: int):
        selectors.category_get(actor=request.user, category_id=category_id)
        _need_catalog_manager(request)
        values = _valid(CategoryWriteSerializer, request.data, partial=True)
        if "name" in values:
            services.category_update(actor=request.user, category_id=category_id, name=values["name"])
        if "parent_id" in values:
            services.category_move(actor=request.user, category_id=category_id, parent_id=values["parent_id"])
        return Response(CategorySerializer(selectors.category_get(actor=request.user, category_id=category_id)).data)

    @extend_schema(tags=TAG_PRODUCTS, request=None, responses={200: CategorySerializer},
                   description="Deactivates the category and its sub-categories.")
    @not_found_on_missing
    def delete(self, request, category_id: int):
        selectors.category_get(actor=request.user, category_id=category_id)
        _need_catalog_manager(request)
        return Response(CategorySerializer(services.category_deactivate(actor=request.user,
                                                                        category_id=category_id)).data)


# -- price lists ------------------------------------------------------------------------------------------------
class PriceListListApi(StaffApiView):
    @extend_schema(tags=TAG_PRICES, responses={200: PriceListSerializer(many=True)},
                   parameters=[OpenApiParameter("active", str, enum=["true", "false", "all"])])
    def get(self, request):
        qs = selectors.price_list_list(actor=request.user)
        active = _flag(request, "active", "all")
        if active in ("true", "false"):
            qs = qs.filter(is_active=active == "true")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(PriceListSerializer(page, many=True).data)

    @extend_schema(tags=TAG_PRICES, request=PriceListWriteSerializer, responses={201: PriceListSerializer})
    def post(self, request):
        _need_catalog_manager(request)
        values = _valid(PriceListWriteSerializer, request.data)
        values.pop("version", None)
        price_list = services.price_list_create(actor=request.user, data=values)
        return Response(PriceListSerializer(selectors.price_list_get(actor=request.user,
                                                                     price_list_id=price_list.pk)).data,
                        status=status.HTTP_201_CREATED)


class PriceListDetailApi(StaffApiView):
    @extend_schema(tags=TAG_PRICES, responses={200: PriceListSerializer})
    @not_found_on_missing
    def get(self, request, price_list_id: int):
        return Response(PriceListSerializer(selectors.price_list_get(actor=request.user,
                                                                     price_list_id=price_list_id)).data)

    @extend_schema(tags=TAG_PRICES, request=PriceListWriteSerializer, responses={200: PriceListSerializer, 412: None})
    @not_found_on_missing
    def patch(self, request, price_list_id: int):
        selectors.price_list_get(actor=request.user, price_list_id=price_list_id)
        _need_catalog_manager(request)
        values = _valid(PriceListWriteSerializer, request.data, partial=True)
        version = self.edited_version(request, values.pop("version", None))
        services.price_list_update(actor=request.user, price_list_id=price_list_id, data=values, version=version)
        return Response(PriceListSerializer(selectors.price_list_get(actor=request.user,
                                                                     price_list_id=price_list_id)).data)

    @extend_schema(tags=TAG_PRICES, request=None, responses={200: PriceListSerializer},
                   description="Deactivates the price list (it stops applying; it is never deleted).")
    @not_found_on_missing
    def delete(self, request, price_list_id: int):
        selectors.price_list_get(actor=request.user, price_list_id=price_list_id)
        _need_catalog_manager(request)
        services.price_list_deactivate(actor=request.user, price_list_id=price_list_id)
        return Response(PriceListSerializer(selectors.price_list_get(actor=request.user,
                                                                     price_list_id=price_list_id)).data)


class PriceListItemListApi(StaffApiView):
    @extend_schema(tags=TAG_PRICES, responses={200: PriceListItemSerializer(many=True)})
    @not_found_on_missing
    def get(self, request, price_list_id: int):
        price_list = selectors.price_list_get(actor=request.user, price_list_id=price_list_id)
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(selectors.price_list_items(price_list=price_list), request, view=self)
        return paginator.get_paginated_response(PriceListItemSerializer(page, many=True).data)

    @extend_schema(tags=TAG_PRICES, request=PriceListItemWriteSerializer, responses={201: PriceListItemSerializer})
    @not_found_on_missing
    def post(self, request, price_list_id: int):
        selectors.price_list_get(actor=request.user, price_list_id=price_list_id)
        _need_catalog_manager(request)
        values = _valid(PriceListItemWriteSerializer, request.data)
        item = services.price_list_item_add(actor=request.user, price_list_id=price_list_id, **values)
        return Response(PriceListItemSerializer(item).data, status=status.HTTP_201_CREATED)


class PriceListItemDetailApi(StaffApiView):
    @extend_schema(tags=TAG_PRICES, request=PriceListItemUpdateSerializer, responses={200: PriceListItemSerializer})
    @not_found_on_missing
    def patch(self, request, price_list_id: int, item_id: int):
        selectors.price_list_get(actor=request.user, price_list_id=price_list_id)
        _need_catalog_manager(request)
        values = _valid(PriceListItemUpdateSerializer, request.data, partial=True)
        item = services.price_list_item_update(actor=request.user, price_list_id=price_list_id, item_id=item_id,
                                               **values)
        return Response(PriceListItemSerializer(item).data)

    @extend_schema(tags=TAG_PRICES, request=None, responses={204: None})
    @not_found_on_missing
    def delete(self, request, price_list_id: int, item_id: int):
        selectors.price_list_get(actor=request.user, price_list_id=price_list_id)
        _need_catalog_manager(request)
        services.price_list_item_remove(actor=request.user, price_list_id=price_list_id, item_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PriceResolveQuerySerializer(serializers.Serializer):
    product = serializers.IntegerField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, required=False, default=Decimal(1))
    customer_level = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    partner_tier = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    on = serializers.DateField(required=False, allow_null=True, default=None)


class PriceResolveApi(StaffApiView):
    """The unit price for a product, quantity, customer level or partner tier, on a day:
    customer-level / partner-tier lists first, then standard lists, then the list price;
    within each, the highest volume break not above the quantity."""

    @extend_schema(tags=TAG_PRICES, responses={200: ResolvedPriceSerializer}, parameters=[
        OpenApiParameter("product", int, required=True), OpenApiParameter("quantity", str, description="default 1"),
        OpenApiParameter("customer_level", str), OpenApiParameter("partner_tier", str),
        OpenApiParameter("on", datetime.date, description="default today")])
    def get(self, request):
        values = _valid(PriceResolveQuerySerializer, request.query_params)
        if values["quantity"] <= 0:
            raise serializers.ValidationError({"quantity": _("数量必须大于 0。")})
        product = selectors.product_list_visible_to(actor=request.user).filter(pk=values["product"]).first()
        if product is None:
            raise serializers.ValidationError({"product": _("产品不存在。")})
        if not product.is_active:
            raise serializers.ValidationError({"product": _("产品“%(name)s”已停用。") % {"name": product.name}})
        day = values["on"] or timezone.localdate()
        resolved = selectors.price_for(product_id=product.pk, quantity=values["quantity"],
                                       customer_level=values["customer_level"].strip().upper(),
                                       partner_tier=values["partner_tier"].strip().lower(), on=day)
        return Response(ResolvedPriceSerializer({
            "product": product.pk, "quantity": values["quantity"], "unit_price": resolved.unit_price,
            "currency": resolved.currency, "source": resolved.source, "price_list": resolved.price_list_id,
            "price_list_item": resolved.item_id, "min_quantity": resolved.min_quantity, "on": day}).data)


# -- warehouses ---------------------------------------------------------------------------------------------------
class WarehouseListApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, responses={200: WarehouseSerializer(many=True)})
    def get(self, request):
        return Response(WarehouseSerializer(selectors.warehouse_list(actor=request.user)[:500], many=True).data)

    @extend_schema(tags=TAG_STOCK, request=WarehouseWriteSerializer, responses={201: WarehouseSerializer})
    def post(self, request):
        _need_stock_manager(request)
        values = _valid(WarehouseWriteSerializer, request.data)
        values.pop("version", None)
        warehouse = services.warehouse_create(actor=request.user, data=values)
        return Response(WarehouseSerializer(warehouse).data, status=status.HTTP_201_CREATED)


class WarehouseDetailApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, responses={200: WarehouseSerializer})
    @not_found_on_missing
    def get(self, request, warehouse_id: int):
        return Response(WarehouseSerializer(selectors.warehouse_get(actor=request.user,
                                                                    warehouse_id=warehouse_id)).data)

    @extend_schema(tags=TAG_STOCK, request=WarehouseWriteSerializer, responses={200: WarehouseSerializer, 412: None})
    @not_found_on_missing
    def patch(self, request, warehouse_id: int):
        selectors.warehouse_get(actor=request.user, warehouse_id=warehouse_id)
        _need_stock_manager(request)
        values = _valid(WarehouseWriteSerializer, request.data, partial=True)
        version = self.edited_version(request, values.pop("version", None))
        warehouse = services.warehouse_update(actor=request.user, warehouse_id=warehouse_id, data=values,
                                              version=version)
        return Response(WarehouseSerializer(warehouse).data)

    @extend_schema(tags=TAG_STOCK, request=None, responses={200: WarehouseSerializer},
                   description="Deactivates the warehouse (refused while it holds reservations or is the default).")
    @not_found_on_missing
    def delete(self, request, warehouse_id: int):
        selectors.warehouse_get(actor=request.user, warehouse_id=warehouse_id)
        _need_stock_manager(request)
        return Response(WarehouseSerializer(services.warehouse_deactivate(actor=request.user,
                                                                          warehouse_id=warehouse_id)).data)


# -- stock ----------------------------------------------------------------------------------------------------------
class StockListApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, responses={200: StockLevelSerializer(many=True)}, parameters=[
        OpenApiParameter("warehouse", int), OpenApiParameter("product", int),
        OpenApiParameter("low", bool, description="only levels at or below their reorder level")])
    def get(self, request):
        qs = selectors.stock_list(actor=request.user, warehouse_id=request.query_params.get("warehouse"),
                                  product_id=request.query_params.get("product"),
                                  low=_flag(request, "low") in ("true", "1"))
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(StockLevelSerializer(page, many=True).data)


class StockReceiveApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, request=StockReceiveSerializer, responses={201: StockMovementSerializer})
    def post(self, request):
        _need_stock_manager(request)
        values = _valid(StockReceiveSerializer, request.data)
        movement = services.stock_receive(actor=request.user, **values)
        return Response(StockMovementSerializer(movement).data, status=status.HTTP_201_CREATED)


class StockAdjustApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, request=StockAdjustSerializer, responses={201: StockMovementSerializer})
    def post(self, request):
        _need_stock_manager(request)
        values = _valid(StockAdjustSerializer, request.data)
        movement = services.stock_adjust(actor=request.user, **values)
        return Response(StockMovementSerializer(movement).data, status=status.HTTP_201_CREATED)


class StockSettingsApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, responses={200: CatalogSettingsSerializer})
    def get(self, request):
        return Response(CatalogSettingsSerializer(selectors.catalog_settings_get()).data)

    @extend_schema(tags=TAG_STOCK, request=CatalogSettingsWriteSerializer, responses={200: CatalogSettingsSerializer})
    def patch(self, request):
        _need_stock_manager(request)
        values = _valid(CatalogSettingsWriteSerializer, request.data, partial=True)
        return Response(CatalogSettingsSerializer(services.catalog_settings_update(actor=request.user,
                                                                                   **values)).data)


class MovementCursor(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "limit"
    ordering = ("-at", "-id")


class StockMovementListApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, responses={200: StockMovementSerializer(many=True)}, parameters=[
        OpenApiParameter("product", int), OpenApiParameter("warehouse", int),
        OpenApiParameter("kind", str, enum=MovementKind.values), OpenApiParameter("reference_type", str),
        OpenApiParameter("reference_id", str), OpenApiParameter("limit", int)])
    def get(self, request):
        params = request.query_params
        qs = selectors.movement_list(actor=request.user, product_id=params.get("product"),
                                     warehouse_id=params.get("warehouse"), kind=params.get("kind", ""),
                                     reference_type=params.get("reference_type", ""),
                                     reference_id=params.get("reference_id", ""))
        paginator = MovementCursor()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(StockMovementSerializer(page, many=True).data)


class StockCorrectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class StockMovementCorrectApi(StaffApiView):
    @extend_schema(tags=TAG_STOCK, request=StockCorrectSerializer, responses={201: StockMovementSerializer})
    @not_found_on_missing
    def post(self, request, movement_id: int):
        selectors.movement_list(actor=request.user).get(pk=movement_id)
        _need_stock_manager(request)
        values = _valid(StockCorrectSerializer, request.data)
        movement = services.stock_correct(actor=request.user, movement_id=movement_id, reason=values["reason"])
        return Response(StockMovementSerializer(movement).data, status=status.HTTP_201_CREATED)

