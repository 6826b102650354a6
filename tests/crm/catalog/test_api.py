"""The catalog through the staff API: every endpoint, who may write, bad input, tenant
isolation, versions, pagination and query counts."""

import datetime

import pytest
from django.utils import timezone

from crm.audit.models import AuditEntry
from crm.catalog import services
from crm.catalog.models import PriceListItem, Product, StockLevel, StockMovement

from .factories import category_make, price_list_make, product_make, stocked_make, warehouse_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant_a, people, api_for):
    return lambda key: api_for(tenant_a, people[key])


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    body = response.json()
    return [row["id"] for row in (body["results"] if isinstance(body, dict) else body)]


# -- access and isolation ------------------------------------------------------------------------------
def test_anonymous_is_refused(tenant_a, api_for):
    assert api_for(tenant_a).get("/api/v1/products/").status_code in (401, 403)


def test_tenant_b_cannot_see_tenant_a_records(tenant_a, tenant_b, inside, api_for, user_in):
    with inside():
        product, warehouse = stocked_make(on_hand="3", product=product_make(name="阿尔法专有产品"))
        price_list = price_list_make(items=[(product, "9.00")])
    other = api_for(tenant_b, user_in(tenant_b, "admin"))
    for path in (f"/api/v1/products/{product.pk}/", f"/api/v1/warehouses/{warehouse.pk}/",
                 f"/api/v1/price-lists/{price_list.pk}/", f"/api/v1/price-lists/{price_list.pk}/items/"):
        assert other.get(path).status_code == 404, path
    assert other.patch(f"/api/v1/products/{product.pk}/", {"name": "x"}, format="json").status_code == 404
    assert other.delete(f"/api/v1/products/{product.pk}/").status_code == 404
    assert product.pk not in ids(other.get("/api/v1/products/?active=all"))
    assert all(r["name"] != "阿尔法专有产品" for r in other.get("/api/v1/products/search?q=阿尔法").json()["results"])
    assert other.get(f"/api/v1/stock/?product={product.pk}").json()["results"] == []
    resolve = other.get(f"/api/v1/prices/resolve?product={product.pk}")
    assert resolve.status_code == 400 and "product" in resolve.json()
    receive = other.post("/api/v1/stock/receive", {"warehouse_id": warehouse.pk, "product_id": product.pk,
                                                   "quantity": "1"}, format="json")
    assert receive.status_code == 400  # neither id exists in tenant B
    with inside():
        assert StockLevel.objects.get(product=product).on_hand == 3


