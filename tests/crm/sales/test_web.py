"""The sales pages: they render (with empty states), their forms work through the services,
the quote editor adds rows with Enter and prices them, and scope applies (404)."""

import datetime
import re

import pytest

from crm.sales import services
from crm.sales.models import Opportunity, Quote

from .factories import customer_make, opportunity_make, product_make, quote_make, today

pytestmark = pytest.mark.django_db


def page(client, path, status=200) -> str:
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


# -- empty states and navigation ------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "marker"), [
    ("/sales/opportunities/", 'data-testid="opportunities-empty"'),
    ("/sales/pipeline/", 'data-testid="pipeline-empty"'),
    ("/sales/quotes/", 'data-testid="quotes-empty"'),
    ("/sales/forecast/", 'data-testid="forecast-empty"'),
])
def test_pages_show_empty_states(browser, path, marker):
    html = page(browser("sales"), path)
    assert marker in html
    assert 'data-nav="opportunities"' in html and 'data-nav="quotes"' in html  # the shell's menu


def test_the_menu_entries_lead_to_the_pages(browser):
    html = page(browser("sales"), "/")
    assert 'href="/sales/opportunities/"' in html and 'href="/sales/quotes/"' in html


def test_the_project_mode_calls_them_projects(tenant_b, user_in, web_as):
    client = web_as(tenant_b, user_in(tenant_b, "sales"))
    html = page(client, "/sales/projects/")
    assert '<h1 data-testid="page-title">项目</h1>' in html
    assert 'href="/sales/projects/"' in html and 'data-nav="projects"' in html
    assert "新建项目" in page(client, "/sales/opportunities/new/")


