"""The aged receivables report: what each customer owed on a date by days past due (not yet
due, 0-30, 31-60, 61-90, 90+) at the exact boundaries, on an earlier date as it was then,
within the viewer's scope and filters, paged by cursor, with totals; exported to CSV and
XLSX with formulas escaped."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from crm.finance import selectors, services
from crm.finance.enums import aging_bucket_of

from .factories import days_ago, invoice_make, payment_make

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def _due_days_ago(order, finance, days_past_due: int, total="113.00"):
    """An invoice of ``order`` that is ``days_past_due`` days past due today (30-day terms)."""
    return invoice_make(actor=finance, order=order, total=total, issued_on=days_ago(days_past_due + 30))


def _row(report, customer):
    return next(r for r in report.rows if r.customer_id == customer.pk)


@pytest.mark.parametrize(("days", "bucket"), [
    (-5, "not_due"), (0, "not_due"), (1, "d0_30"), (30, "d0_30"), (31, "d31_60"), (60, "d31_60"),
    (61, "d61_90"), (90, "d61_90"), (91, "d90_plus"), (400, "d90_plus"),
])
def test_bucket_of_days_past_due(days, bucket):
    assert aging_bucket_of(days) == bucket


def test_buckets_at_the_exact_boundaries(alpha, people, shipped, shop):
    finance = people["finance"]
    order = shipped(quantity="9")  # 9 × 113.00 = 1,017.00
    for days in (0, 1, 30, 31, 60, 61, 90, 91):
        _due_days_ago(order, finance, days)
    invoice_make(actor=finance, order=order, total="113.00")  # issued today: due in 30 days
    report = selectors.aging_report(actor=finance, params={"customer": str(shop.customer.pk)})
    row = _row(report, shop.customer)
    one = Decimal("113.00")
    assert row.amounts == {"not_due": 2 * one, "d0_30": 2 * one, "d31_60": 2 * one, "d61_90": 2 * one,
                           "d90_plus": one}
    assert row.total == 9 * one and row.overdue == 7 * one and row.invoices == 9
    assert report.totals.total == row.total and report.as_of == TODAY()
    # the drill-down lists exactly the invoices of a column
    for bucket, count in (("d31_60", 2), ("d90_plus", 1), ("not_due", 2)):
        qs, sort = selectors.invoice_list(actor=finance, params={"customer": str(shop.customer.pk), "bucket": bucket})
        assert qs.count() == count and sort == "due_on"


def test_partial_payments_lower_what_is_owed_and_paid_invoices_leave(alpha, people, shipped, shop):
    finance = people["finance"]
    order = shipped(quantity="2")
    first = _due_days_ago(order, finance, 45)
    second = _due_days_ago(order, finance, 5)
    payment_make(actor=finance, invoice=first, amount="13.00")
    payment_make(actor=finance, invoice=second, amount="113.00")
    row = _row(selectors.aging_report(actor=finance, params={}), shop.customer)
    assert row.amounts["d31_60"] == Decimal("100.00") and row.amounts["d0_30"] == 0 and row.invoices == 1


def test_as_of_an_earlier_date_shows_what_was_owed_then(alpha, people, shipped, shop):
    finance = people["finance"]
    order = shipped()
    invoice = invoice_make(actor=finance, order=order, issued_on=days_ago(70))  # due 40 days ago
    payment_make(actor=finance, invoice=invoice, amount="50.00", received_on=days_ago(20))
    payment_make(actor=finance, invoice=invoice, amount="63.00", received_on=days_ago(5))

    def owed(as_of_days_ago):
        report = selectors.aging_report(actor=finance, params={"as_of": days_ago(as_of_days_ago),
                                                               "customer": str(shop.customer.pk)})
        return {k: v for k, v in report.rows[0].amounts.items() if v} if report.rows else {}

    assert owed(0) == {}  # paid by now
    assert owed(80) == {}  # not issued yet
    assert owed(60) == {"not_due": Decimal("113.00")}
    assert owed(30) == {"d0_30": Decimal("113.00")}  # 10 days past due
    assert owed(10) == {"d0_30": Decimal("63.00")}  # 30 days past due, after the first payment
    assert owed(9) == {"d31_60": Decimal("63.00")}  # 31 days
    with pytest.raises(ValidationError) as future:
        selectors.aging_report(actor=finance, params={"as_of": (TODAY() + datetime.timedelta(days=1)).isoformat()})
    assert "as_of" in future.value.message_dict


def test_void_invoices_are_not_owed(alpha, people, shipped, shop):
    finance = people["finance"]
    invoice = _due_days_ago(shipped(), finance, 10)
    services.invoice_void(actor=finance, invoice_id=invoice.pk, reason="作废")
    report = selectors.aging_report(actor=finance, params={"customer": str(shop.customer.pk)})
    assert report.rows == [] and report.totals.total == 0


def test_each_viewer_sees_their_scope_and_the_filters_narrow_it(alpha, people, shipped, shop):
    finance = people["finance"]
    mine = _due_days_ago(shipped(), finance, 40)
    theirs = _due_days_ago(shipped(customer=shop.customer2, owner="sales2"), finance, 100)
    sales = selectors.aging_report(actor=people["sales"], params={})
    assert [r.customer_id for r in sales.rows] == [shop.customer.pk]
    assert sales.totals.total == mine.total
    other = selectors.aging_report(actor=people["sales2"], params={})
    assert [r.customer_id for r in other.rows] == [shop.customer2.pk] and other.totals.amounts["d90_plus"] == theirs.total
    everyone = selectors.aging_report(actor=finance, params={})
    assert {shop.customer.pk, shop.customer2.pk} <= {r.customer_id for r in everyone.rows}
    only = selectors.aging_report(actor=finance, params={"owner": str(people["sales2"].pk)})
    assert [r.customer_id for r in only.rows] == [shop.customer2.pk]
    region = selectors.aging_report(actor=finance, params={"region": str(people["sales"].region_id)})
    assert shop.customer.pk in {r.customer_id for r in region.rows}
    assert shop.customer2.pk not in {r.customer_id for r in region.rows}
    for bad in ({"owner": "x"}, {"region": "999999"}, {"as_of": "2026-02-30"}, {"currency": "RMB1"}):
        with pytest.raises(ValidationError) as refused:
            selectors.aging_report(actor=finance, params=bad)
        assert next(iter(bad)) in refused.value.message_dict


def test_pages_by_cursor_biggest_debtors_first(alpha, people, shipped, shop):
    from tests.crm.orders.factories import customer_make

    finance = people["finance"]
    customers = [customer_make(owner=people["sales"]) for _ in range(3)]
    for n, customer in enumerate(customers, start=1):
        _due_days_ago(shipped(quantity=str(n), customer=customer), finance, 10, total=str(113 * n))
    params = {"owner": str(people["sales"].pk)}
    first = selectors.aging_report(actor=finance, params=params, limit=2)
    assert [r.customer_id for r in first.rows] == [customers[2].pk, customers[1].pk] and first.next_cursor
    second = selectors.aging_report(actor=finance, params={**params, "cursor": first.next_cursor}, limit=2)
    assert [r.customer_id for r in second.rows] == [customers[0].pk] and second.next_cursor is None
    assert first.totals.total == second.totals.total == Decimal("678.00")


def test_the_report_reads_a_fixed_number_of_queries(alpha, people, shipped, django_assert_max_num_queries):
    finance = people["finance"]
    for days in (5, 50, 95):
        _due_days_ago(shipped(), finance, days)
    with django_assert_max_num_queries(4):
        selectors.aging_report(actor=finance, params={})


def test_export_csv_and_xlsx_escape_formulas(alpha, people, shipped, api_for, tenant_a):
    from tests.crm.orders.factories import customer_make

    finance = people["finance"]
    evil = customer_make(owner=people["sales"], name="=HYPERLINK(\"http://evil\",\"点我\")")
    _due_days_ago(shipped(customer=evil), finance, 35)
    api = api_for(tenant_a, finance)
    response = api.get("/api/v1/receivables/aging", {"export": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[1][:3] == ["客户", "币种", "发票张数"]
    row = next(r for r in rows[2:] if "HYPERLINK" in r[0])
    assert row[0].startswith("'=") and row[5] == "113.00" and row[-1] == "113.00"
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)
    xlsx = api.get("/api/v1/receivables/aging", {"export": "xlsx"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    values = [[c.value for c in r] for r in sheet.iter_rows()]
    assert any(r[0] == "'=HYPERLINK(\"http://evil\",\"点我\")" and r[5] == 113.0 for r in values[2:])
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)
    assert api.get("/api/v1/receivables/aging", {"export": "pdf"}).status_code == 400
    assert api.get("/api/v1/receivables/aging", {"export": "csv", "as_of": "bad"}).status_code == 400


def test_a_deactivated_viewer_sees_an_empty_report(alpha, people, shipped):
    _due_days_ago(shipped(), people["finance"], 20)
    gone = people["sales"]
    gone.is_active = False  # as the request would load a user deactivated meanwhile
    report = selectors.aging_report(actor=gone, params={})
    assert report.rows == [] and report.totals.total == 0 and report.totals.invoices == 0
