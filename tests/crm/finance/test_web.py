"""The finance pages: the receivables report (filters, drill-down, export), the invoice list
(filters, htmx rows, empty states), issuing an invoice from the shipped order's page,
recording and voiding payments on the invoice page, voiding an invoice, the payment list and
the settings; the order page's finance section; outside one's scope is 404, finance's work
403 for others."""

from __future__ import annotations

import pytest

from crm.finance.models import Invoice, Payment
from crm.orders.models import Order

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(web_as, tenant_a, people):
    return lambda key: web_as(tenant_a, people[key])


def test_finance_invoices_a_shipped_order_from_its_page_and_records_the_payment(alpha, people, shipped, web):
    order = shipped(quantity="2")  # 226.00
    finance = web("finance")
    page = finance.get(f"/orders/{order.pk}/").content.decode()
    assert 'data-testid="action-invoice"' in page and 'data-testid="order-finance"' in page
    assert f'href="/finance/orders/{order.pk}/invoice/"' in page
    assert 'data-testid="action-invoice"' not in web("sales").get(f"/orders/{order.pk}/").content.decode()

    form = finance.get(f"/finance/orders/{order.pk}/invoice/")
    assert form.status_code == 200 and 'value="226.00"' in form.content.decode()
    over = finance.post(f"/finance/orders/{order.pk}/invoice/", {"total": "300.00", "kind": "vat_special"})
    assert over.status_code == 400 and "超过订单" in over.content.decode()
    issued = finance.post(f"/finance/orders/{order.pk}/invoice/", {
        "total": "226.00", "kind": "vat_normal", "tax_number": "44001234", "issued_on": days_ago(0)})
    invoice = Invoice.objects.get(order=order)
    assert issued.status_code == 302 and issued["Location"] == f"/finance/invoices/{invoice.pk}/"
    assert Order.objects.get(pk=order.pk).status == "invoiced"

    detail = finance.get(f"/finance/invoices/{invoice.pk}/").content.decode()
    assert 'data-testid="payment-form"' in detail and 'value="226.00"' in detail and "增值税普通发票" in detail
    bad = finance.post(f"/finance/invoices/{invoice.pk}/payments/", {"amount": "226.01", "method": "bank_transfer"})
    assert bad.status_code == 400 and "超过发票" in bad.content.decode() and 'data-testid="payment-errors"' in bad.content.decode()
    part = finance.post(f"/finance/invoices/{invoice.pk}/payments/", {
        "amount": "100.00", "method": "bank_transfer", "received_on": days_ago(0), "reference": "BOC-1"})
    assert part.status_code == 302
    finance.post(f"/finance/invoices/{invoice.pk}/payments/", {"amount": "126.00", "method": "alipay"})
    assert Order.objects.get(pk=order.pk).status == "paid"
    order_page = web("sales").get(f"/orders/{order.pk}/").content.decode()
    assert "已回款" in order_page and invoice.number in order_page and "回款" in order_page
    assert 'data-testid="order-payments"' in order_page


def test_others_may_look_but_not_touch(alpha, people, shipped, web):
    order = shipped()
    invoice = invoice_make(actor=people["finance"], order=order)
    sales = web("sales")
    page = sales.get(f"/finance/invoices/{invoice.pk}/").content.decode()
    assert invoice.number in page and 'data-testid="payment-form"' not in page
    assert 'data-testid="action-void-invoice"' not in page
    assert sales.get(f"/finance/orders/{order.pk}/invoice/").status_code == 403
    assert sales.post(f"/finance/invoices/{invoice.pk}/payments/", {"amount": "1"}).status_code == 403
    refused = sales.post(f"/finance/invoices/{invoice.pk}/void/", {"reason": "x"}, follow=True)
    assert "只有财务人员可以红冲发票" in refused.content.decode()
    assert Invoice.objects.get(pk=invoice.pk).status == "open" and not Payment.objects.exists()
    assert web("sales2").get(f"/finance/invoices/{invoice.pk}/").status_code == 404
    assert web("sales2").get(f"/finance/orders/{order.pk}/invoice/").status_code == 404
    assert web("sales2").post(f"/finance/invoices/{invoice.pk}/void/", {"reason": "x"}).status_code == 404
    assert web("sales").get("/finance/settings/").status_code == 403


