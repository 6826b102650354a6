"""The sales API: every endpoint, bad input (400 naming the field), refused transitions
(409 naming the current and the wanted state), scope (404), versions (412), filters, sorts,
cursor pages and query counts."""

import datetime
from decimal import Decimal as D

import pytest

from crm.sales.models import Opportunity, Quote

from .factories import (
    FORECAST_YEAR,
    customer_make,
    forecast_dataset,
    opportunity_make,
    product_make,
    quote_make,
    today,
)

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


@pytest.fixture
def mine(people, inside):
    with inside():
        return customer_make(actor=people["sales"], level="A")


@pytest.fixture
def products(inside):
    with inside():
        return [product_make(list_price="100.00"), product_make(list_price="33.33", tax_rate="0.06")]


def test_anonymous_is_refused(tenant_a, api_for):
    for path in ("/api/v1/opportunities/", "/api/v1/quotes/", "/api/v1/forecast"):
        assert api_for(tenant_a).get(path).status_code in (401, 403)


# -- opportunities ---------------------------------------------------------------------------------------
def test_create_read_and_edit_an_opportunity(people, api, inside, mine):
    client = api("sales")
    response = client.post("/api/v1/opportunities/", {
        "name": "G970 批量采购", "customer_id": mine.pk, "amount": "120000.00",
        "expected_close_date": (today() + datetime.timedelta(days=40)).isoformat(), "next_step": "技术交流"},
        format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["stage"], body["stage_label"], body["status"], body["probability"]) == ("qualify", "需求确认", "open", 10)
    assert (body["owner"], body["customer_name"], body["weighted_amount"]) == (people["sales"].pk, mine.name, "12000.00")
    assert [h["to_stage"] for h in body["stage_history"]] == ["qualify"]
    path = f"/api/v1/opportunities/{body['id']}/"
    assert client.get(path).json()["name"] == "G970 批量采购"

    edited = client.patch(path, {"amount": "150000.00", "probability": 20}, format="json", HTTP_IF_MATCH='"1"')
    assert edited.status_code == 200, edited.json()
    assert (edited.json()["amount"], edited.json()["probability"], edited.json()["version"]) == ("150000.00", 20, 2)
    stale = client.patch(path, {"amount": "1.00"}, format="json", HTTP_IF_MATCH='"1"')
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    stale = client.patch(path, {"amount": "1.00", "version": 1}, format="json")
    assert stale.status_code == 412
    with inside():
        assert Opportunity.objects.get(pk=body["id"]).amount == D("150000.00")


@pytest.mark.parametrize(("body", "field"), [
    ({"name": ""}, "name"),
    ({"amount": "1.234"}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"probability": 120}, "probability"),
    ({"expected_close_date": "31/01/2031"}, "expected_close_date"),
    ({"stage": "bogus"}, "stage"),
    ({"stage": "lost"}, "lost_reason"),
    ({"customer_id": "abc"}, "customer_id"),
    ({"contact_id": 99999999}, None),  # 404 naming the field
    ({"owner_id": 99999999}, "owner_id"),
])
def test_opportunity_bad_input(api, inside, mine, body, field):
    payload = {"name": "x", "customer_id": mine.pk, "expected_close_date": "2031-01-31", **body}
    response = api("sales").post("/api/v1/opportunities/", payload, format="json")
    if field is None:
        assert response.status_code == 404 and response.json()["field"] == "contact_id"
    else:
        assert response.status_code == 400 and field in response.json(), response.json()
    with inside():
        assert not Opportunity.objects.filter(customer=mine).exists()


def test_patch_refuses_stage_and_customer_with_the_reason(api, inside, people, mine):
    with inside():
        opportunity = opportunity_make(actor=people["sales"], customer=mine)
    client = api("sales")
    for body, field in (({"stage": "won"}, "stage"), ({"customer_id": mine.pk}, "customer_id"),
                        ({"amount": "0.001"}, "amount")):
        response = client.patch(f"/api/v1/opportunities/{opportunity.pk}/", body, format="json")
        assert response.status_code == 400 and field in response.json()


