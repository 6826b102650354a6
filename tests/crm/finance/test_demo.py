"""The standard mode's demo receivables: invoiced orders, partly paid and overdue ones in
several aging columns and a paid order, made through the real services, once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_demo_receivables_fill_the_pages_once(tenant_a, in_tenant):
    from crm.catalog.services import catalog_load_demo
    from crm.finance import selectors
    from crm.finance.models import Invoice, Payment
    from crm.finance.services import finance_load_demo
    from crm.orders.models import Order
    from crm.orders.services import orders_load_demo
    from crm.org.models import User
    from tenants.demo import demo_customers_ensure

    demo_customers_ensure(tenant_a)
    with in_tenant(tenant_a):
        catalog_load_demo()
        orders_load_demo()
        made = finance_load_demo()
        assert made >= 5
        statuses = set(Invoice.objects.values_list("status", flat=True))
        assert {"open", "partially_paid", "paid"} <= statuses
        assert Order.objects.filter(status="paid").exists() and Order.objects.filter(status="invoiced").exists()
        assert Payment.objects.exists()
        finance = User.objects.get(email="finance@alpha.example.com")
        report = selectors.aging_report(actor=finance, params={})
        columns = {k for k, v in report.totals.amounts.items() if v}
        assert {"not_due", "d31_60", "d90_plus"} <= columns and report.totals.overdue > 0
        assert finance_load_demo() == 0