def test_void_a_payment_and_then_the_invoice_on_its_page(alpha, people, shipped, web):
    order = shipped()
    invoice = invoice_make(actor=people["finance"], order=order)
    payment = payment_make(actor=people["finance"], invoice=invoice, amount="13.00")
    finance = web("finance")
    page = finance.get(f"/finance/invoices/{invoice.pk}/").content.decode()
    assert 'data-testid="action-void-payment"' in page and 'data-testid="action-void-invoice"' not in page
    finance.post(f"/finance/payments/{payment.pk}/void/", {"reason": "退票", "version": payment.version})
    assert Payment.objects.get(pk=payment.pk).voided_at is not None
    invoice.refresh_from_db()
    stale = finance.post(f"/finance/invoices/{invoice.pk}/void/", {"reason": "抬头错误", "version": "1"}, follow=True)
    assert "已被他人修改" in stale.content.decode() and Invoice.objects.get(pk=invoice.pk).status == "open"
    done = finance.post(f"/finance/invoices/{invoice.pk}/void/", {"reason": "抬头错误", "version": invoice.version},
                        follow=True)
    assert "已红冲" in done.content.decode() and Invoice.objects.get(pk=invoice.pk).status == "void"
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_the_receivables_report_page_drills_down_and_exports(alpha, people, shop, shipped, web):
    late = invoice_make(actor=people["finance"], order=shipped(), issued_on=days_ago(80))  # 50 days past due
    finance = web("finance")
    html = finance.get("/finance/").content.decode()
    assert 'data-testid="aging-table"' in html and shop.customer.name in html and 'data-nav="finance"' in html
    assert f"/finance/invoices/?customer={shop.customer.pk}&bucket=d31_60" in html
    drill = finance.get(f"/finance/invoices/?customer={shop.customer.pk}&bucket=d31_60").content.decode()
    assert late.number in drill and "31-60 天" in drill
    assert finance.get("/finance/?as_of=nope").status_code == 200  # the error is shown, not a 500
    assert "as_of" in finance.get("/finance/?as_of=nope").content.decode()
    csv_file = finance.get("/finance/aging/export?export=csv")
    assert csv_file.status_code == 200 and shop.customer.name in b"".join(csv_file.streaming_content).decode()
    assert finance.get("/finance/aging/export?export=pdf").status_code == 404
    empty = web("sales2").get("/finance/").content.decode()
    assert 'data-testid="aging-empty"' in empty


def test_invoice_and_payment_lists(alpha, people, shop, shipped, web):
    assert 'data-testid="invoices-empty"' in web("sales2").get("/finance/invoices/").content.decode()
    invoice = invoice_make(actor=people["finance"], order=shipped(), issued_on=days_ago(45))
    payment_make(actor=people["finance"], invoice=invoice, amount="3.00")
    finance = web("finance")
    html = finance.get("/finance/invoices/").content.decode()
    assert invoice.number in html and 'data-testid="invoice-overdue"' in html
    rows = finance.get("/finance/invoices/?overdue=1", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="invoice-results")
    assert "<html" not in rows.content.decode() and invoice.number in rows.content.decode()
    assert "没有符合条件的发票" in finance.get("/finance/invoices/?status=void").content.decode()
    assert "状态“nope”不存在" in finance.get("/finance/invoices/?status=nope").content.decode()
    assert invoice.number not in web("sales2").get("/finance/invoices/").content.decode()
    payments = finance.get("/finance/payments/").content.decode()
    assert 'data-testid="payment-row"' in payments and invoice.number in payments
    assert 'data-testid="payments-empty"' in web("sales2").get("/finance/payments/").content.decode()


def test_settings_page(alpha, people, web):
    finance = web("finance")
    assert finance.get("/finance/settings/").status_code == 200
    bad = finance.post("/finance/settings/", {"reminder_interval_days": "0", "invoice_limit": ""})
    assert bad.status_code == 400 and "提醒间隔" in bad.content.decode()
    saved = finance.post("/finance/settings/", {"reminder_interval_days": "10", "invoice_limit": "99999.99"})
    assert saved.status_code == 302
    from crm.finance.selectors import finance_settings_get

    row = finance_settings_get()
    assert row.reminder_interval_days == 10 and str(row.invoice_limit) == "99999.99"


def test_the_list_pages_read_a_fixed_number_of_queries(alpha, people, shipped, web, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    finance = web("finance")
    first = invoice_make(actor=people["finance"], order=shipped(), issued_on=days_ago(50))
    payment_make(actor=people["finance"], invoice=first, amount="1.00")
    for path in ("/finance/invoices/", "/finance/payments/", "/finance/"):
        finance.get(path)
    counted = {}
    for path in ("/finance/invoices/", "/finance/payments/", "/finance/"):
        with CaptureQueriesContext(connection) as one:
            finance.get(path)
        counted[path] = len(one.captured_queries)
    for _ in range(4):
        invoice = invoice_make(actor=people["finance"], order=shipped(customer=None), issued_on=days_ago(40))
        payment_make(actor=people["finance"], invoice=invoice, amount="1.00")
    for path, count in counted.items():
        with django_assert_max_num_queries(count):
            assert finance.get(path).status_code == 200