def test_stage_won_lost_reopen_endpoints(api, inside, people, mine):
    with inside():
        opportunity = opportunity_make(actor=people["sales"], customer=mine)
    client = api("sales")
    base = f"/api/v1/opportunities/{opportunity.pk}"
    moved = client.post(f"{base}/stage", {"stage": "negotiate", "note": "报价已确认"}, format="json")
    assert moved.status_code == 200 and (moved.json()["stage"], moved.json()["probability"]) == ("negotiate", 70)
    assert client.post(f"{base}/stage", {"stage": "nope"}, format="json").json().keys() >= {"stage"}
    assert client.post(f"{base}/stage", {"stage": "lost"}, format="json").status_code == 400
    assert client.post(f"{base}/lost", {}, format="json").status_code == 400  # lost_reason required

    won = client.post(f"{base}/won", {}, format="json")
    assert won.status_code == 200 and won.json()["status"] == "won" and won.json()["won_at"]
    assert client.post(f"{base}/won", {}, format="json").json()["version"] == won.json()["version"]  # retry

    refused = client.post(f"{base}/lost", {"lost_reason": "价格"}, format="json")
    assert refused.status_code == 409
    assert (refused.json()["current"], refused.json()["wanted"], refused.json()["code"]) == (
        "won", "lost", "invalid_transition")
    assert "赢单" in refused.json()["detail"] and "输单" in refused.json()["detail"]

    reopened = client.post(f"{base}/reopen", {"stage": "quote"}, format="json")
    assert reopened.status_code == 200 and reopened.json()["stage"] == "quote"
    assert client.post(f"{base}/reopen", {"stage": "won"}, format="json").status_code == 200  # already open: no-op
    lost = client.post(f"{base}/lost", {"lost_reason": "客户取消预算"}, format="json")
    assert lost.status_code == 200 and lost.json()["lost_reason"] == "客户取消预算"
    stale = client.post(f"{base}/reopen", {"version": 1}, format="json")
    assert stale.status_code == 412
    history = client.get(f"{base}/").json()["stage_history"]
    assert [h["to_stage"] for h in history] == ["qualify", "negotiate", "won", "quote", "lost"]


def test_opportunity_outside_scope_is_404(api, inside, people, mine):
    with inside():
        opportunity = opportunity_make(actor=people["sales"], customer=mine)
    other = api("sales2")
    assert other.get(f"/api/v1/opportunities/{opportunity.pk}/").status_code == 404
    assert other.patch(f"/api/v1/opportunities/{opportunity.pk}/", {"name": "x"}, format="json").status_code == 404
    assert other.post(f"/api/v1/opportunities/{opportunity.pk}/won", {}, format="json").status_code == 404
    response = other.post("/api/v1/opportunities/", {"name": "x", "customer_id": mine.pk,
                                                     "expected_close_date": "2031-01-01"}, format="json")
    assert response.status_code == 404 and response.json()["field"] == "customer_id"
    assert api("manager").get(f"/api/v1/opportunities/{opportunity.pk}/").status_code == 200  # 华北 ⊃ 北京