def test_anonymous_visitors_are_sent_to_sign_in(tenant_a, web_as):
    response = web_as(tenant_a).get("/sales/opportunities/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# -- opportunities ------------------------------------------------------------------------------------------------
def test_list_and_board_show_what_the_user_may_see(browser, inside, people):
    with inside():
        mine = opportunity_make(actor=people["sales"], customer=customer_make(actor=people["sales"]),
                                name="北京地铁 RTK 采购", stage="quote")
        theirs = opportunity_make(actor=people["sales2"], customer=customer_make(actor=people["sales2"]),
                                  name="上海港口测绘项目")
    html = page(browser("sales"), "/sales/opportunities/")
    assert mine.name in html and theirs.name not in html and "报价" in html
    assert theirs.name in page(browser("exec"), "/sales/opportunities/?sort=-amount")
    board = page(browser("sales"), "/sales/pipeline/")
    assert 'data-stage="quote"' in board and mine.name in board and theirs.name not in board
    assert re.search(r'data-stage="quote".*?data-testid="col-count">1<', board, re.S)
    filtered = page(browser("exec"), "/sales/opportunities/?status=won")
    assert 'data-testid="opportunities-empty"' in filtered and "清除筛选" in filtered
    bad = page(browser("sales"), "/sales/opportunities/?close_from=soon")
    assert 'data-testid="filter-error"' in bad


def test_create_an_opportunity_through_the_form(browser, inside, people):
    with inside():
        customer = customer_make(actor=people["sales"], name="北京燕山测绘有限公司")
    client = browser("sales")
    form = page(client, f"/sales/opportunities/new/?customer={customer.pk}")
    assert "北京燕山测绘有限公司" in form and 'name="stage"' in form
    picked = page(client, "/sales/customers/pick/?customer_q=燕山")
    assert f'value="{customer.pk}"' in picked
    assert 'data-testid="customer-pick-empty"' in page(browser("sales2"), "/sales/customers/pick/?customer_q=燕山")

    response = client.post("/sales/opportunities/new/", {
        "name": "燕山 G970 采购", "customer": customer.pk, "stage": "quote", "amount": "88000",
        "currency": "CNY", "expected_close_date": (today() + datetime.timedelta(days=20)).isoformat()})
    assert response.status_code == 302
    with inside():
        opportunity = Opportunity.objects.get(name="燕山 G970 采购")
        assert (opportunity.stage, opportunity.probability, opportunity.owner) == ("quote", 40, people["sales"])
    assert response["Location"] == f"/sales/opportunities/{opportunity.pk}/"


def test_the_form_shows_errors_and_keeps_nothing(browser, inside, people):
    with inside():
        customer = customer_make(actor=people["sales"])
        theirs = customer_make(actor=people["sales2"])
    client = browser("sales")
    response = client.post("/sales/opportunities/new/", {
        "name": "x", "customer": customer.pk, "stage": "lost", "currency": "CNY", "expected_close_date": "2031-01-01"})
    assert response.status_code == 400 and "输单原因不能为空" in response.content.decode()
    response = client.post("/sales/opportunities/new/", {
        "name": "x", "customer": theirs.pk, "stage": "quote", "currency": "CNY", "expected_close_date": "2031-01-01"})
    assert response.status_code == 400 and "客户不存在或不在你的可见范围内" in response.content.decode()
    response = client.post("/sales/opportunities/new/", {"name": "x", "currency": "CNY",
                                                        "expected_close_date": "2031-01-01"})
    assert response.status_code == 400 and "请选择客户" in response.content.decode()
    with inside():
        assert not Opportunity.objects.filter(name="x").exists()


def test_detail_page_moves_and_edits(browser, inside, people):
    with inside():
        opportunity = opportunity_make(actor=people["sales"], customer=customer_make(actor=people["sales"]),
                                       name="海淀区测绘院 全站仪")
    client = browser("sales")
    path = f"/sales/opportunities/{opportunity.pk}/"
    html = page(client, path)
    assert 'data-testid="stage-history"' in html and 'data-testid="audit-trail"' in html
    assert "需求确认" in html and "还没有报价单" in html

    response = client.post(f"{path}stage/", {"stage": "negotiate", "note": "已报价"})
    assert response.status_code == 302 and response["Location"] == path
    html = page(client, path)
    assert "谈判" in html and "已报价" in html

    response = client.post(f"{path}lost/", {"lost_reason": ""})
    assert response.status_code == 302
    assert "输单原因不能为空" in page(client, path)
    client.post(f"{path}won/", {})
    html = page(client, path)
    assert 'data-testid="reopen-form"' in html and "赢单时间" in html
    client.post(f"{path}lost/", {"lost_reason": "x"})  # refused: won -> lost
    assert "请先重新打开" in page(client, path)
    client.post(f"{path}reopen/", {"stage": "quote"})
    with inside():
        assert Opportunity.objects.get(pk=opportunity.pk).stage == "quote"

    edit = page(client, f"{path}edit/")
    assert 'name="stage"' not in edit
    version = re.search(r'name="version" value="(\d+)"', edit).group(1)
    assert version == "4"  # created, moved, won, reopened
    response = client.post(f"{path}edit/", {"name": "海淀区测绘院 全站仪 10 台", "customer": opportunity.customer_id,
                                            "amount": "99000", "currency": "CNY", "expected_close_date": "2031-03-01",
                                            "probability": "45", "version": version})
    assert response.status_code == 302, response.content.decode()[:2000]
    stale = client.post(f"{path}edit/", {"name": "旧版本", "customer": opportunity.customer_id, "amount": "1",
                                         "currency": "CNY", "expected_close_date": "2031-03-01", "version": 1})
    assert stale.status_code == 400 and "记录已被他人修改" in stale.content.decode()
    with inside():
        fresh = Opportunity.objects.get(pk=opportunity.pk)
        assert (fresh.name, fresh.probability) == ("海淀区测绘院 全站仪 10 台", 45)


def test_pages_of_records_outside_the_scope_are_404(browser, inside, people):
    with inside():
        opportunity = opportunity_make(actor=people["sales"], customer=customer_make(actor=people["sales"]))
        quote = quote_make(actor=people["sales"], customer=opportunity.customer)
    client = browser("sales2")
    for path in (f"/sales/opportunities/{opportunity.pk}/", f"/sales/opportunities/{opportunity.pk}/edit/",
                 f"/sales/quotes/{quote.pk}/", f"/sales/quotes/{quote.pk}/edit/", f"/sales/quotes/{quote.pk}/print/"):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/sales/opportunities/{opportunity.pk}/won/").status_code == 404
    assert client.post(f"/sales/quotes/{quote.pk}/send/").status_code == 404


# -- quotes -----------------------------------------------------------------------------------------------------
@pytest.fixture
def stock(inside):
    with inside():
        return {"rtk": product_make(name="RTK 接收机", list_price="1000.00"),
                "pole": product_make(name="对中杆", list_price="33.33", tax_rate="0.06")}


def editor_post(client, path, rows, action, **header):
    data = {"rows": str(len(rows)), "action": action, "currency": "CNY",
            "valid_until": (today() + datetime.timedelta(days=10)).isoformat(), **header}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{key}-{i}"] = value
    return client.post(path, data)


def test_the_quote_editor_adds_rows_with_enter_prices_them_and_saves(browser, inside, people, stock):
    with inside():
        customer = customer_make(actor=people["sales"], name="顺义测绘队")
    client = browser("sales")
    html = page(client, f"/sales/quotes/new/?customer={customer.pk}")
    # the first submit button (the one Enter presses) adds a line; one empty row to start
    first_button = re.search(r"<button[^>]*>", html.split('data-testid="quote-editor"', 1)[1]).group(0)
    assert 'value="add"' in first_button
    assert 'name="sku-0"' in html and 'name="sku-1"' not in html and 'list="product-suggestions"' in html

    response = editor_post(client, "/sales/quotes/new/", [{"sku": stock["rtk"].sku, "quantity": "2"}], "add",
                           customer=customer.pk)
    html = response.content.decode()
    assert response.status_code == 200 and 'name="sku-1"' in html and "autofocus" in html
    assert 'data-testid="preview-total">2260.00<' in html  # 2 × 1000 + 13%

    rows = [{"sku": stock["rtk"].sku, "quantity": "2", "discount_percent": "5"},
            {"sku": stock["pole"].sku.lower(), "quantity": "3"}, {"sku": ""}]
    response = editor_post(client, "/sales/quotes/new/", rows, "save", customer=customer.pk, notes="含税价")
    assert response.status_code == 302, response.content.decode()[:3000]
    with inside():
        quote = Quote.objects.get(customer=customer)
        assert [line.sku for line in quote.lines.order_by("position")] == [stock["rtk"].sku, stock["pole"].sku]
        assert str(quote.total) == "2252.99"  # 1900.00 + 247.00; 99.99 + 6.00 (5.9994)
    detail = page(client, f"/sales/quotes/{quote.pk}/")
    assert quote.number in detail and "贰仟贰佰伍拾贰元玖角玖分" in detail and 'data-testid="quote-send"' in detail


def test_the_editor_names_bad_rows_and_removes_rows(browser, inside, people, stock):
    with inside():
        customer = customer_make(actor=people["sales"])
    client = browser("sales")
    rows = [{"sku": stock["rtk"].sku, "quantity": "1"}, {"sku": "NO-SUCH-SKU", "quantity": "1"},
            {"sku": stock["pole"].sku, "quantity": "0"}, {"sku": stock["pole"].sku, "quantity": "1", "unit_price": "1.001"}]
    response = editor_post(client, "/sales/quotes/new/", rows, "save", customer=customer.pk)
    html = response.content.decode()
    assert response.status_code == 400
    assert "第 2 行：没有 SKU 为“NO-SUCH-SKU”的产品" in html
    assert "第 3 行：数量必须大于 0" in html and "第 4 行：单价最多保留 2 位小数" in html
    with inside():
        assert not Quote.objects.filter(customer=customer).exists()
    response = editor_post(client, "/sales/quotes/new/", rows, "remove-1", customer=customer.pk)
    html = response.content.decode()
    assert "NO-SUCH-SKU" not in html and 'name="sku-2"' in html


def test_editing_a_draft_and_the_transitions(browser, inside, people, stock):
    with inside():
        customer = customer_make(actor=people["sales"])
        quote = quote_make(actor=people["sales"], customer=customer, lines=[{"product_id": stock["rtk"].pk, "quantity": 1}])
    client = browser("sales")
    edit = page(client, f"/sales/quotes/{quote.pk}/edit/")
    assert f'value="{stock["rtk"].sku}"' in edit and 'name="version" value="1"' in edit
    response = editor_post(client, f"/sales/quotes/{quote.pk}/edit/", [{"sku": stock["pole"].sku, "quantity": "10"}],
                           "save", customer=customer.pk, version="1")
    assert response.status_code == 302
    with inside():
        assert Quote.objects.get(pk=quote.pk).lines.get().sku == stock["pole"].sku

    client.post(f"/sales/quotes/{quote.pk}/send/")
    html = page(client, f"/sales/quotes/{quote.pk}/")
    assert "已发送" in html and 'data-testid="quote-accept"' in html and 'data-testid="quote-edit"' not in html
    response = client.get(f"/sales/quotes/{quote.pk}/edit/")
    assert response.status_code == 302  # only drafts
    client.post(f"/sales/quotes/{quote.pk}/reject/", {"reason": "预算不足"})
    html = page(client, f"/sales/quotes/{quote.pk}/")
    assert "已拒绝" in html and "预算不足" in html
    client.post(f"/sales/quotes/{quote.pk}/accept/")
    assert "不能变为“已接受”" in page(client, f"/sales/quotes/{quote.pk}/")


def test_the_printable_quote(browser, inside, people, stock, tenant_a):
    with inside():
        customer = customer_make(actor=people["sales"], name="通州规划测绘所")
        quote = quote_make(actor=people["sales"], customer=customer, notes="付款方式：款到发货",
                           lines=[{"product_id": stock["rtk"].pk, "quantity": "100"}])
    html = page(browser("sales"), f"/sales/quotes/{quote.pk}/print/")
    assert tenant_a.name in html and quote.number in html and "通州规划测绘所" in html
    assert "人民币壹拾壹万叁仟元整" in html  # 100 × 1000 × 1.13
    assert "sales/print.css" in html and "付款方式：款到发货" in html
    assert quote.valid_until.strftime("%Y-%m-%d") in html


def test_product_suggestions(browser, stock):
    html = page(browser("sales"), "/sales/products/suggest/?sku-3=RTK")
    assert f'value="{stock["rtk"].sku}"' in html and stock["pole"].sku not in html
    assert page(browser("sales"), "/sales/products/suggest/").strip() == ""


def test_customer_options_for_the_picked_customer(browser, inside, people):
    from crm.customers.services import contact_create

    with inside():
        customer = customer_make(actor=people["sales"])
        contact_create(actor=people["sales"], customer_id=customer.pk, data={"name": "王工"})
        opportunity_make(actor=people["sales"], customer=customer, name="待报价商机")
    html = page(browser("sales"), f"/sales/customers/options/?customer={customer.pk}&for=quote")
    assert 'hx-swap-oob="true"' in html and "王工" in html and "待报价商机" in html
    assert "王工" not in page(browser("sales2"), f"/sales/customers/options/?customer={customer.pk}&for=quote")


# -- the forecast ---------------------------------------------------------------------------------------------
def test_the_forecast_page(browser, inside, people):
    with inside():
        customer = customer_make(actor=people["sales"])
        opportunity_make(actor=people["sales"], customer=customer, amount="100000.00", stage="quote",
                         expected_close_date=datetime.date(2031, 2, 10))
        won = opportunity_make(actor=people["sales"], customer=customer, amount="5000.00")
        services.opportunity_close_won(actor=people["sales"], opportunity_id=won.pk)
    client = browser("manager")
    html = page(client, "/sales/forecast/?from=2031-01-01&to=2031-12-31")
    assert "<svg" in html and 'data-testid="forecast-table"' in html and "张伟" in html
    weighted = re.search(r'data-testid="total-weighted">([^<]+)<', html).group(1)
    assert weighted.replace(",", "") == "40000.00"  # zh-hans groups by four digits: 4,0000.00
    quarter = page(client, "/sales/forecast/?period=quarter&group=stage&from=2031-01-01&to=2031-12-31")
    assert "2031-Q1" in quarter and "报价" in quarter
    bad = page(client, "/sales/forecast/?period=week")
    assert 'data-testid="filter-error"' in bad


def test_the_pages_speak_english_too(browser, inside, people):
    from crm.org.services import user_set_language

    with inside():
        user_set_language(user=people["sales"], language="en")
        customer = customer_make(actor=people["sales"])
        quote = quote_make(actor=people["sales"], customer=customer)
    client = browser("sales")
    assert "Forecast" in page(client, "/sales/forecast/") and "销售预测" not in page(client, "/sales/forecast/")
    html = page(client, "/sales/opportunities/")
    assert "New opportunity" in html and "Board view" in html
    html = page(client, f"/sales/quotes/{quote.pk}/")
    assert "Send to the customer" in html and "Draft" in html


def test_the_customer_page_shows_its_deals_and_quotes_within_scope(browser, people, inside):
    """The sales panel of the customer's 360° page (crm.customers.links): opportunities and
    quotes the viewer may see; the panel is absent when there are none."""
    sales = people["sales"]
    with inside():
        customer = customer_make(actor=sales)
        bare = customer_make(actor=sales)
        deal = opportunity_make(actor=sales, customer=customer, name="三季度扩容")
        quote = quote_make(actor=sales, customer=customer)
    html = page(browser("sales"), f"/customers/{customer.pk}/")
    assert 'data-testid="customer-deals"' in html and "三季度扩容" in html and quote.number in html
    assert f'href="/sales/opportunities/{deal.pk}/"' in html and f'href="/sales/quotes/{quote.pk}/"' in html
    assert 'data-testid="customer-deals"' not in page(browser("sales"), f"/customers/{bare.pk}/")
    manager_view = page(browser("exec"), f"/customers/{customer.pk}/")
    assert "三季度扩容" in manager_view
    page(browser("sales2"), f"/customers/{customer.pk}/", status=404)  # not theirs: no page at all
