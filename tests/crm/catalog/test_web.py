"""The catalog's web pages: products (list, search, detail, forms), categories, price lists,
warehouses and stock; write controls only for those allowed, and the forms work."""

import pytest

from crm.catalog import services
from crm.catalog.models import Category, PriceList, Product, StockLevel, Warehouse

from .factories import category_make, price_list_make, product_make, stocked_make, warehouse_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_(tenant_a, people, web_as):
    return lambda key: web_as(tenant_a, people[key])


def page_of(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.mark.parametrize("path", ["/catalog/", "/catalog/products/new/", "/catalog/categories/",
                                  "/catalog/price-lists/", "/catalog/warehouses/", "/catalog/stock/",
                                  "/catalog/products/suggest/?q=x"])
def test_every_page_needs_sign_in(web, path):
    response = web.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_navigation_has_the_products_entry(as_):
    assert 'href="/catalog/"' in page_of(as_("sales").get("/catalog/"))


# -- products ----------------------------------------------------------------------------------------------
def test_product_list_search_filters_and_empty_state(as_, inside):
    web = as_("sales")
    empty = page_of(web.get("/catalog/"))
    assert 'data-testid="products-empty"' in empty and 'data-testid="product-new"' not in empty
    with inside():
        gnss = category_make(name="GNSS 接收机")
        product_make(sku="HZ-G970II", name="合众思壮 G970II 高精度 GNSS 接收机", category=gnss)
        product_make(sku="LC-D810", name="徕卡 DISTO D810 激光测距仪")
        old = product_make(sku="OLD-1", name="停产的老接收机")
        services.product_deactivate(actor=None, product_id=old.pk)
    page = page_of(web.get("/catalog/"))
    assert "HZ-G970II" in page and "LC-D810" in page and "OLD-1" not in page
    searched = page_of(web.get("/catalog/?q=hzsz"))
    assert "HZ-G970II" in searched and "LC-D810" not in searched
    assert "LC-D810" not in page_of(web.get(f"/catalog/?category={gnss.pk}"))
    assert "OLD-1" in page_of(web.get("/catalog/?active=false"))
    nothing = page_of(web.get("/catalog/?q=不存在"))
    assert 'data-testid="products-empty"' in nothing and "没有符合条件的产品" in nothing
    assert "分类不存在" in page_of(web.get("/catalog/?category=99999999"))
    # htmx asks for the rows only
    partial = page_of(web.get("/catalog/?q=d810", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="product-results"))
    assert "LC-D810" in partial and "<html" not in partial
    assert 'data-testid="product-new"' in page_of(as_("secretary").get("/catalog/"))


def test_product_list_pages_by_sku(as_, inside, monkeypatch):
    from crm.catalog import views

    with inside():
        for sku in ("PG-3", "PG-1", "PG-2"):
            product_make(sku=sku)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    web = as_("sales")
    first = web.get("/catalog/?q=pg-")
    assert [p.sku for p in first.context["products"]] == ["PG-1", "PG-2"] and first.context["next_url"]
    second = web.get("/catalog/" + first.context["next_url"])
    assert [p.sku for p in second.context["products"]] == ["PG-3"] and second.context["next_url"] is None


def test_product_detail_shows_prices_stock_movements_and_trail(as_, inside, people):
    with inside():
        product, beijing = stocked_make(on_hand="12", product=product_make(name="详情页接收机", list_price="39800"),
                                        warehouse=warehouse_make(name="北京总仓"))
        stocked_make(on_hand="5", product=product, warehouse=warehouse_make(name="上海分仓"))
        price_list_make(name="VIP 客户价", kind="customer_level", code="A", items=[(product, "36600.00")])
        services.stock_reserve(actor=people["sales"], reference_type="order", reference_id=5,
                               lines=[(product.pk, beijing.pk, 2)])
        services.product_update(actor=people["secretary"], product_id=product.pk, data={"spec": "北斗三号"})
    page = page_of(as_("sales").get(f"/catalog/products/{product.pk}/"))
    assert "详情页接收机" in page and "39800.00" in page and "北斗三号" in page
    assert "VIP 客户价" in page and "36600.00" in page
    assert "北京总仓" in page and "上海分仓" in page and "<th>17</th>" in page and "<th>15</th>" in page
    assert 'data-testid="movement-table"' in page and "order 5" in page
    assert 'data-testid="audit-trail"' in page and "陈静" in page
    assert 'data-testid="product-edit"' not in page
    assert 'data-testid="product-edit"' in page_of(as_("secretary").get(f"/catalog/products/{product.pk}/"))
    assert as_("sales").get("/catalog/products/99999999/").status_code == 404


def test_product_create_and_edit_forms(as_, inside):
    with inside():
        category = category_make(name="手持 GPS")
    web = as_("secretary")
    assert page_of(web.get("/catalog/products/new/"))
    bad = page_of(web.post("/catalog/products/new/", {"sku": "UG-G138", "name": "集思宝 G138", "unit": "台",
                                                     "list_price": "2680.005", "tax_rate": "0.13", "currency": "CNY"}))
    assert "最多保留 2 位小数" in bad
    response = web.post("/catalog/products/new/", {
        "sku": "ug-g138", "name": "集思宝 G138BD 北斗手持 GPS", "unit": "台", "category": str(category.pk),
        "list_price": "2680", "tax_rate": "0.13", "currency": "CNY"})
    assert response.status_code == 302
    with inside():
        product = Product.objects.get(sku="UG-G138")
    assert response["Location"] == f"/catalog/products/{product.pk}/" and product.category == category
    duplicate = page_of(web.post("/catalog/products/new/", {"sku": "UG-G138", "name": "重复", "unit": "台",
                                                           "list_price": "1", "tax_rate": "0.13", "currency": "CNY"}))
    assert "已被产品" in duplicate

    edit_url = f"/catalog/products/{product.pk}/edit/"
    form = page_of(web.get(edit_url))
    assert 'value="UG-G138"' in form and 'name="version"' in form
    data = {"sku": "UG-G138", "name": "集思宝 G138BD 手持机", "unit": "台", "category": str(category.pk),
            "list_price": "2580", "tax_rate": "0.13", "currency": "CNY", "version": "1"}
    assert web.post(edit_url, data).status_code == 302
    stale = page_of(web.post(edit_url, {**data, "name": "旧页面的修改"}))
    assert "已被他人修改" in stale
    with inside():
        assert Product.objects.get(pk=product.pk).name == "集思宝 G138BD 手持机"
    assert as_("sales").get(edit_url).status_code == 403
    assert as_("sales").get("/catalog/products/new/").status_code == 403


def test_deactivate_and_reactivate_from_the_detail_page(as_, inside):
    with inside():
        product = product_make()
    assert as_("sales").post(f"/catalog/products/{product.pk}/deactivate/").status_code == 403
    web = as_("secretary")
    assert web.post(f"/catalog/products/{product.pk}/deactivate/").status_code == 302
    with inside():
        assert not Product.objects.get(pk=product.pk).is_active
    assert 'data-testid="product-reactivate"' in page_of(web.get(f"/catalog/products/{product.pk}/"))
    web.post(f"/catalog/products/{product.pk}/reactivate/")
    with inside():
        assert Product.objects.get(pk=product.pk).is_active


def test_product_suggestions(as_, inside):
    with inside():
        product_make(sku="SUG-G970", name="建议用接收机")
    page = page_of(as_("sales").get("/catalog/products/suggest/?receive-product=sug"))
    assert '<option value="SUG-G970">建议用接收机' in page


# -- categories ----------------------------------------------------------------------------------------------
def test_categories_page(as_, inside):
    web = as_("secretary")
    assert 'data-testid="categories-empty"' in page_of(web.get("/catalog/categories/"))
    assert web.post("/catalog/categories/", {"name": "测绘仪器"}).status_code == 302
    with inside():
        parent = Category.objects.get(name="测绘仪器")
    assert web.post("/catalog/categories/", {"name": "全站仪", "parent": str(parent.pk)}).status_code == 302
    assert "同一上级下已有" in page_of(web.post("/catalog/categories/", {"name": "全站仪", "parent": str(parent.pk)}))
    with inside():
        child = Category.objects.get(name="全站仪")
    web.post(f"/catalog/categories/{child.pk}/", {"op": "rename", "name": "免棱镜全站仪"})
    web.post(f"/catalog/categories/{child.pk}/", {"op": "move", "parent": ""})
    web.post(f"/catalog/categories/{parent.pk}/", {"op": "deactivate"})
    with inside():
        child.refresh_from_db()
        assert child.name == "免棱镜全站仪" and child.parent_id is None
        assert not Category.objects.get(pk=parent.pk).is_active
    sales_page = page_of(as_("sales").get("/catalog/categories/"))
    assert "免棱镜全站仪" in sales_page and 'data-testid="category-form"' not in sales_page
    assert as_("sales").post("/catalog/categories/", {"name": "x"}).status_code == 403
    assert as_("sales").post(f"/catalog/categories/{child.pk}/", {"op": "deactivate"}).status_code == 403


# -- price lists -----------------------------------------------------------------------------------------------
def test_price_list_pages(as_, inside):
    with inside():
        product_make(sku="PL-G970", name="价格页接收机", list_price="100.00")
    web = as_("secretary")
    assert 'data-testid="price-lists-empty"' in page_of(web.get("/catalog/price-lists/"))
    bad = page_of(web.post("/catalog/price-lists/new/", {"name": "坏日期", "kind": "standard", "currency": "CNY",
                                                         "valid_from": "2026-05-01", "valid_to": "2026-04-01"}))
    assert "失效日期不能早于生效日期" in bad
    response = web.post("/catalog/price-lists/new/", {"name": "VIP 价", "kind": "customer_level", "code": "a",
                                                      "currency": "CNY"})
    assert response.status_code == 302
    with inside():
        price_list = PriceList.objects.get(name="VIP 价")
    assert price_list.code == "A"
    detail_url = f"/catalog/price-lists/{price_list.pk}/"
    assert 'data-testid="items-empty"' in page_of(web.get(detail_url))
    assert "没有 SKU" in page_of(web.post(detail_url, {"product": "NOPE", "unit_price": "90", "min_quantity": "1"}))
    assert "最多保留 2 位小数" in page_of(web.post(detail_url, {"product": "pl-g970", "unit_price": "9.999",
                                                               "min_quantity": "1"}))
    assert web.post(detail_url, {"product": "pl-g970", "unit_price": "90", "min_quantity": "1"}).status_code == 302
    page = page_of(web.get(detail_url))
    assert "价格页接收机" in page and "90.00" in page and 'data-testid="audit-trail"' in page
    with inside():
        item = price_list.items.get()
    assert web.post(f"/catalog/price-lists/{price_list.pk}/items/{item.pk}/remove/").status_code == 302
    with inside():
        assert not price_list.items.exists()
    edit = web.post(f"/catalog/price-lists/{price_list.pk}/edit/", {"name": "VIP 客户价", "kind": "customer_level",
                                                                    "code": "A", "currency": "CNY", "version": "1"})
    assert edit.status_code == 302
    assert "VIP 客户价" in page_of(as_("sales").get("/catalog/price-lists/"))
    sales_detail = page_of(as_("sales").get(detail_url))
    assert 'data-testid="item-form"' not in sales_detail and 'data-testid="price-list-edit"' not in sales_detail
    assert as_("sales").post(detail_url, {"product": "PL-G970", "unit_price": "1", "min_quantity": "1"}).status_code == 403
    assert as_("sales").get("/catalog/price-lists/new/").status_code == 403
    web.post(f"/catalog/price-lists/{price_list.pk}/deactivate/")
    with inside():
        assert not PriceList.objects.get(pk=price_list.pk).is_active


# -- warehouses and stock ----------------------------------------------------------------------------------------------
def test_warehouse_pages(as_, inside):
    web = as_("warehouse")
    assert 'data-testid="warehouses-empty"' in page_of(web.get("/catalog/warehouses/"))
    assert web.post("/catalog/warehouses/", {"code": "bj01", "name": "北京总仓", "address": "海淀区"}).status_code == 302
    assert "已存在" in page_of(web.post("/catalog/warehouses/", {"code": "BJ01", "name": "重复"}))
    with inside():
        warehouse = Warehouse.objects.get(code="BJ01")
    assert web.post(f"/catalog/warehouses/{warehouse.pk}/edit/", {"code": "BJ01", "name": "北京中心仓",
                                                                  "version": "1"}).status_code == 302
    web.post(f"/catalog/warehouses/{warehouse.pk}/", {"op": "default"})
    page = page_of(web.get("/catalog/warehouses/"))
    assert "北京中心仓" in page and "默认" in page
    assert "默认仓库" in page_of(web.post(f"/catalog/warehouses/{warehouse.pk}/", {"op": "deactivate"}, follow=True))
    sales_page = page_of(as_("sales").get("/catalog/warehouses/"))
    assert "北京中心仓" in sales_page and 'data-testid="warehouse-form"' not in sales_page
    assert as_("secretary").post("/catalog/warehouses/", {"code": "X1", "name": "x"}).status_code == 403
    assert as_("secretary").get(f"/catalog/warehouses/{warehouse.pk}/edit/").status_code == 403


def test_stock_page_receive_and_adjust(as_, inside):
    with inside():
        product, warehouse = stocked_make(on_hand="0", product=product_make(sku="ST-1", name="库存页产品"))
    web = as_("warehouse")
    page = page_of(web.get("/catalog/stock/"))
    assert 'data-testid="receive-form"' in page and 'data-testid="adjust-form"' in page
    assert 'list="product-suggestions"' in page
    received = web.post("/catalog/stock/", {"op": "receive", "receive-warehouse": str(warehouse.pk),
                                            "receive-product": "st-1", "receive-quantity": "8", "receive-note": "到货"})
    assert received.status_code == 302
    assert "数量 必须大于 0" in page_of(web.post("/catalog/stock/", {
        "op": "receive", "receive-warehouse": str(warehouse.pk), "receive-product": "ST-1", "receive-quantity": "0"}))
    assert "没有 SKU" in page_of(web.post("/catalog/stock/", {
        "op": "receive", "receive-warehouse": str(warehouse.pk), "receive-product": "NOPE", "receive-quantity": "1"}))
    adjusted = web.post("/catalog/stock/", {"op": "adjust", "adjust-warehouse": str(warehouse.pk),
                                            "adjust-product": "ST-1", "adjust-counted": "7", "adjust-reason": "盘亏"})
    assert adjusted.status_code == 302
    with inside():
        assert StockLevel.objects.get(product=product, warehouse=warehouse).on_hand == 7
    sales = as_("sales")
    listing = page_of(sales.get(f"/catalog/stock/?warehouse={warehouse.pk}"))
    assert "库存页产品" in listing and "盘亏" in listing and 'data-testid="receive-form"' not in listing
    assert "库存页产品" in page_of(sales.get("/catalog/stock/?q=st-1"))
    assert 'data-testid="stock-empty"' in page_of(sales.get("/catalog/stock/?q=nothing-like-it"))
    low = page_of(sales.get(f"/catalog/stock/?warehouse={warehouse.pk}&low=1"))
    assert "库存页产品" not in low.split('data-testid="stock-movements"')[0]
    assert sales.post("/catalog/stock/", {"op": "receive", "receive-warehouse": str(warehouse.pk),
                                          "receive-product": "ST-1", "receive-quantity": "1"}).status_code == 403


def test_pages_speak_english(as_, people, inside):
    from crm.org.services import user_set_language

    with inside():
        user_set_language(user=people["sales"], language="en")
        product_make(name="英文页产品")
    page = page_of(as_("sales").get("/catalog/"))
    assert "Price lists" in page and "Warehouses" in page and "List price" in page