def test_opportunity_list_filters_sorts_and_cursor_pages(api, inside, people, mine):
    sales = people["sales"]
    with inside():
        other = customer_make(actor=sales)
        made = [opportunity_make(actor=sales, customer=mine if i % 2 else other, amount=f"{1000 * (i + 1)}.00",
                                 stage=("qualify", "quote", "negotiate")[i % 3],
                                 expected_close_date=datetime.date(2031, 1, 1) + datetime.timedelta(days=i))
                for i in range(7)]
        from crm.sales import services
        services.opportunity_close_won(actor=sales, opportunity_id=made[0].pk)
    client = api("sales")
    assert set(ids(client.get("/api/v1/opportunities/?limit=200"))) == {o.pk for o in made}
    assert set(ids(client.get(f"/api/v1/opportunities/?customer={mine.pk}"))) == {o.pk for o in made if o.customer == mine}
    assert set(ids(client.get("/api/v1/opportunities/?stage=quote"))) == {made[1].pk, made[4].pk}
    assert ids(client.get("/api/v1/opportunities/?status=won")) == [made[0].pk]
    assert set(ids(client.get("/api/v1/opportunities/?status=open"))) == {o.pk for o in made[1:]}
    assert set(ids(client.get("/api/v1/opportunities/?close_from=2031-01-03&close_to=2031-01-04"))) == {
        made[2].pk, made[3].pk}
    assert set(ids(client.get(f"/api/v1/opportunities/?owner={sales.pk}"))) == {o.pk for o in made}
    assert ids(client.get(f"/api/v1/opportunities/?owner={people['sales2'].pk}")) == []
    region = mine.region_id
    assert set(ids(client.get(f"/api/v1/opportunities/?region={region}"))) == {o.pk for o in made}
    assert ids(client.get("/api/v1/opportunities/?sort=-amount&limit=3")) == [made[6].pk, made[5].pk, made[4].pk]
    assert ids(client.get("/api/v1/opportunities/?sort=expected_close_date&limit=2")) == [made[0].pk, made[1].pk]
    # cursor pages walk everything once
    seen, url = [], "/api/v1/opportunities/?sort=amount&limit=3"
    while url:
        page = client.get(url)
        seen += ids(page)
        url = page.json()["next"]
    assert seen == [o.pk for o in made]
    for bad, field in (("status=maybe", "status"), ("sort=bogus", "sort"), ("close_from=soon", "close_from"),
                       ("owner=me", "owner")):
        response = client.get(f"/api/v1/opportunities/?{bad}")
        assert response.status_code == 400 and field in response.json(), bad


def test_opportunity_list_query_count_is_flat(api, inside, people, mine, django_assert_max_num_queries):
    with inside():
        for i in range(25):
            opportunity_make(actor=people["sales"], customer=mine if i % 2 else customer_make(actor=people["sales"]))
    client = api("manager")
    client.get("/api/v1/opportunities/")  # warm the per-process caches
    # token, roles, the manager's region and its subtree, the page, the stage labels (tenant
    # config), each after django-tenants' SET search_path: the same for 1 row or 100
    with django_assert_max_num_queries(12):
        assert len(ids(client.get("/api/v1/opportunities/?limit=100"))) >= 25