@pytest.mark.parametrize("key", ["sales", "finance", "exec", "warehouse"])
def test_staff_without_catalog_manage_cannot_write_products(tenant_a, api, inside, key):
    with inside():
        product = product_make()
        price_list = price_list_make()
        category = category_make()
    client = api(key)
    assert client.get(f"/api/v1/products/{product.pk}/").status_code == 200  # every staff member reads
    denied = client.post("/api/v1/products/", {"sku": "NO-1", "name": "x", "list_price": "1"}, format="json")
    assert denied.status_code == 403 and denied.json()["detail"]
    assert client.patch(f"/api/v1/products/{product.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/products/{product.pk}/").status_code == 403
    assert client.post("/api/v1/categories/", {"name": "x"}, format="json").status_code == 403
    assert client.patch(f"/api/v1/categories/{category.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.post("/api/v1/price-lists/", {"name": "x"}, format="json").status_code == 403
    assert client.post(f"/api/v1/price-lists/{price_list.pk}/items/", {"product_id": product.pk, "unit_price": "1"},
                       format="json").status_code == 403
    with inside():
        assert not Product.objects.filter(sku="NO-1").exists()
        assert Product.objects.get(pk=product.pk).is_active


def test_stock_writes_need_the_stock_permission(tenant_a, api, inside):
    with inside():
        product, warehouse = stocked_make(on_hand="1")
    for key in ("sales", "secretary", "finance"):
        client = api(key)
        assert client.get("/api/v1/stock/").status_code == 200
        assert client.post("/api/v1/stock/receive", {"warehouse_id": warehouse.pk, "product_id": product.pk,
                                                     "quantity": "1"}, format="json").status_code == 403
        assert client.post("/api/v1/stock/adjust", {"warehouse_id": warehouse.pk, "product_id": product.pk,
                                                    "counted": "0", "reason": "x"}, format="json").status_code == 403
        assert client.post("/api/v1/warehouses/", {"code": "X9", "name": "x"}, format="json").status_code == 403
        assert client.patch("/api/v1/stock/settings", {"allow_backorders": True}, format="json").status_code == 403
    with inside():
        assert StockLevel.objects.get(product=product).on_hand == 1


# -- products ----------------------------------------------------------------------------------------------
def test_product_create_read_edit_deactivate(tenant_a, api, inside, people):
    with inside():
        category = category_make(name="RTK 接收机")
    secretary = api("secretary")
    created = secretary.post("/api/v1/products/", {
        "sku": "hz-g970ii", "name": "合众思壮 G970II 高精度 GNSS 接收机", "spec": "1408 通道", "unit": "台",
        "category_id": category.pk, "tax_rate": "0.13", "list_price": "39800.00"}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["sku"] == "HZ-G970II" and body["category_name"] == "RTK 接收机" and body["list_price"] == "39800.00"
    assert body["currency"] == "CNY" and body["version"] == 1 and body["is_active"] is True
    pk = body["id"]

    sales = api("sales")
    assert sales.get(f"/api/v1/products/{pk}/").json()["name"] == "合众思壮 G970II 高精度 GNSS 接收机"
    edited = secretary.patch(f"/api/v1/products/{pk}/", {"list_price": "38800.00", "version": 1}, format="json")
    assert edited.status_code == 200 and edited.json()["version"] == 2
    stale = secretary.patch(f"/api/v1/products/{pk}/", {"list_price": "1.00"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    fresh = secretary.patch(f"/api/v1/products/{pk}/", {"name": "G970II 接收机"}, format="json", HTTP_IF_MATCH='W/"2"')
    assert fresh.status_code == 200 and fresh.json()["list_price"] == "38800.00"

    gone = secretary.delete(f"/api/v1/products/{pk}/")
    assert gone.status_code == 200 and gone.json()["is_active"] is False
    assert pk not in ids(sales.get("/api/v1/products/"))
    assert pk in ids(sales.get("/api/v1/products/?active=false"))
    back = secretary.post(f"/api/v1/products/{pk}/reactivate")
    assert back.status_code == 200 and back.json()["is_active"] is True
    with inside():
        actions = set(AuditEntry.objects.filter(content_type__model="product", object_id=str(pk))
                      .values_list("action", flat=True))
    assert actions == {"create", "update", "deactivate", "reactivate"}
    assert secretary.get("/api/v1/products/99999999/").status_code == 404
    assert secretary.patch("/api/v1/products/99999999/", {"name": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({"sku": "A-1", "name": "x", "list_price": "-1"}, "list_price"),
    ({"sku": "A-1", "name": "x", "list_price": "1.234"}, "list_price"),
    ({"sku": "A-1", "name": "x", "list_price": "1", "category_id": 99999999}, "category_id"),
    ({"sku": "A 1 中", "name": "x", "list_price": "1"}, "sku"),
    ({"sku": "A-1", "name": "", "list_price": "1"}, "name"),
    ({"sku": "A-1", "name": "x"}, "list_price"),
    ({"sku": "A-1", "name": "x", "list_price": "1", "tax_rate": "1.5"}, "tax_rate"),
    ({"sku": "A-1", "name": "x", "list_price": "1", "currency": "yuan"}, "currency"),
])
def test_product_bad_input_is_400_naming_the_field(tenant_a, api, inside, payload, field):
    response = api("secretary").post("/api/v1/products/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    with inside():
        assert not Product.objects.filter(sku="A-1").exists()


def test_duplicate_sku_is_409_with_the_existing_product(tenant_a, api, inside):
    with inside():
        existing = product_make(sku="DUP-1", name="先有的产品")
    response = api("admin").post("/api/v1/products/", {"sku": "dup-1", "name": "后来的", "list_price": "1"},
                                 format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "duplicate_sku" and "sku" in body and body["existing"]["id"] == existing.pk
    assert "先有的产品" in body["detail"]


def test_product_list_filters_sorts_and_pages(tenant_a, api, inside):
    with inside():
        root = category_make(name="仪器")
        child = category_make(name="全站仪", parent=root)
        elsewhere = category_make(name="配件")
        a = product_make(sku="LIST-C", name="索佳全站仪", list_price="300", category=child)
        b = product_make(sku="LIST-A", name="拓普康水准仪", list_price="100", category=root)
        c = product_make(sku="LIST-B", name="对中杆", list_price="200", category=elsewhere)
        d = product_make(sku="LIST-D", name="停售的全站仪", category=child)
        services.product_deactivate(actor=None, product_id=d.pk)
    sales = api("sales")
    assert ids(sales.get(f"/api/v1/products/?category={root.pk}")) == [b.pk, a.pk]  # subtree, by SKU
    assert ids(sales.get(f"/api/v1/products/?category={root.pk}&active=all")) == [b.pk, a.pk, d.pk]
    assert ids(sales.get(f"/api/v1/products/?category={root.pk}&sort=-list_price")) == [a.pk, b.pk]
    assert ids(sales.get("/api/v1/products/?q=全站仪")) == [a.pk]
    assert ids(sales.get("/api/v1/products/?q=list-")) == [b.pk, c.pk, a.pk]
    first = sales.get("/api/v1/products/?q=list&limit=2").json()
    assert [r["id"] for r in first["results"]] == [b.pk, c.pk] and first["next"]
    assert [r["id"] for r in sales.get(first["next"]).json()["results"]] == [a.pk]
    for bad, field in (("sort=price", "sort"), ("category=abc", "category"), ("active=maybe", "active"),
                       ("category=99999999", "category")):
        response = sales.get(f"/api/v1/products/?{bad}")
        assert response.status_code == 400 and field in response.json(), bad


def test_product_list_query_count_is_flat(tenant_a, api, inside, django_assert_max_num_queries):
    with inside():
        category = category_make()
        for _ in range(30):
            product_make(category=category)
    client = api("sales")
    client.get("/api/v1/products/")  # warm the per-process caches
    with django_assert_max_num_queries(10):
        assert len(ids(client.get("/api/v1/products/?limit=100"))) >= 30


def test_as_you_type_search(tenant_a, api, inside):
    with inside():
        g970 = product_make(sku="HZ-G970II", name="合众思壮 G970II 高精度 GNSS 接收机")
        product_make(sku="HZ-G990", name="合众思壮 G990 惯导 RTK 接收机")
    client = api("sales")
    exact = client.get("/api/v1/products/search?q=hz-g970ii").json()
    assert exact["query"] == "hz-g970ii" and exact["results"][0]["id"] == g970.pk
    assert len(client.get("/api/v1/products/search?q=hzsz").json()["results"]) == 2
    assert len(client.get("/api/v1/products/search?q=接收&limit=1").json()["results"]) == 1
    assert client.get("/api/v1/products/search?q=").json()["results"] == []
    assert client.get("/api/v1/products/search?q=" + "x" * 101).status_code == 400


# -- categories ----------------------------------------------------------------------------------------------
def test_categories(tenant_a, api):
    secretary = api("secretary")
    top = secretary.post("/api/v1/categories/", {"name": "测绘仪器"}, format="json")
    assert top.status_code == 201
    child = secretary.post("/api/v1/categories/", {"name": "水准仪", "parent_id": top.json()["id"]}, format="json")
    assert child.status_code == 201 and child.json()["depth"] == 1
    assert secretary.post("/api/v1/categories/", {"name": "水准仪", "parent_id": top.json()["id"]},
                          format="json").status_code == 400
    assert secretary.post("/api/v1/categories/", {"parent_id": top.json()["id"]}, format="json").status_code == 400
    moved = secretary.patch(f"/api/v1/categories/{child.json()['id']}/", {"parent_id": None, "name": "自动安平水准仪"},
                            format="json")
    assert moved.status_code == 200 and moved.json()["parent"] is None and moved.json()["depth"] == 0
    cycle = secretary.patch(f"/api/v1/categories/{top.json()['id']}/", {"parent_id": top.json()["id"]}, format="json")
    assert cycle.status_code == 400 and "parent_id" in cycle.json()
    names = [c["name"] for c in api("sales").get("/api/v1/categories/").json()]
    assert {"测绘仪器", "自动安平水准仪"} <= set(names)
    assert secretary.delete(f"/api/v1/categories/{top.json()['id']}/").json()["is_active"] is False
    assert "测绘仪器" not in [c["name"] for c in api("sales").get("/api/v1/categories/").json()]
    assert "测绘仪器" in [c["name"] for c in api("sales").get("/api/v1/categories/?include_inactive=true").json()]
    assert secretary.get("/api/v1/categories/99999999/").status_code == 404


# -- price lists and prices -------------------------------------------------------------------------------------------
def test_price_lists_and_items(tenant_a, api, inside):
    with inside():
        product = product_make(name="价格表产品", list_price="1000.00")
    secretary = api("secretary")
    created = secretary.post("/api/v1/price-lists/", {"name": "金牌渠道价", "kind": "partner_tier", "code": "Gold",
                                                      "valid_from": "2026-01-01", "valid_to": "2026-12-31"},
                             format="json")
    assert created.status_code == 201, created.json()
    pl = created.json()
    assert pl["code"] == "gold" and pl["item_count"] == 0
    items_url = f"/api/v1/price-lists/{pl['id']}/items/"
    item = secretary.post(items_url, {"product_id": product.pk, "unit_price": "850.00"}, format="json")
    assert item.status_code == 201 and item.json()["min_quantity"] == "1.000"
    assert secretary.post(items_url, {"product_id": product.pk, "unit_price": "800.00", "min_quantity": "10"},
                          format="json").status_code == 201
    for payload, field in (({"product_id": product.pk, "unit_price": "0"}, "unit_price"),
                           ({"product_id": product.pk, "unit_price": "9.999", "min_quantity": "5"}, "unit_price"),
                           ({"product_id": product.pk, "unit_price": "-1", "min_quantity": "5"}, "unit_price"),
                           ({"product_id": 99999999, "unit_price": "1"}, "product_id"),
                           ({"product_id": product.pk, "unit_price": "700", "min_quantity": "10"}, "min_quantity"),
                           ({"product_id": product.pk, "unit_price": "700", "min_quantity": "0"}, "min_quantity")):
        response = secretary.post(items_url, payload, format="json")
        assert response.status_code == 400 and field in response.json(), (payload, response.json())
    listed = api("sales").get(items_url).json()["results"]
    assert [(r["min_quantity"], r["unit_price"]) for r in listed] == [("1.000", "850.00"), ("10.000", "800.00")]
    patched = secretary.patch(f"{items_url}{listed[1]['id']}/", {"unit_price": "790.00"}, format="json")
    assert patched.status_code == 200 and patched.json()["unit_price"] == "790.00"
    assert secretary.delete(f"{items_url}{listed[1]['id']}/").status_code == 204
    assert secretary.delete(f"{items_url}{listed[1]['id']}/").status_code == 404
    with inside():
        assert PriceListItem.objects.filter(price_list_id=pl["id"]).count() == 1

    bad_dates = secretary.patch(f"/api/v1/price-lists/{pl['id']}/", {"valid_to": "2025-12-31"}, format="json")
    assert bad_dates.status_code == 400 and "valid_to" in bad_dates.json()
    assert secretary.patch(f"/api/v1/price-lists/{pl['id']}/", {"name": "x", "version": 9},
                           format="json").status_code == 412
    listing = api("sales").get("/api/v1/price-lists/").json()["results"]
    assert any(r["id"] == pl["id"] and r["item_count"] == 1 for r in listing)
    off = secretary.delete(f"/api/v1/price-lists/{pl['id']}/")
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert pl["id"] not in ids(api("sales").get("/api/v1/price-lists/?active=true"))
    assert secretary.post("/api/v1/price-lists/", {"name": "x", "kind": "customer_level"},
                          format="json").status_code == 400


def test_price_list_item_list_query_count_is_flat(tenant_a, api, inside, django_assert_max_num_queries):
    with inside():
        price_list = price_list_make(items=[(product_make(), "10.00") for _ in range(25)])
    client = api("sales")
    client.get(f"/api/v1/price-lists/{price_list.pk}/items/")
    with django_assert_max_num_queries(10):
        assert len(ids(client.get(f"/api/v1/price-lists/{price_list.pk}/items/"))) == 25


def test_price_resolution(tenant_a, api, inside):
    today = timezone.localdate()
    with inside():
        product = product_make(list_price="1000.00")
        price_list_make(name="标准", items=[(product, "950"), (product, "900", "10")])
        vip = price_list_make(name="VIP", kind="customer_level", code="A", items=[(product, "880")])
        retired = product_make()
        services.product_deactivate(actor=None, product_id=retired.pk)
    client = api("sales")
    body = client.get(f"/api/v1/prices/resolve?product={product.pk}&quantity=12").json()
    assert body["unit_price"] == "900.00" and body["min_quantity"] == "10.000" and body["currency"] == "CNY"
    assert abs(datetime.date.fromisoformat(body["on"]) - today) <= datetime.timedelta(days=1)  # the local day
    vip_body = client.get(f"/api/v1/prices/resolve?product={product.pk}&quantity=12&customer_level=a").json()
    assert vip_body["unit_price"] == "880.00" and vip_body["price_list"] == vip.pk and "VIP" in vip_body["source"]
    past = client.get(f"/api/v1/prices/resolve?product={product.pk}&on=2000-01-01").json()
    assert past["unit_price"] == "950.00"  # lists without dates apply on any day
    for query, field in ((f"product={product.pk}&quantity=0", "quantity"), (f"product={product.pk}&quantity=-2", "quantity"),
                         ("product=99999999", "product"), (f"product={retired.pk}", "product"),
                         (f"product={product.pk}&on=yesterday", "on"), ("quantity=1", "product")):
        response = client.get(f"/api/v1/prices/resolve?{query}")
        assert response.status_code == 400 and field in response.json(), (query, response.json())


# -- warehouses and stock ----------------------------------------------------------------------------------------------
def test_warehouses(tenant_a, api):
    keeper = api("warehouse")
    created = keeper.post("/api/v1/warehouses/", {"code": "gz01", "name": "广州仓", "address": "天河区"}, format="json")
    assert created.status_code == 201 and created.json()["code"] == "GZ01"
    pk = created.json()["id"]
    assert keeper.post("/api/v1/warehouses/", {"code": "GZ01", "name": "重复"}, format="json").status_code == 400
    assert keeper.post("/api/v1/warehouses/", {"code": "GZ02", "name": "x", "region_id": 99999999},
                       format="json").status_code == 400
    assert keeper.patch(f"/api/v1/warehouses/{pk}/", {"name": "广州分仓", "version": 1}, format="json").json()["version"] == 2
    assert keeper.patch(f"/api/v1/warehouses/{pk}/", {"name": "y"}, format="json", HTTP_IF_MATCH="1").status_code == 412
    assert pk in ids(api("sales").get("/api/v1/warehouses/"))
    assert api("sales").get(f"/api/v1/warehouses/{pk}/").json()["name"] == "广州分仓"
    assert keeper.delete(f"/api/v1/warehouses/{pk}/").json()["is_active"] is False
    assert keeper.get("/api/v1/warehouses/99999999/").status_code == 404


def test_stock_receive_adjust_list_and_movements(tenant_a, api, inside):
    with inside():
        product, warehouse = stocked_make(on_hand="0", product=product_make(name="入库测试产品"))
    keeper = api("warehouse")
    received = keeper.post("/api/v1/stock/receive", {"warehouse_id": warehouse.pk, "product_id": product.pk,
                                                     "quantity": "20", "note": "到货", "reference_type": "purchase",
                                                     "reference_id": "PO-7"}, format="json")
    assert received.status_code == 201, received.json()
    assert received.json()["kind"] == "receipt" and received.json()["on_hand_after"] == "20.000"
    adjusted = keeper.post("/api/v1/stock/adjust", {"warehouse_id": warehouse.pk, "product_id": product.pk,
                                                    "counted": "18", "reason": "盘亏 2"}, format="json")
    assert adjusted.status_code == 201 and adjusted.json()["on_hand_delta"] == "-2.000"
    level = api("sales").get(f"/api/v1/stock/?product={product.pk}").json()["results"][0]
    assert (level["on_hand"], level["reserved"], level["available"], level["warehouse_code"]) == (
        "18.000", "0.000", "18.000", warehouse.code)
    assert api("sales").get(f"/api/v1/stock/?product={product.pk}&low=true").json()["results"] == []
    movements = api("sales").get(f"/api/v1/stock-movements/?product={product.pk}").json()["results"]
    assert [m["kind"] for m in movements] == ["adjustment", "receipt"] and movements[1]["reference_id"] == "PO-7"
    assert api("sales").get(f"/api/v1/stock-movements/?kind=receipt&product={product.pk}").json()["results"][0][
        "actor_name"] == "赵强"
    assert api("sales").get("/api/v1/stock-movements/?kind=theft").status_code == 400
    assert api("sales").get("/api/v1/stock/?warehouse=abc").status_code == 400
    correct = keeper.post(f"/api/v1/stock-movements/{movements[0]['id']}/correct", {"reason": "数错了"}, format="json")
    assert correct.status_code == 201 and correct.json()["kind"] == "correction"
    assert keeper.post(f"/api/v1/stock-movements/{movements[0]['id']}/correct", {"reason": "again"},
                       format="json").status_code == 400
    assert keeper.post("/api/v1/stock-movements/99999999/correct", {"reason": "x"}, format="json").status_code == 404


@pytest.mark.parametrize("payload, field", [
    ({"quantity": "0"}, "quantity"),
    ({"quantity": "-3"}, "quantity"),
    ({"quantity": "1.0005"}, "quantity"),
    ({"product_id": 99999999}, "product_id"),
    ({"warehouse_id": 99999999}, "warehouse_id"),
    ({"product_id": "retired"}, "product_id"),
])
def test_stock_receive_bad_input(tenant_a, api, inside, payload, field):
    with inside():
        product, warehouse = stocked_make(on_hand="0")
        retired = product_make()
        services.product_deactivate(actor=None, product_id=retired.pk)
    body = {"warehouse_id": warehouse.pk, "product_id": product.pk, "quantity": "5", **payload}
    if body["product_id"] == "retired":
        body["product_id"] = retired.pk
    response = api("warehouse").post("/api/v1/stock/receive", body, format="json")
    assert response.status_code == 400 and field in response.json(), response.json()
    with inside():
        assert not StockMovement.objects.filter(product__in=[product, retired]).exists()


def test_stock_settings(tenant_a, api, inside):
    with inside():
        warehouse = warehouse_make()
    keeper = api("warehouse")
    assert api("sales").get("/api/v1/stock/settings").json()["allow_backorders"] is False
    changed = keeper.patch("/api/v1/stock/settings", {"allow_backorders": True, "default_warehouse_id": warehouse.pk},
                           format="json")
    assert changed.status_code == 200
    assert (changed.json()["allow_backorders"], changed.json()["default_warehouse"]) == (True, warehouse.pk)
    assert keeper.patch("/api/v1/stock/settings", {"default_warehouse_id": 99999999}, format="json").status_code == 400


def test_stock_and_movement_lists_query_count_is_flat(tenant_a, api, inside, django_assert_max_num_queries):
    with inside():
        warehouse = warehouse_make()
        for _ in range(20):
            stocked_make(on_hand="5", warehouse=warehouse)
    client = api("sales")
    client.get("/api/v1/stock/")
    with django_assert_max_num_queries(10):
        assert len(ids(client.get(f"/api/v1/stock/?warehouse={warehouse.pk}"))) == 20
    with django_assert_max_num_queries(10):
        assert len(ids(client.get(f"/api/v1/stock-movements/?warehouse={warehouse.pk}"))) == 20
