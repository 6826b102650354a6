"""Orders follow a customer merge (and its undo), and show on the customer's 360° page
within the viewer's scope."""

from __future__ import annotations

import pytest

from crm.audit.models import AuditEntry
from crm.orders.models import Order

from .factories import customer_make, order_make

pytestmark = pytest.mark.django_db


def test_a_merge_moves_the_duplicates_orders_and_the_undo_moves_them_back(alpha, people, shop):
    from crm.customers import dedup

    survivor, duplicate = shop.customer, customer_make(owner=people["sales"])
    order = order_make(actor=people["sales"], customer=duplicate, products=[shop.gps])
    kept = order_make(actor=people["sales"], customer=survivor, products=[shop.cable])
    record = dedup.customer_merge(actor=people["admin"], survivor_id=survivor.pk, merged_id=duplicate.pk)
    assert Order.objects.get(pk=order.pk).customer_id == survivor.pk
    assert Order.objects.get(pk=order.pk).version == order.version + 1
    assert record.moved["orders"] == [order.pk]
    assert AuditEntry.objects.filter(action="move", object_id=str(order.pk), content_type__model="order").exists()
    dedup.customer_merge_undo(actor=people["admin"], merge_id=record.pk)
    assert Order.objects.get(pk=order.pk).customer_id == duplicate.pk
    assert Order.objects.get(pk=kept.pk).customer_id == survivor.pk


def test_the_customer_page_lists_its_orders_for_those_who_may_see_them(alpha, people, shop, web_as, tenant_a):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    html = web_as(tenant_a, people["sales"]).get(f"/customers/{shop.customer.pk}/").content.decode()
    assert 'data-testid="customer-orders"' in html and order.number in html
    assert f'href="/orders/{order.pk}/"' in html
    bare = web_as(tenant_a, people["sales2"]).get(f"/customers/{shop.customer2.pk}/").content.decode()
    assert 'data-testid="customer-orders"' not in bare  # no orders: no panel
    assert web_as(tenant_a, people["sales2"]).get(f"/customers/{shop.customer.pk}/").status_code == 404
