"""Catalog services: categories, products, price lists, warehouses, the demo loader. Each
rule is checked for what it refuses (and that nothing was written) and for its audit row."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.audit.models import AuditEntry
from crm.catalog import services
from crm.catalog.models import Category, PriceList, PriceListItem, Product, Warehouse
from crm.org.services import StaleVersion

from .factories import category_make, price_list_make, product_make, warehouse_make

pytestmark = pytest.mark.django_db


def audit_rows(instance, action=None):
    rows = AuditEntry.objects.filter(content_type__app_label="catalog", content_type__model=instance._meta.model_name,
                                     object_id=str(instance.pk))
    return rows.filter(action=action) if action else rows


# -- categories -------------------------------------------------------------------------------------
def test_category_tree_paths_move_and_deactivate(inside, people):
    admin = people["admin"]
    with inside():
        gnss = category_make(actor=admin, name="GNSS")
        rtk = category_make(actor=admin, name="RTK", parent=gnss)
        imu = category_make(actor=admin, name="惯导", parent=rtk)
        acc = category_make(actor=admin, name="配件")
        assert rtk.path.startswith(gnss.path) and imu.path.startswith(rtk.path) and imu.depth == 2
        with pytest.raises(ValidationError) as same_name:
            category_make(actor=admin, name="RTK", parent=gnss)
        assert "name" in same_name.value.message_dict
        with pytest.raises(ValidationError) as top_twice:  # also among top-level categories (NULL parent)
            category_make(actor=admin, name="配件")
        assert "name" in top_twice.value.message_dict

        services.category_move(actor=admin, category_id=rtk.pk, parent_id=acc.pk)
        rtk.refresh_from_db()
        imu.refresh_from_db()
        assert rtk.parent_id == acc.pk and rtk.path.startswith(acc.path) and imu.path.startswith(rtk.path)
        with pytest.raises(ValidationError) as cycle:
            services.category_move(actor=admin, category_id=acc.pk, parent_id=imu.pk)
        assert "parent_id" in cycle.value.message_dict
        assert audit_rows(rtk, "update").get().changes["parent"] == {"old": gnss.pk, "new": acc.pk}

        services.category_deactivate(actor=admin, category_id=acc.pk)
        assert not Category.objects.filter(pk__in=[acc.pk, rtk.pk, imu.pk], is_active=True).exists()
        assert Category.objects.get(pk=gnss.pk).is_active
        assert audit_rows(imu, "deactivate").exists()
        with pytest.raises(ValidationError):  # its parent is inactive
            services.category_reactivate(actor=admin, category_id=imu.pk)


def test_only_catalog_managers_write(inside, people):
    with inside():
        for key in ("sales", "warehouse", "finance", "exec"):
            with pytest.raises(PermissionDenied):
                services.category_create(actor=people[key], name="不该有")
            with pytest.raises(PermissionDenied):
                services.product_create(actor=people[key], data={"sku": "NOPE", "name": "x", "list_price": "1"})
        assert not Product.objects.filter(sku="NOPE").exists()
        product_make(actor=people["secretary"])  # business secretary: catalog.manage
        with pytest.raises(PermissionDenied):
            services.warehouse_create(actor=people["secretary"], data={"code": "X1", "name": "x"})
        warehouse_make(actor=people["warehouse"])  # warehouse keeper: catalog.manage_stock


# -- products -------------------------------------------------------------------------------------------
def test_product_create_normalises_and_audits(inside, people):
    with inside():
        category = category_make()
        product = services.product_create(actor=people["secretary"], data={
            "sku": " hz-g970ii ", "name": "合众思壮 G970II 高精度 GNSS 接收机", "spec": "1408 通道",
            "category_id": category.pk, "list_price": "39800", "tax_rate": "0.13"})
        assert product.sku == "HZ-G970II" and product.unit == "台" and product.currency == "CNY"
        assert product.list_price == Decimal("39800.00") and product.version == 1
        entry = audit_rows(product, "create").get()
        assert entry.actor == people["secretary"] and entry.changes["sku"]["new"] == "HZ-G970II"
        assert entry.changes["category"]["new"] == category.pk


@pytest.mark.parametrize("data, field", [
    ({"sku": "", "name": "x", "list_price": "1"}, "sku"),
    ({"sku": "有中文", "name": "x", "list_price": "1"}, "sku"),
    ({"sku": "OK-1", "name": " ", "list_price": "1"}, "name"),
    ({"sku": "OK-1", "name": "x"}, "list_price"),
    ({"sku": "OK-1", "name": "x", "list_price": "-1"}, "list_price"),
    ({"sku": "OK-1", "name": "x", "list_price": "1.005"}, "list_price"),
    ({"sku": "OK-1", "name": "x", "list_price": "abc"}, "list_price"),
    ({"sku": "OK-1", "name": "x", "list_price": "1", "tax_rate": "1.2"}, "tax_rate"),
    ({"sku": "OK-1", "name": "x", "list_price": "1", "tax_rate": "-0.1"}, "tax_rate"),
    ({"sku": "OK-1", "name": "x", "list_price": "1", "currency": "RMB1"}, "currency"),
    ({"sku": "OK-1", "name": "x", "list_price": "1", "category_id": 99999999}, "category_id"),
])
def test_product_bad_input_names_the_field_and_writes_nothing(inside, data, field):
    with inside():
        before = Product.objects.count()
        with pytest.raises(ValidationError) as error:
            services.product_create(actor=None, data=data)
        assert field in error.value.message_dict
        assert Product.objects.count() == before


def test_duplicate_sku_is_refused_whatever_the_case(inside):
    with inside():
        existing = product_make(sku="GM-65S")
        with pytest.raises(services.DuplicateSku) as error:
            product_make(sku="gm-65s")
        assert error.value.existing == existing and "sku" in error.value.message_dict
        other = product_make()
        with pytest.raises(services.DuplicateSku):
            services.product_update(actor=None, product_id=other.pk, data={"sku": "gm-65s"})


def test_product_update_with_versions_and_audit(inside, people):
    admin = people["admin"]
    with inside():
        product = product_make(name="旧名称", list_price="10.00")
        updated = services.product_update(actor=admin, product_id=product.pk,
                                          data={"name": "新名称", "list_price": "12.50"}, version=1)
        assert updated.version == 2 and updated.name == "新名称" and updated.list_price == Decimal("12.50")
        entry = audit_rows(product, "update").get()
        assert entry.changes == {"name": {"old": "旧名称", "new": "新名称"},
                                 "list_price": {"old": "10.00", "new": "12.50"}}
        with pytest.raises(StaleVersion) as stale:
            services.product_update(actor=admin, product_id=product.pk, data={"name": "覆盖"}, version=1)
        assert stale.value.current == 2
        assert Product.objects.get(pk=product.pk).name == "新名称"
        # nothing changed: no new version, no audit row
        same = services.product_update(actor=admin, product_id=product.pk, data={"name": "新名称"}, version=2)
        assert same.version == 2 and audit_rows(product, "update").count() == 1


def test_deactivate_and_reactivate_product(inside, people):
    with inside():
        product = product_make()
        services.product_deactivate(actor=people["secretary"], product_id=product.pk)
        services.product_deactivate(actor=people["secretary"], product_id=product.pk)  # once is enough
        product.refresh_from_db()
        assert not product.is_active and product.version == 2
        assert audit_rows(product, "deactivate").count() == 1
        services.product_reactivate(actor=people["secretary"], product_id=product.pk)
        assert Product.objects.get(pk=product.pk).is_active and audit_rows(product, "reactivate").exists()


# -- price lists -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data, field", [
    ({"name": ""}, "name"),
    ({"name": "x", "kind": "wholesale"}, "kind"),
    ({"name": "x", "kind": "standard", "code": "A"}, "code"),
    ({"name": "x", "kind": "customer_level", "code": ""}, "code"),
    ({"name": "x", "kind": "customer_level", "code": "Z"}, "code"),
    ({"name": "x", "kind": "partner_tier", "code": "金牌"}, "code"),
    ({"name": "x", "valid_from": datetime.date(2026, 5, 1), "valid_to": datetime.date(2026, 4, 30)}, "valid_to"),
])
def test_price_list_validation(inside, data, field):
    with inside():
        before = PriceList.objects.count()
        with pytest.raises(ValidationError) as error:
            services.price_list_create(actor=None, data=data)
        assert field in error.value.message_dict
        assert PriceList.objects.count() == before


def test_price_list_codes_are_normalised_and_versions_checked(inside, people):
    with inside():
        vip = services.price_list_create(actor=people["secretary"], data={
            "name": "VIP", "kind": "customer_level", "code": "a"})
        gold = services.price_list_create(actor=None, data={"name": "金牌", "kind": "partner_tier", "code": "Gold"})
        assert (vip.code, gold.code) == ("A", "gold")
        services.price_list_update(actor=None, price_list_id=vip.pk, data={"valid_to": datetime.date(2026, 12, 31)},
                                   version=1)
        with pytest.raises(StaleVersion):
            services.price_list_update(actor=None, price_list_id=vip.pk, data={"name": "y"}, version=1)
        with pytest.raises(ValidationError) as error:  # the stored start is after the new end
            services.price_list_update(actor=None, price_list_id=vip.pk, data={
                "valid_from": datetime.date(2027, 1, 1)})
        assert "valid_to" in error.value.message_dict


@pytest.mark.parametrize("price, minimum, field", [
    ("0", "1", "unit_price"),
    ("-5", "1", "unit_price"),
    ("9.999", "1", "unit_price"),
    ("10", "0", "min_quantity"),
    ("10", "1.0001", "min_quantity"),
])
def test_price_list_item_validation(inside, price, minimum, field):
    with inside():
        product = product_make()
        price_list = price_list_make()
        with pytest.raises(ValidationError) as error:
            services.price_list_item_add(actor=None, price_list_id=price_list.pk, product_id=product.pk,
                                         unit_price=price, min_quantity=minimum)
        assert field in error.value.message_dict
        assert not PriceListItem.objects.filter(price_list=price_list).exists()


def test_price_list_items_are_unique_audited_and_need_an_active_product(inside, people):
    with inside():
        product = product_make(name="唯一性产品")
        price_list = price_list_make(items=[(product, "90.00"), (product, "85.00", "10")])
        with pytest.raises(ValidationError) as duplicate:
            services.price_list_item_add(actor=None, price_list_id=price_list.pk, product_id=product.pk,
                                         unit_price="80", min_quantity="10.000")
        assert "min_quantity" in duplicate.value.message_dict and "唯一性产品" in str(duplicate.value)
        item = price_list.items.get(min_quantity=10)
        with pytest.raises(ValidationError):  # moving a break onto another one
            services.price_list_item_update(actor=None, price_list_id=price_list.pk, item_id=item.pk,
                                            min_quantity="1")
        services.price_list_item_update(actor=people["admin"], price_list_id=price_list.pk, item_id=item.pk,
                                        unit_price="84.50")
        entry = audit_rows(price_list, "update").filter(actor=people["admin"]).get()
        assert entry.changes == {f"{product.sku} ≥10": {"old": "85.00", "new": "84.50"}}
        services.price_list_item_remove(actor=None, price_list_id=price_list.pk, item_id=item.pk)
        assert price_list.items.count() == 1
        retired = product_make()
        services.product_deactivate(actor=None, product_id=retired.pk)
        with pytest.raises(ValidationError) as inactive:
            services.price_list_item_add(actor=None, price_list_id=price_list.pk, product_id=retired.pk,
                                         unit_price="1")
        assert "product_id" in inactive.value.message_dict
        with pytest.raises(ValidationError) as unknown:
            services.price_list_item_add(actor=None, price_list_id=price_list.pk, product_id=99999999,
                                         unit_price="1")
        assert "product_id" in unknown.value.message_dict


# -- warehouses ----------------------------------------------------------------------------------------------
def test_warehouses_codes_versions_and_deactivation_rules(inside, people):
    keeper = people["warehouse"]
    with inside():
        main = warehouse_make(actor=keeper, code="bj-main", name="北京总仓")
        assert main.code == "BJ-MAIN" and audit_rows(main, "create").get().actor == keeper
        with pytest.raises(ValidationError) as taken:
            warehouse_make(code="BJ-MAIN")
        assert "code" in taken.value.message_dict
        with pytest.raises(ValidationError) as region:
            warehouse_make(region_id=99999999)
        assert "region_id" in region.value.message_dict
        services.warehouse_update(actor=keeper, warehouse_id=main.pk, data={"address": "海淀区"}, version=1)
        with pytest.raises(StaleVersion):
            services.warehouse_update(actor=keeper, warehouse_id=main.pk, data={"address": "x"}, version=1)
        services.catalog_settings_update(actor=keeper, default_warehouse_id=main.pk)
        with pytest.raises(ValidationError):
            services.warehouse_deactivate(actor=keeper, warehouse_id=main.pk)
        other = warehouse_make()
        services.warehouse_deactivate(actor=keeper, warehouse_id=other.pk)
        assert not Warehouse.objects.get(pk=other.pk).is_active
        with pytest.raises(ValidationError):  # an inactive warehouse cannot become the default
            services.catalog_settings_update(actor=keeper, default_warehouse_id=other.pk)


# -- demo data ------------------------------------------------------------------------------------------------
def test_demo_catalog_loads_once(inside):
    from crm.catalog.models import StockLevel
    from crm.catalog.selectors import catalog_settings_get, price_for

    with inside():
        made = services.catalog_load_demo()
        assert made >= 20
        g970 = Product.objects.get(sku="HZ-G970II")
        assert g970.name == "合众思壮 G970II 高精度 GNSS 接收机" and g970.category.name == "高精度 RTK"
        assert set(PriceList.objects.values_list("kind", "code")) == {
            ("standard", ""), ("customer_level", "A"), ("partner_tier", "gold"), ("partner_tier", "silver")}
        assert set(Warehouse.objects.values_list("name", flat=True)) >= {"北京总仓", "上海分仓"}
        assert catalog_settings_get().default_warehouse.name == "北京总仓"
        assert StockLevel.objects.filter(product=g970, on_hand__gt=0).count() == 2
        assert price_for(product_id=g970.pk, quantity=1, partner_tier="gold").unit_price < g970.list_price
        assert services.catalog_load_demo() == 0
        assert Product.objects.count() == made
