"""A partner in a real browser: signs in on the portal's own login page, finds a product in
the catalog at their tier's price, adds it to the cart (the totals come from the server as the
quantity changes), submits the order, and sees it in approval at the channel manager's step."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.conftest import PASSWORD

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = pytest.mark.e2e


def _marks() -> dict:
    from crm.activities.models import Notification
    from crm.approvals.models import ApprovalPolicy, ApprovalRequest
    from crm.catalog.models import (
        CatalogSettings,
        PriceList,
        Product,
        StockLevel,
        StockMovement,
        Warehouse,
    )
    from crm.customers.models import Customer
    from crm.orders.models import IdempotencyRecord, Order
    from crm.org.models import User
    from crm.partners.models import Partner, PartnerTier

    models = {"notification": Notification, "approval": ApprovalRequest, "order": Order, "movement": StockMovement,
              "level": StockLevel, "product": Product, "warehouse": Warehouse, "customer": Customer,
              "idempotency": IdempotencyRecord, "price_list": PriceList, "user": User, "partner": Partner,
              "tier": PartnerTier}
    marks = {name: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
             for name, model in models.items()}
    return {"marks": marks, "policy": ApprovalPolicy.objects.filter(doc_type="partner_order").exists(),
            "settings": CatalogSettings.objects.filter(id=1).values("allow_backorders", "default_warehouse_id").first(),
            "manager": User.objects.filter(email="manager@alpha.example.com").values("last_login").get()}


def _restore(state) -> None:
    from crm.activities.models import Notification
    from crm.approvals.models import ApprovalPolicy, ApprovalRequest
    from crm.catalog.models import (
        CatalogSettings,
        PriceList,
        Product,
        StockLevel,
        StockMovement,
        Warehouse,
    )
    from crm.customers.models import Customer
    from crm.orders.models import IdempotencyRecord, Order
    from crm.org.models import User
    from crm.partners.models import Partner, PartnerMember, PartnerTier

    marks = state["marks"]
    Notification.objects.filter(pk__gt=marks["notification"]).delete()
    ApprovalRequest.objects.filter(pk__gt=marks["approval"]).delete()
    Order.objects.filter(pk__gt=marks["order"]).delete()
    IdempotencyRecord.objects.filter(pk__gt=marks["idempotency"]).delete()
    StockMovement.objects.filter(pk__gt=marks["movement"]).delete()
    StockLevel.objects.filter(pk__gt=marks["level"]).delete()
    PriceList.objects.filter(pk__gt=marks["price_list"]).delete()
    if state["settings"] is None:
        CatalogSettings.objects.filter(id=1).delete()
    else:
        CatalogSettings.objects.filter(id=1).update(**state["settings"])
    Product.objects.filter(pk__gt=marks["product"]).delete()
    Warehouse.objects.filter(pk__gt=marks["warehouse"]).delete()
    PartnerMember.objects.filter(partner__pk__gt=marks["partner"]).delete()
    Partner.objects.filter(pk__gt=marks["partner"]).delete()
    PartnerTier.objects.filter(pk__gt=marks["tier"]).delete()
    Customer.objects.filter(pk__gt=marks["customer"]).delete()
    User.objects.filter(pk__gt=marks["user"]).delete()
    if not state["policy"]:
        ApprovalPolicy.objects.filter(doc_type="partner_order").delete()


@pytest.fixture
def portal_world(alpha_restored, in_alpha):
    """Committed in tenant alpha: a gold partner owned by the regional manager with its admin, and
    a product in stock on the gold price list; all removed afterwards."""
    state = in_alpha(_marks)
    run = uuid.uuid4().hex[:4].upper()

    def make():
        from crm.org.models import User
        from tests.crm.catalog.factories import price_list_make, product_make, stocked_make
        from tests.partner_portal.factories import member_make, partner_make

        admin = User.objects.get(email="admin@alpha.test")
        manager = User.objects.get(email="manager@alpha.example.com")
        product, _warehouse = stocked_make(on_hand="50", default=True, product=product_make(
            sku=f"E2EP{run}-GPS", name=f"门户浏览器测试接收机{run}", list_price="1000.00"))
        price_list_make(kind="partner_tier", code="gold", items=[(product, Decimal("800.00"))])
        partner = partner_make(actor=admin, owner=manager, tier="gold", name=f"浏览器测试经销商{run}有限公司")
        member = member_make(actor=admin, partner=partner, role="admin")
        return {"product": product, "partner": partner, "email": member.user.email, "run": run}

    try:
        yield in_alpha(make)
    finally:
        in_alpha(_restore, state)


def test_partner_signs_in_orders_from_the_catalog_and_sees_it_in_approval(e2e_server, new_context, alpha_restored,
                                                                           portal_world, in_alpha, screenshot_dir):
    world = portal_world
    url = lambda path: e2e_server.url(alpha_restored, path)  # noqa: E731
    page = new_context().new_page()
    broken: list[str] = []
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.split("?")[0].endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: broken.append(f"pageerror: {e}"))

    page.goto(url("/portal/"))
    expect(page.get_by_role("heading", name="渠道门户登录")).to_be_visible()
    page.get_by_label("邮箱").fill(world["email"])
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("partner-name")).to_have_text(world["partner"].name)

    page.locator('nav a[data-nav="catalog"]').click()
    page.get_by_test_id("catalog-search").fill(world["product"].sku)
    page.get_by_test_id("catalog-search").press("Enter")
    row = page.locator(f'tr[data-sku="{world["product"].sku}"]')
    expect(row).to_contain_text("800.00")
    expect(row).to_contain_text("有货")
    row.get_by_test_id(f"add-{world['product'].sku}").click()
    expect(page.get_by_test_id("messages")).to_contain_text("已加入购物车")

    page.locator('nav a[data-nav="cart"]').click()
    expect(page.get_by_test_id("preview-total")).to_have_text("904.00")  # 800.00 + 13 % VAT
    quantity = page.get_by_test_id("order-rows").locator('input[name="quantity"]').first
    quantity.fill("3")
    expect(page.get_by_test_id("preview-total")).to_have_text("2712.00")
    page.get_by_label("收货地址").fill("杭州市西湖区文三路 1 号")
    page.screenshot(path=str(screenshot_dir / "portal-cart.png"), full_page=True)
    page.get_by_test_id("submit-order").click()

    expect(page.get_by_test_id("order-status")).to_have_text("审批中")
    expect(page.get_by_test_id("order-total")).to_contain_text("2712.00")
    steps = page.get_by_test_id("approval-steps")
    expect(steps.locator("li").first).to_contain_text("渠道经理审批")
    expect(steps.locator('li[data-step-status="active"]')).to_contain_text("渠道经理审批")
    page.screenshot(path=str(screenshot_dir / "portal-order.png"), full_page=True)

    page.locator('nav a[data-nav="orders"]').click()
    expect(page.get_by_test_id("order-table")).to_contain_text("审批中")
    assert broken == [], broken

    def check():
        from crm.orders.models import Order

        order = Order.objects.get(partner_id=world["partner"].pk)
        return order.status, order.total, order.submitted_via

    assert in_alpha(check) == ("in_approval", Decimal("2712.00"), "portal")
