from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.catalog.enums import PRODUCT_SORTS, MovementKind, PriceListKind
from crm.catalog.models import (
    CatalogSettings,
    Category,
    PriceList,
    PriceListItem,
    Product,
    StockLevel,
    StockMovement,
    Warehouse,
)


# Choice fields with their values inlined in the schema: price lists and stock movements both
# have a "kind" with different values, and named enum components would collide.
@extend_schema_field({"allOf": [{"type": "string", "enum": PriceListKind.values}],
                      "description": "standard, customer_level, partner_tier"})
class PriceListKindField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=PriceListKind.choices, **kwargs)


@extend_schema_field({"allOf": [{"type": "string", "enum": MovementKind.values}], "readOnly": True,
                      "description": "receipt, adjustment, reservation, release, shipment, correction"})
class MovementKindField(serializers.CharField):
    pass


# -- categories ------------------------------------------------------------------------------------
class CategorySerializer(serializers.ModelSerializer):
    depth = serializers.IntegerField(read_only=True)

    class Meta:
        model = Category
        fields = ["id", "name", "parent", "path", "depth", "is_active", "created_at", "updated_at"]
        read_only_fields = fields


class CategoryWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    parent_id = serializers.IntegerField(required=False, allow_null=True,
                                         help_text="the new parent (null: top level); moves the subtree")


# -- products ---------------------------------------------------------------------------------------
class ProductSerializer(serializers.ModelSerializer):
    category_name = serializers.CharField(source="category.name", read_only=True, default=None)

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "spec", "unit", "category", "category_name", "tax_rate", "list_price",
                  "currency", "is_active", "description", "created_at", "updated_at", "version"]
        read_only_fields = fields


class ProductWriteSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text="stored upper-case; unique in the company")
    name = serializers.CharField(max_length=200)
    spec = serializers.CharField(max_length=200, required=False, allow_blank=True)
    unit = serializers.CharField(max_length=16, required=False)
    category_id = serializers.IntegerField(required=False, allow_null=True)
    tax_rate = serializers.DecimalField(max_digits=5, decimal_places=4, required=False,
                                        help_text="e.g. 0.13 for 13% VAT")
    list_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField(max_length=3, required=False, help_text="ISO 4217, default CNY")
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    version = serializers.IntegerField(required=False, help_text="the version you edited; 412 if stale")


class ProductSearchSerializer(serializers.Serializer):
    query = serializers.CharField()
    results = ProductSerializer(many=True)


class ProductListQuerySerializer(serializers.Serializer):
    q = serializers.CharField(required=False, max_length=100)
    category = serializers.IntegerField(required=False, help_text="with its sub-categories")
    active = serializers.ChoiceField(choices=["true", "false", "all"], required=False, default="true")
    sort = serializers.ChoiceField(choices=list(PRODUCT_SORTS), required=False, default="sku")


# -- price lists -------------------------------------------------------------------------------------
class PriceListSerializer(serializers.ModelSerializer):
    kind = PriceListKindField(read_only=True)
    item_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = PriceList
        fields = ["id", "name", "kind", "code", "currency", "valid_from", "valid_to", "is_active", "item_count",
                  "created_at", "updated_at", "version"]
        read_only_fields = fields


class PriceListWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    kind = PriceListKindField(required=False)
    code = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                 help_text="customer level (A-D) or partner tier (e.g. gold); blank for standard")
    currency = serializers.CharField(max_length=3, required=False)
    valid_from = serializers.DateField(required=False, allow_null=True)
    valid_to = serializers.DateField(required=False, allow_null=True, help_text="inclusive")
    is_active = serializers.BooleanField(required=False)
    version = serializers.IntegerField(required=False)


class PriceListItemSerializer(serializers.ModelSerializer):
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = PriceListItem
        fields = ["id", "price_list", "product", "product_sku", "product_name", "unit_price", "min_quantity",
                  "updated_at"]
        read_only_fields = fields


class PriceListItemWriteSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    min_quantity = serializers.DecimalField(max_digits=14, decimal_places=3, required=False)


class PriceListItemUpdateSerializer(serializers.Serializer):
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    min_quantity = serializers.DecimalField(max_digits=14, decimal_places=3, required=False)


class ResolvedPriceSerializer(serializers.Serializer):
    product = serializers.IntegerField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2)
    currency = serializers.CharField()
    source = serializers.CharField(help_text="where the price comes from, in the reader's language")
    price_list = serializers.IntegerField(allow_null=True)
    price_list_item = serializers.IntegerField(allow_null=True)
    min_quantity = serializers.DecimalField(max_digits=14, decimal_places=3, allow_null=True)
    on = serializers.DateField()


# -- warehouses and stock -------------------------------------------------------------------------------
class WarehouseSerializer(serializers.ModelSerializer):
    region_name = serializers.CharField(source="region.name", read_only=True, default=None)

    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "address", "region", "region_name", "is_active", "created_at",
                  "updated_at", "version"]
        read_only_fields = fields


class WarehouseWriteSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    region_id = serializers.IntegerField(required=False, allow_null=True)
    version = serializers.IntegerField(required=False)


class StockLevelSerializer(serializers.ModelSerializer):
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    warehouse_name = serializers.CharField(source="warehouse.name", read_only=True)
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    available = serializers.DecimalField(max_digits=15, decimal_places=3, read_only=True)
    low = serializers.BooleanField(source="is_low", read_only=True)

    class Meta:
        model = StockLevel
        fields = ["id", "warehouse", "warehouse_code", "warehouse_name", "product", "product_sku", "product_name",
                  "on_hand", "reserved", "available", "reorder_level", "low", "updated_at"]
        read_only_fields = fields


class StockMovementSerializer(serializers.ModelSerializer):
    kind = MovementKindField(read_only=True)
    product_sku = serializers.CharField(source="product.sku", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    actor_name = serializers.CharField(source="actor.full_name", read_only=True, default=None)

    class Meta:
        model = StockMovement
        fields = ["id", "at", "kind", "warehouse", "warehouse_code", "product", "product_sku", "quantity",
                  "on_hand_delta", "reserved_delta", "on_hand_after", "reserved_after", "reference_type",
                  "reference_id", "external_id", "corrects", "actor", "actor_name", "note"]
        read_only_fields = fields


class StockReceiveSerializer(serializers.Serializer):
    warehouse_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    reference_type = serializers.CharField(max_length=32, required=False, allow_blank=True,
                                           help_text="e.g. purchase")
    reference_id = serializers.CharField(max_length=64, required=False, allow_blank=True)


class StockAdjustSerializer(serializers.Serializer):
    warehouse_id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    counted = serializers.DecimalField(max_digits=14, decimal_places=3, help_text="the physical count")
    reason = serializers.CharField(max_length=500)


class CatalogSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = CatalogSettings
        fields = ["allow_backorders", "default_warehouse", "updated_at"]
        read_only_fields = fields


class CatalogSettingsWriteSerializer(serializers.Serializer):
    allow_backorders = serializers.BooleanField(required=False)
    default_warehouse_id = serializers.IntegerField(required=False, allow_null=True)
