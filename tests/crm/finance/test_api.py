"""The finance API: invoices and payments (list with filters and cursor pages, read, create
with an Idempotency-Key, void with versions), the aging report; every refusal a clear 4xx
(400 naming the field, 403, 404 for other tenants and other people's records, 409, 412,
422 naming the field); query counts of the lists; the OpenAPI schema."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm.finance.models import Invoice, Payment

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db
INVOICES, PAYMENTS, AGING = "/api/v1/invoices/", "/api/v1/payments/", "/api/v1/receivables/aging"


@pytest.fixture
def api(api_for, tenant_a, people):
    return lambda key: api_for(tenant_a, people[key])


def test_issue_an_invoice_with_an_idempotency_key(alpha, api, shipped):
    order = shipped(quantity="2")
    client = api("finance")
    body = {"order_id": order.pk, "total": "100.00", "kind": "electronic", "tax_number": "24440000000000000001"}
    first = client.post(INVOICES, body, format="json", HTTP_IDEMPOTENCY_KEY="inv-1")
    assert first.status_code == 201, first.json()
    data = first.json()
    assert data["number"].startswith("INV") and data["status"] == "open" and data["status_label"] == "未收款"
    assert data["order"] == {"id": order.pk, "number": order.number} and data["total"] == "100.00"
    assert data["outstanding"] == "100.00" and data["payments"] == [] and first["ETag"] == '"1"'
    again = client.post(INVOICES, body, format="json", HTTP_IDEMPOTENCY_KEY="inv-1")
    assert again.status_code == 201 and again.json() == data and again["Idempotent-Replayed"] == "true"
    other = client.post(INVOICES, {**body, "total": "99.00"}, format="json", HTTP_IDEMPOTENCY_KEY="inv-1")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Invoice.objects.filter(order=order).count() == 1
    assert client.get(f"{INVOICES}{data['id']}/").json()["tax_number"] == "24440000000000000001"


def test_refusals_of_invoices(alpha, api, shipped, shop, people):
    order = shipped()
    finance = api("finance")
    over = finance.post(INVOICES, {"order_id": order.pk, "total": "113.01"}, format="json")
    assert over.status_code == 422 and over.json()["code"] == "exceeds_uninvoiced" and "total" in over.json()
    bad = finance.post(INVOICES, {"order_id": order.pk, "total": "1.234"}, format="json")
    assert bad.status_code == 400 and bad.json() == {"total": ["价税合计最多保留 2 位小数。"]}
    typed = finance.post(INVOICES, {"order_id": "x"}, format="json")
    assert typed.status_code == 400 and "order_id" in typed.json()
    missing = finance.post(INVOICES, {"order_id": 999999999}, format="json")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    seller = api("sales").post(INVOICES, {"order_id": order.pk}, format="json")
    assert seller.status_code == 403
    from tests.crm.orders.factories import order_make

    draft = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    unshipped = finance.post(INVOICES, {"order_id": draft.pk}, format="json")
    assert unshipped.status_code == 409 and unshipped.json()["code"] == "order_not_invoiceable"
    assert unshipped.json()["current_status"] == "draft"
    assert not Invoice.objects.filter(order__in=[order, draft]).exists()


def test_out_of_scope_and_other_tenants_are_404(alpha, api, api_for, shipped, people, tenant_a, tenant_b, user_in,
                                                in_tenant):
    invoice = invoice_make(actor=people["finance"], order=shipped())
    payment = payment_make(actor=people["finance"], invoice=invoice, amount="1.00")
    assert api("sales").get(f"{INVOICES}{invoice.pk}/").status_code == 200
    for key in ("sales2",):
        assert api(key).get(f"{INVOICES}{invoice.pk}/").status_code == 404
        assert api(key).get(f"{PAYMENTS}{payment.pk}/").status_code == 404
        assert api(key).post(f"{INVOICES}{invoice.pk}/void", {"reason": "x"}, format="json").status_code == 404
        assert api(key).post(f"{PAYMENTS}{payment.pk}/void", {"reason": "x"}, format="json").status_code == 404
        assert invoice.number not in str(api(key).get(INVOICES).json())
    beta_finance = user_in(tenant_b, "finance")
    beta = api_for(tenant_b, beta_finance)
    assert beta.get(f"{INVOICES}{invoice.pk}/").status_code == 404
    assert beta.get(f"{PAYMENTS}{payment.pk}/").status_code == 404
    assert beta.post(PAYMENTS, {"invoice_id": invoice.pk, "amount": "1.00"}, format="json").status_code == 404
    assert beta.post(INVOICES, {"order_id": invoice.order_id}, format="json").status_code == 404
    with in_tenant(tenant_a):
        assert Payment.objects.filter(invoice=invoice).count() == 1 and Invoice.objects.filter(order_id=invoice.order_id).count() == 1


def test_record_and_void_payments(alpha, api, shipped):
    order = shipped(quantity="2")
    finance = api("finance")
    invoice = finance.post(INVOICES, {"order_id": order.pk}, format="json").json()
    body = {"invoice_id": invoice["id"], "amount": "26.00", "received_on": days_ago(1), "method": "wechat"}
    paid = finance.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert paid.status_code == 201, paid.json()
    assert finance.post(PAYMENTS, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1").json()["id"] == paid.json()["id"]
    assert Payment.objects.filter(invoice_id=invoice["id"]).count() == 1
    assert paid.json()["method_label"] == "微信" and paid.json()["invoice"]["number"] == invoice["number"]
    over = finance.post(PAYMENTS, {"invoice_id": invoice["id"], "amount": "200.01"}, format="json")
    assert over.status_code == 422 and over.json()["code"] == "exceeds_outstanding"
    assert "200.00" in over.json()["amount"][0]
    for bad, field in (({"amount": "0"}, "amount"), ({"amount": "-3"}, "amount"), ({"amount": "1.001"}, "amount"),
                       ({"amount": "1", "method": "btc"}, "method")):
        refused = finance.post(PAYMENTS, {"invoice_id": invoice["id"], **bad}, format="json")
        assert refused.status_code == 400 and field in refused.json(), refused.json()
    assert api("sales").post(PAYMENTS, {"invoice_id": invoice["id"], "amount": "1"}, format="json").status_code == 403
    detail = finance.get(f"{INVOICES}{invoice['id']}/").json()
    assert detail["status"] == "partially_paid" and detail["outstanding"] == "200.00" and len(detail["payments"]) == 1
    pay_id = paid.json()["id"]
    stale = finance.post(f"{PAYMENTS}{pay_id}/void", {"reason": "退回"}, format="json", HTTP_IF_MATCH='"9"')
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"
    no_reason = finance.post(f"{PAYMENTS}{pay_id}/void", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    voided = finance.post(f"{PAYMENTS}{pay_id}/void", {"reason": "退回"}, format="json", HTTP_IF_MATCH='"1"')
    assert voided.status_code == 200 and voided.json()["voided_at"] and voided.json()["void_reason"] == "退回"
    assert finance.get(f"{INVOICES}{invoice['id']}/").json()["status"] == "open"


def test_void_an_invoice(alpha, api, shipped):
    order = shipped()
    finance = api("finance")
    invoice = finance.post(INVOICES, {"order_id": order.pk}, format="json").json()
    payment = finance.post(PAYMENTS, {"invoice_id": invoice["id"], "amount": "1.00"}, format="json").json()
    blocked = finance.post(f"{INVOICES}{invoice['id']}/void", {"reason": "抬头错误"}, format="json")
    assert blocked.status_code == 409 and blocked.json()["code"] == "invoice_has_payments"
    finance.post(f"{PAYMENTS}{payment['id']}/void", {"reason": "退回"}, format="json")
    version = finance.get(f"{INVOICES}{invoice['id']}/")["ETag"]
    stale = finance.post(f"{INVOICES}{invoice['id']}/void", {"reason": "抬头错误", "version": 1}, format="json")
    assert stale.status_code == 412
    done = finance.post(f"{INVOICES}{invoice['id']}/void", {"reason": "抬头错误"}, format="json", HTTP_IF_MATCH=version)
    assert done.status_code == 200 and done.json()["status"] == "void"
    assert api("sales").get(f"/api/v1/orders/{order.pk}/").json()["status"] == "shipped"


def test_lists_filter_page_and_read_a_fixed_number_of_queries(alpha, api, shipped, shop, people,
                                                              django_assert_max_num_queries):
    finance_user = people["finance"]
    invoices = [invoice_make(actor=finance_user, order=shipped(), issued_on=days_ago(n)) for n in (5, 40, 70)]
    for invoice in invoices:
        payment_make(actor=finance_user, invoice=invoice, amount="10.00")
    other = invoice_make(actor=finance_user, order=shipped(customer=shop.customer2, owner="sales2"))
    client = api("finance")
    client.get(INVOICES)
    with django_assert_max_num_queries(8):
        listed = client.get(INVOICES, {"limit": 2}).json()
    assert [x["id"] for x in listed["results"]] == [other.pk, invoices[0].pk] and listed["next"]
    rest = client.get(listed["next"]).json()
    assert [x["id"] for x in rest["results"]] == [invoices[1].pk, invoices[2].pk]
    overdue = client.get(INVOICES, {"overdue": "1"}).json()["results"]
    assert [x["id"] for x in overdue if x["id"] in {i.pk for i in invoices}] == [invoices[2].pk, invoices[1].pk]
    assert [x["id"] for x in client.get(INVOICES, {"customer": shop.customer2.pk}).json()["results"]] == [other.pk]
    assert client.get(INVOICES, {"q": invoices[1].number}).json()["results"][0]["id"] == invoices[1].pk
    assert client.get(INVOICES, {"status": "bogus"}).status_code == 400
    assert client.get(INVOICES, {"issued_from": "2026-02-30"}).status_code == 400
    mine = api("sales").get(INVOICES).json()["results"]
    assert other.pk not in {x["id"] for x in mine} and invoices[0].pk in {x["id"] for x in mine}
    with django_assert_max_num_queries(8):
        payments = client.get(PAYMENTS, {"limit": 2}).json()
    assert len(payments["results"]) == 2 and payments["next"]
    assert client.get(PAYMENTS, {"method": "cash"}).json()["results"] == []
    assert client.get(PAYMENTS, {"method": "nope"}).status_code == 400
    assert len(api("sales2").get(PAYMENTS).json()["results"]) == 0


def test_the_aging_report_in_json(alpha, api, shipped, shop, people, django_assert_max_num_queries):
    finance_user = people["finance"]
    invoice_make(actor=finance_user, order=shipped(), issued_on=days_ago(75))  # 45 days past due
    client = api("finance")
    client.get("/api/v1/auth/me")  # the host's tenant and its plan are cached from here on
    with django_assert_max_num_queries(8):
        report = client.get(AGING, {"customer": shop.customer.pk}).json()
    assert [b["key"] for b in report["buckets"]] == ["not_due", "d0_30", "d31_60", "d61_90", "d90_plus"]
    assert report["buckets"][1] == {"key": "d0_30", "label": "0-30 天", "days_from": 1, "days_to": 30}
    [row] = report["results"]
    assert row["customer"] == {"id": shop.customer.pk, "name": shop.customer.name}
    assert row["buckets"]["d31_60"] == "113.00" and row["overdue"] == "113.00" and row["invoices"] == 1
    assert report["totals"]["total"] == "113.00" and report["totals"]["customer"] is None
    assert report["currency"] == "CNY" and report["next_cursor"] is None
    assert api("sales2").get(AGING, {"customer": shop.customer.pk}).json()["results"] == []
    assert client.get(AGING, {"as_of": "2999-01-01"}).status_code == 400
    assert Decimal(client.get(AGING).json()["totals"]["total"]) >= Decimal("113.00")


def test_the_schema_documents_the_finance_endpoints(alpha, api):
    schema = api("admin").get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (INVOICES, "/api/v1/invoices/{invoice_id}/", "/api/v1/invoices/{invoice_id}/void", PAYMENTS,
                 "/api/v1/payments/{payment_id}/", "/api/v1/payments/{payment_id}/void", AGING, "/api/v1/erp/payments"):
        assert path in paths, path
    assert any(p["name"] == "Idempotency-Key" for p in paths[INVOICES]["post"]["parameters"])
    assert any(p["name"] == "Idempotency-Key" for p in paths[PAYMENTS]["post"]["parameters"])


def test_an_invoice_with_many_payments_reads_a_fixed_number_of_queries(alpha, api, shipped, people,
                                                                      django_assert_max_num_queries):
    invoice = invoice_make(actor=people["finance"], order=shipped(quantity="5"))
    for _ in range(6):
        payment_make(actor=people["finance"], invoice=invoice, amount="10.00")
    client = api("finance")
    client.get(f"{INVOICES}{invoice.pk}/")
    with django_assert_max_num_queries(8):
        data = client.get(f"{INVOICES}{invoice.pk}/").json()
    assert len(data["payments"]) == 6 and data["paid_amount"] == "60.00"
    assert data["payments"][0]["customer"]["id"] == invoice.customer_id
