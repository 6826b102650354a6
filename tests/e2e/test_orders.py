"""An order from entry to paid in a real browser: a salesperson enters it with the keyboard
(customer picker, product search as you type, Enter for the next line, the totals computed by
the server as they type) and submits it; the business secretary approves it; finance approves
the re-check that a big order needs; the warehouse ships it; finance issues the invoice from
the order's page and records the customer's payment on the invoice. The order page then shows
the whole chain on its timeline and the order as paid (已回款)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.conftest import PASSWORD

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = pytest.mark.e2e

STAFF = ("sales", "secretary", "finance", "warehouse")


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_test_id("login-submit").click()


def watch_for_breakage(page) -> list[str]:
    broken: list[str] = []
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.split("?")[0].endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: broken.append(f"pageerror: {e}"))
    return broken


def _marks():
    from crm.activities.models import Notification
    from crm.approvals.models import ApprovalPolicy, ApprovalRequest
    from crm.catalog.models import CatalogSettings, Product, StockLevel, StockMovement, Warehouse
    from crm.customers.models import Customer
    from crm.orders.models import IdempotencyRecord, Order
    from crm.org.models import User

    models = {"notification": Notification, "approval": ApprovalRequest, "order": Order, "movement": StockMovement,
              "level": StockLevel, "product": Product, "warehouse": Warehouse, "customer": Customer,
              "idempotency": IdempotencyRecord}
    marks = {name: model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
             for name, model in models.items()}
    people = {key: User.objects.filter(email=f"{key}@alpha.example.com").values("pk", "last_login", "language",
                                                                                "version").get()
              for key in STAFF}
    from crm.finance.models import FinanceCounter, Invoice, Payment

    marks.update({"invoice": Invoice.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
                  "payment": Payment.objects.order_by("-pk").values_list("pk", flat=True).first() or 0})
    return {"marks": marks, "people": people, "counters": list(FinanceCounter.objects.values("kind", "year", "last")),
            "facts": _facts_snapshot(),
            "settings": CatalogSettings.objects.filter(id=1).values("allow_backorders", "default_warehouse_id").first(),
            "policy": ApprovalPolicy.objects.filter(doc_type="order").exists()}


def _fact_models() -> list:
    """The sales dashboard's fact tables (crm.analytics), which approvals, shipments and
    payments add to as they happen."""
    from django.apps import apps

    if not apps.is_installed("crm.analytics"):
        return []
    return [apps.get_model("analytics", name) for name in ("DailySalesFact", "MonthlySalesFact")]


def _facts_snapshot() -> dict:
    return {model._meta.label: list(model.objects.values()) for model in _fact_models()}


def _restore(state) -> None:
    from crm.activities.models import Notification
    from crm.approvals.models import ApprovalPolicy, ApprovalRequest
    from crm.catalog.models import CatalogSettings, Product, StockLevel, StockMovement, Warehouse
    from crm.customers.models import Customer
    from crm.finance.models import FinanceCounter, Invoice, Payment
    from crm.orders.models import IdempotencyRecord, Order, Shipment
    from crm.org.models import User

    marks = state["marks"]
    Payment.objects.filter(pk__gt=marks["payment"]).delete()
    Invoice.objects.filter(pk__gt=marks["invoice"]).delete()
    FinanceCounter.objects.all().delete()
    FinanceCounter.objects.bulk_create([FinanceCounter(**row) for row in state["counters"]])
    for model in _fact_models():
        model.objects.all().delete()
        model.objects.bulk_create([model(**row) for row in state["facts"].get(model._meta.label, [])])
    ApprovalRequest.objects.filter(pk__gt=marks["approval"], doc_type="order").delete()
    Shipment.objects.filter(order__pk__gt=marks["order"]).delete()
    Order.objects.filter(pk__gt=marks["order"]).delete()
    IdempotencyRecord.objects.filter(pk__gt=marks["idempotency"]).delete()
    StockMovement.objects.filter(pk__gt=marks["movement"]).delete()
    StockLevel.objects.filter(pk__gt=marks["level"]).delete()
    if state["settings"] is None:
        CatalogSettings.objects.filter(id=1).delete()
    else:
        CatalogSettings.objects.filter(id=1).update(**state["settings"])
    Product.objects.filter(pk__gt=marks["product"]).delete()
    Warehouse.objects.filter(pk__gt=marks["warehouse"]).delete()
    Customer.objects.filter(pk__gt=marks["customer"]).delete()
    Notification.objects.filter(pk__gt=marks["notification"]).delete()
    if not state["policy"]:
        ApprovalPolicy.objects.filter(doc_type="order").delete()
    for person in state["people"].values():
        User.objects.filter(pk=person["pk"]).update(**{k: v for k, v in person.items() if k != "pk"})


@pytest.fixture
def order_world(alpha_restored, in_alpha):
    """Committed in tenant alpha: a default warehouse with a radio (50,000.00 + 13 % VAT; two
    of them need finance's re-check) and a battery in stock, and a customer of the
    salesperson; all removed afterwards (``alpha_restored`` drops the audit rows and
    sessions)."""
    state = in_alpha(_marks)
    run = uuid.uuid4().hex[:4].upper()

    def make():
        from crm.customers.services import customer_create
        from crm.org.models import User
        from tests.crm.catalog.factories import product_make, stocked_make

        sales = User.objects.get(email="sales@alpha.example.com")
        radio, warehouse = stocked_make(on_hand="10", default=True, product=product_make(
            sku=f"E2E{run}-RADIO", name=f"浏览器测试电台{run}", list_price="50000.00"))
        battery, _w = stocked_make(on_hand="50", warehouse=warehouse, product=product_make(
            sku=f"E2E{run}-BAT", name=f"浏览器测试电池{run}", list_price="380.00"))
        customer = customer_create(actor=sales, data={"name": f"翠湖测绘工程有限公司{run}", "level": "B"},
                                   duplicate_override=True)
        return {"radio": radio, "battery": battery, "customer": customer, "run": run}

    try:
        yield in_alpha(make)
    finally:
        in_alpha(_restore, state)


def test_an_order_from_entry_to_paid_through_the_web(e2e_server, new_context, alpha_restored, order_world,
                                                     in_alpha, screenshot_dir):
    world = order_world
    url = lambda path: e2e_server.url(alpha_restored, path)  # noqa: E731

    # -- the salesperson enters the order with the keyboard ----------------------------------------------
    page = new_context().new_page()
    broken = watch_for_breakage(page)
    page.goto(url("/login/?next=/orders/new/"))
    sign_in(page, "sales@alpha.example.com")
    expect(page.get_by_test_id("order-entry")).to_be_visible()

    page.get_by_test_id("customer-search").press_sequentially("翠湖测绘", delay=40)
    option = page.get_by_test_id("customer-options").get_by_role("button").first
    expect(option).to_contain_text(world["customer"].name)
    page.get_by_test_id("customer-search").press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("customer-chosen")).to_have_text(world["customer"].name)

    lines = page.get_by_test_id("entry-line")
    first = lines.nth(0)
    expect(first.get_by_test_id("line-product")).to_be_focused()
    first.get_by_test_id("line-product").press_sequentially(f"e2e{world['run'].lower()}-radio", delay=30)
    expect(first.get_by_test_id("product-options")).to_contain_text(world["radio"].name)
    first.get_by_test_id("line-product").press("ArrowDown")
    page.keyboard.press("Enter")  # picks the product, focus moves to the quantity
    qty = first.get_by_test_id("line-qty")
    expect(qty).to_be_focused()
    qty.fill("2")
    qty.press("Enter")  # Enter adds the next line
    expect(lines).to_have_count(2)
    second = lines.nth(1)
    expect(second.get_by_test_id("line-product")).to_be_focused()
    second.get_by_test_id("line-product").press_sequentially(f"e2e{world['run'].lower()}-bat", delay=30)
    expect(second.get_by_test_id("product-options")).to_contain_text(world["battery"].name)
    second.get_by_test_id("line-product").press("Enter")  # Enter takes the first suggestion
    second.get_by_test_id("line-qty").fill("4")
    second.get_by_test_id("line-qty").press("ArrowUp")  # arrows move between lines
    expect(qty).to_be_focused()
    # 2 × 50,000 + 4 × 380 = 101,520.00 net; 13 % VAT: 114,717.60
    expect(page.get_by_test_id("entry-total")).to_have_text("114717.60")
    page.screenshot(path=screenshot_dir / "qiao-order-entry.png", full_page=True)
    page.get_by_test_id("save-submit").click()
    expect(page.get_by_test_id("order-status")).to_have_text("审批中")
    number = page.get_by_test_id("order-number").inner_text().replace("订单", "").strip()
    order_url = page.url
    assert not broken, broken

    # -- the business secretary approves ---------------------------------------------------------------
    secretary = new_context().new_page()
    broken = watch_for_breakage(secretary)
    secretary.goto(url("/login/?next=/approvals/"))
    sign_in(secretary, "secretary@alpha.example.com")
    secretary.goto(order_url)
    secretary.get_by_test_id("action-approve").click()
    expect(secretary.get_by_test_id("approval-title")).to_contain_text(number)
    secretary.get_by_label("意见（可选）").fill("价格与账期符合政策")
    secretary.get_by_test_id("approve-form").get_by_role("button").click()
    expect(secretary.get_by_test_id("approval-status")).to_have_text("审批中")  # finance still to re-check
    assert not broken, broken

    # -- finance approves the re-check of a big order ---------------------------------------------------
    finance = new_context().new_page()
    broken = watch_for_breakage(finance)
    finance.goto(url("/login/?next=/"))
    sign_in(finance, "finance@alpha.example.com")
    finance.goto(order_url)
    expect(finance.get_by_test_id("approval-chain")).to_contain_text("财务复核")
    finance.get_by_test_id("action-approve").click()
    finance.get_by_test_id("approve-form").get_by_role("button").click()
    expect(finance.get_by_test_id("approval-status")).to_have_text("已通过")
    finance.get_by_test_id("document-link").click()
    expect(finance.get_by_test_id("order-status")).to_have_text("已审批")
    expect(finance.get_by_test_id("stock-state")).to_have_text("已预留")
    timeline = finance.get_by_test_id("order-timeline")
    expect(timeline).to_contain_text("商务秘书审核：同意")
    expect(timeline).to_contain_text("价格与账期符合政策")
    expect(timeline).to_contain_text("财务复核：同意")
    finance.screenshot(path=screenshot_dir / "qiao-order-approved.png", full_page=True)
    assert not broken, broken

    def check():
        from crm.orders.models import Order

        order = Order.objects.get(number=number)
        return order.status, order.total, order.submitted_by.email, order.stock_state

    assert in_alpha(check) == ("approved", Decimal("114717.60"), "sales@alpha.example.com", "reserved")

    # -- the warehouse ships everything ---------------------------------------------------------------
    keeper = new_context().new_page()
    broken = watch_for_breakage(keeper)
    keeper.goto(url("/login/?next=/"))
    sign_in(keeper, "warehouse@alpha.example.com")
    keeper.goto(order_url)
    keeper.get_by_test_id("action-ship").click()
    expect(keeper.get_by_test_id("ship-qty")).to_have_count(2)  # both lines, their quantities filled in
    keeper.get_by_test_id("ship-tracking").fill("SF1234567890")
    keeper.get_by_test_id("ship-submit").click()
    expect(keeper.get_by_test_id("order-status")).to_have_text("已发货")
    assert not broken, broken

    # -- finance issues the invoice from the order's page and records the payment -------------------------
    broken = watch_for_breakage(finance)
    finance.goto(order_url)
    finance.get_by_test_id("action-invoice").click()
    expect(finance.get_by_test_id("remaining")).to_have_text("114,717.60")
    expect(finance.get_by_test_id("invoice-total-input")).to_have_value("114717.60")  # all that is left
    finance.get_by_test_id("invoice-tax-number").fill(f"4403{world['run'][:4].encode().hex()[:4]}")
    finance.get_by_test_id("invoice-submit").click()
    expect(finance.get_by_test_id("invoice-status")).to_have_text("未收款")
    invoice_number = finance.get_by_test_id("invoice-number").inner_text().replace("发票", "").strip()
    expect(finance.get_by_test_id("payment-amount")).to_have_value("114717.60")
    finance.get_by_test_id("payment-amount").fill("14717.60")  # a first part
    finance.get_by_test_id("payment-submit").click()
    expect(finance.get_by_test_id("invoice-status")).to_have_text("部分收款")
    expect(finance.get_by_test_id("invoice-outstanding")).to_have_text("100,000.00")
    finance.get_by_test_id("payment-submit").click()  # the rest, as the form suggests
    expect(finance.get_by_test_id("invoice-status")).to_have_text("已收款")
    expect(finance.get_by_test_id("payment-row")).to_have_count(2)
    finance.get_by_test_id("invoice-order").click()
    expect(finance.get_by_test_id("order-status")).to_have_text("已回款")
    expect(finance.get_by_test_id("order-outstanding")).to_have_text("0.00")
    timeline = finance.get_by_test_id("order-timeline")
    expect(timeline).to_contain_text("开票")
    expect(timeline).to_contain_text(invoice_number)
    expect(timeline.locator('[data-kind="paid"]')).to_have_count(2)
    finance.screenshot(path=screenshot_dir / "qiao-order-paid.png", full_page=True)
    assert not broken, broken

    # -- the salesperson sees it paid ---------------------------------------------------------------------------
    page.goto(order_url)
    expect(page.get_by_test_id("order-status")).to_have_text("已回款")
    expect(page.get_by_test_id("order-invoices")).to_contain_text(invoice_number)

    def paid():
        from crm.finance.models import Invoice, Payment
        from crm.orders.models import Order

        order = Order.objects.get(number=number)
        invoice = Invoice.objects.get(order=order)
        return (order.status, invoice.number, invoice.status, invoice.created_by.email,
                sorted(str(p.amount) for p in Payment.objects.filter(invoice=invoice)))

    assert in_alpha(paid) == ("paid", invoice_number, "paid", "finance@alpha.example.com",
                              ["100000.00", "14717.60"])