# -- quotes ------------------------------------------------------------------------------------------------
def test_create_read_edit_and_move_a_quote(api, inside, people, mine, products):
    client = api("sales")
    first, second = products
    response = client.post("/api/v1/quotes/", {
        "customer_id": mine.pk, "valid_until": (today() + datetime.timedelta(days=15)).isoformat(),
        "lines": [{"product_id": first.pk, "quantity": "3", "discount_percent": "10"},
                  {"product_id": second.pk, "quantity": "1.5"}]}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "draft" and body["number"].startswith(f"Q{today().year}-")
    # 3 × 100 × 90% = 270.00 + 13% 35.10; 1.5 × 33.33 = 49.995 -> 50.00 + 6% 3.00
    assert [(line["net_amount"], line["tax_amount"], line["gross_amount"]) for line in body["lines"]] == [
        ("270.00", "35.10", "305.10"), ("50.00", "3.00", "53.00")]
    assert (body["net_total"], body["tax_total"], body["total"]) == ("320.00", "38.10", "358.10")
    assert body["total_in_words"] == "叁佰伍拾捌元壹角"
    path = f"/api/v1/quotes/{body['id']}/"

    edited = client.patch(path, {"notes": "含税含运费", "lines": [{"product_id": first.pk, "quantity": "1",
                                                                 "unit_price": "99.99"}]},
                          format="json", HTTP_IF_MATCH='"1"')
    assert edited.status_code == 200, edited.json()
    assert (edited.json()["total"], edited.json()["version"], len(edited.json()["lines"])) == ("112.99", 2, 1)
    assert client.patch(path, {"notes": "x"}, format="json", HTTP_IF_MATCH='"1"').status_code == 412

    sent = client.post(f"{path}send", {}, format="json")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    locked = client.patch(path, {"notes": "改"}, format="json")
    assert locked.status_code == 409
    assert (locked.json()["current"], locked.json()["wanted"], locked.json()["code"]) == ("sent", "draft", "not_editable")
    accepted = client.post(f"{path}accept", {}, format="json")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    refused = client.post(f"{path}reject", {"reason": "x"}, format="json")
    assert refused.status_code == 409
    assert (refused.json()["current"], refused.json()["wanted"]) == ("accepted", "rejected")


def test_reject_endpoint_and_send_refusals(api, inside, people, mine, products):
    client = api("sales")
    with inside():
        empty = quote_make(actor=people["sales"], customer=mine)
        quote = quote_make(actor=people["sales"], customer=mine, lines=[{"product_id": products[0].pk, "quantity": 1}])
    response = client.post(f"/api/v1/quotes/{empty.pk}/send", {}, format="json")
    assert response.status_code == 400 and "lines" in response.json()
    assert client.post(f"/api/v1/quotes/{quote.pk}/accept", {}, format="json").status_code == 409
    client.post(f"/api/v1/quotes/{quote.pk}/send", {}, format="json")
    rejected = client.post(f"/api/v1/quotes/{quote.pk}/reject", {"reason": "预算不足"}, format="json")
    assert rejected.status_code == 200 and (rejected.json()["status"], rejected.json()["reject_reason"]) == (
        "rejected", "预算不足")
    assert client.post(f"/api/v1/quotes/{quote.pk}/send", {}, format="json").status_code == 409


@pytest.mark.parametrize(("line", "key"), [
    ({"quantity": "0"}, "lines[1].quantity"),
    ({"unit_price": "1.005"}, "lines[1].unit_price"),
    ({"discount_percent": "101"}, "lines[1].discount_percent"),
    ({"product_id": 99999999}, "lines[1].product_id"),
    ({"product_id": "retired"}, "lines[1].product_id"),
])
def test_bad_quote_lines_name_the_line(api, inside, mine, products, line, key):
    with inside():
        retired = product_make()
        from crm.catalog.services import product_deactivate
        product_deactivate(actor=None, product_id=retired.pk)
    if line.get("product_id") == "retired":
        line = {"product_id": retired.pk}
    good = {"product_id": products[0].pk, "quantity": "1"}
    response = api("sales").post("/api/v1/quotes/", {"customer_id": mine.pk, "valid_until": today().isoformat(),
                                                     "lines": [good, {**good, **line}]}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()) == [key] and response.json()[key][0].startswith("第 2 行：")
    with inside():
        assert not Quote.objects.filter(customer=mine).exists()


@pytest.mark.parametrize(("body", "field", "code"), [
    ({"valid_until": "2000-01-01"}, "valid_until", 400),
    ({"valid_until": None}, "valid_until", 400),
    ({"currency": "US"}, "currency", 400),
    ({"customer_id": 99999999}, "customer_id", 404),
    ({"opportunity_id": 99999999}, "opportunity_id", 404),
    ({"lines": [{"quantity": "1"}]}, "lines", 400),
])
def test_bad_quote_headers(api, mine, body, field, code):
    payload = {"customer_id": mine.pk, "valid_until": today().isoformat(), **body}
    response = api("sales").post("/api/v1/quotes/", payload, format="json")
    assert response.status_code == code, response.json()
    if code == 404:
        assert response.json()["field"] == field
    else:
        assert field in response.json()


def test_quote_list_filters_scope_and_query_count(api, inside, people, mine, products,
                                                  django_assert_max_num_queries):
    with inside():
        quotes = [quote_make(actor=people["sales"], customer=mine,
                             lines=[{"product_id": products[0].pk, "quantity": i + 1}]) for i in range(22)]
        theirs = quote_make(actor=people["sales2"], customer=customer_make(actor=people["sales2"]))
        from crm.sales import services
        services.quote_send(actor=people["sales"], quote_id=quotes[0].pk)
    client = api("sales")
    assert theirs.pk not in ids(client.get("/api/v1/quotes/?limit=200"))
    assert ids(client.get("/api/v1/quotes/?status=sent")) == [quotes[0].pk]
    assert ids(client.get(f"/api/v1/quotes/?q={quotes[3].number}")) == [quotes[3].pk]
    assert ids(client.get("/api/v1/quotes/?sort=-total&limit=1")) == [quotes[-1].pk]
    assert client.get("/api/v1/quotes/?status=open").status_code == 400
    assert client.get("/api/v1/quotes/?valid_from=x").status_code == 400
    executive = api("exec")
    executive.get("/api/v1/quotes/")
    with django_assert_max_num_queries(10):
        assert len(ids(executive.get("/api/v1/quotes/?limit=100"))) >= 23


def test_quote_outside_scope_is_404(api, inside, people, mine, products):
    with inside():
        quote = quote_make(actor=people["sales"], customer=mine, lines=[{"product_id": products[0].pk, "quantity": 1}])
    other = api("sales2")
    assert other.get(f"/api/v1/quotes/{quote.pk}/").status_code == 404
    assert other.patch(f"/api/v1/quotes/{quote.pk}/", {"notes": "x"}, format="json").status_code == 404
    assert other.post(f"/api/v1/quotes/{quote.pk}/send", {}, format="json").status_code == 404
    with inside():
        assert Quote.objects.get(pk=quote.pk).status == "draft"


# -- the forecast ---------------------------------------------------------------------------------------------
def test_forecast_endpoint(api, inside, people):
    with inside():
        forecast_dataset(sales=people["sales"], sales2=people["sales2"])
    y = FORECAST_YEAR
    response = api("exec").get(f"/api/v1/forecast?period=quarter&group=owner&from={y}-01-01&to={y}-06-30")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["period"], body["group"], body["from"], body["to"], body["currency"]) == (
        "quarter", "owner", f"{y}-01-01", f"{y}-06-30", "CNY")
    assert [p["key"] for p in body["periods"]] == [f"{y}-Q1", f"{y}-Q2"]
    assert body["total"] == {"open_count": 4, "amount": "383333.33", "weighted": "130833.33", "won_count": 2,
                             "won_amount": "90000.00"}
    sales = next(g for g in body["groups"] if g["key"] == str(people["sales"].pk))
    assert sales["label"] == "张伟"
    assert sales["cells"][0] == {"period": f"{y}-Q1", "open_count": 2, "amount": "133333.33", "weighted": "23333.33",
                                 "won_count": 1, "won_amount": "80000.00"}
    assert body["period_totals"][1]["weighted"] == "27500.00"
    own = api("sales2").get(f"/api/v1/forecast?from={y}-01-01&to={y}-12-31").json()
    assert own["total"]["weighted"] == "80000.00" and len(own["periods"]) == 12
    for bad, field in (("period=day", "period"), ("group=x", "group"), ("from=2031-02-31", "from"),
                       (f"from={y}-05-01&to={y}-01-01", "to")):
        response = api("exec").get(f"/api/v1/forecast?{bad}")
        assert response.status_code == 400 and field in response.json(), bad


def test_the_schema_documents_the_sales_endpoints(api):
    response = api("sales").get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/opportunities/{opportunity_id}/stage", "/api/v1/quotes/{quote_id}/accept",
                 "/api/v1/forecast"):
        assert path in text
