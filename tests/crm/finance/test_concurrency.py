"""Finance under real concurrency: N threads, each with its own connection, on committed
data. Invoices issued at once for one order never exceed its total; payments recorded at once
against one invoice never exceed what it owes; and the order ends in the state its invoices
and payments say. Like tests/crm/orders/test_concurrency.py these commit and remove what
they made afterwards."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connections
from django.db.models import Sum
from django_tenants.utils import schema_context

from crm.finance import services
from tests.crm.catalog.factories import stocked_make
from tests.crm.orders.factories import customer_make
from tests.crm.orders.test_concurrency import _staff, committed, race  # noqa: F401 (a fixture)

from .factories import shipped_order_make

THREADS = 8


@pytest.fixture
def committed_finance(committed, django_db_blocker):  # noqa: F811 (the imported fixture)
    """``committed``, and the invoices, payments, finance numbers and dashboard facts made in
    the test removed before its orders are."""
    from crm.finance.models import FinanceCounter, Invoice, Payment

    tenant = committed
    fact_models = [apps.get_model("analytics", m) for m in ("DailySalesFact", "MonthlySalesFact")] if (
        apps.is_installed("crm.analytics")) else []
    with django_db_blocker.unblock(), schema_context(tenant.schema_name):
        marks = {m: m.objects.order_by("-pk").values_list("pk", flat=True).first() or 0 for m in (Invoice, Payment)}
        counters = list(FinanceCounter.objects.values("kind", "year", "last"))
        facts = {m: list(m.objects.values()) for m in fact_models}
    try:
        yield tenant
    finally:
        with django_db_blocker.unblock(), schema_context(tenant.schema_name):
            Payment.objects.filter(pk__gt=marks[Payment]).delete()
            Invoice.objects.filter(pk__gt=marks[Invoice]).delete()
            FinanceCounter.objects.all().delete()
            FinanceCounter.objects.bulk_create([FinanceCounter(**row) for row in counters])
            for model, rows in facts.items():
                model.objects.all().delete()
                model.objects.bulk_create([model(**row) for row in rows])
        connections.close_all()


def _shipped(tenant, quantity: str):
    from crm.org.models import User

    with schema_context(tenant.schema_name):
        people = {k: User.objects.get(email=f"{k}@alpha.example.com") for k in ("sales", "secretary", "warehouse",
                                                                                  "finance")}
        product, _warehouse = stocked_make(on_hand="50", default=True)
        customer = customer_make(owner=people["sales"])
        return shipped_order_make(people=people, customer=customer, owner=people["sales"], product=product,
                                  quantity=quantity)


def test_invoices_issued_at_once_never_exceed_the_order(committed_finance):
    from crm.finance.models import Invoice

    tenant = committed_finance
    staff = _staff(tenant)
    order = _shipped(tenant, "2")  # 226.00: two invoices of 100.00 fit, a third does not

    def issue(_i):
        return services.invoice_issue(actor=staff["finance"], order_id=order.pk, data={"total": "100.00"})

    results = race(tenant, issue)
    made = [r for r in results if isinstance(r, Invoice)]
    refused = [r for r in results if isinstance(r, services.AmountTooLarge)]
    assert len(made) == 2 and len(refused) == THREADS - 2, results
    with schema_context(tenant.schema_name):
        assert Invoice.objects.filter(order=order).aggregate(s=Sum("total"))["s"] == Decimal("200.00")
        assert len(set(Invoice.objects.filter(order=order).values_list("number", flat=True))) == 2


def test_payments_recorded_at_once_never_exceed_what_is_owed(committed_finance):
    from crm.finance.models import Invoice, Payment
    from crm.orders.models import Order

    tenant = committed_finance
    staff = _staff(tenant)
    order = _shipped(tenant, "1")  # 113.00
    with schema_context(tenant.schema_name):
        invoice = services.invoice_issue(actor=staff["finance"], order_id=order.pk, data={})

    def pay(_i):
        return services.payment_record(actor=staff["finance"], invoice_id=invoice.pk, data={"amount": "50.00"})

    results = race(tenant, pay)
    made = [r for r in results if isinstance(r, Payment)]
    assert len(made) == 2 and all(isinstance(r, (Payment, services.AmountTooLarge)) for r in results), results
    with schema_context(tenant.schema_name):
        invoice.refresh_from_db()
        assert invoice.paid_amount == Decimal("100.00") and invoice.status == "partially_paid"
        assert Payment.objects.filter(invoice=invoice).aggregate(s=Sum("amount"))["s"] == Decimal("100.00")
        last = services.payment_record(actor=staff["finance"], invoice_id=invoice.pk, data={"amount": "13.00"})
        assert last.invoice.status == "paid" and Order.objects.get(pk=order.pk).status == "paid"
        assert Invoice.objects.get(pk=invoice.pk).version == 4
