"""The standard mode's demo orders: one of each interesting state, made through the real
services (approvals, stock, shipments), once."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_demo_orders_cover_the_lifecycle_once(tenant_a, in_tenant):
    from crm.catalog.services import catalog_load_demo
    from crm.orders.models import Order
    from crm.orders.selectors import order_pending_approval
    from crm.orders.services import orders_load_demo
    from tenants.demo import demo_customers_ensure

    demo_customers_ensure(tenant_a)
    with in_tenant(tenant_a):
        catalog_load_demo()
        assert orders_load_demo() == 8
        statuses = Counter(Order.objects.values_list("status", flat=True))
        assert statuses == {"draft": 2, "in_approval": 2, "approved": 1, "partially_shipped": 1, "shipped": 1,
                            "cancelled": 1}
        rejected = Order.objects.exclude(rejection_note="").get()
        assert rejected.status == "draft" and "折扣" in rejected.rejection_note
        waiting = [order_pending_approval(order=o) for o in Order.objects.filter(status="in_approval")]
        assert sorted(r.current_position for r in waiting) == [1, 2]  # the secretary's, finance's
        assert Order.objects.get(status="approved").stock_state == "reserved"
        assert orders_load_demo() == 0
