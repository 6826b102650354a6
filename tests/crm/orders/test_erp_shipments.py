"""The ERP reports deliveries through POST /api/v1/erp/shipments: the orders app's handler
ships the order (by SKU), once per external id, and refuses what does not fit with a 422
naming the field."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.orders.models import Order, Shipment
from tests.conftest import host_of

from .factories import approve_pending, line, submitted_make

pytestmark = pytest.mark.django_db
SHIPMENTS = "/api/v1/erp/shipments"


@pytest.fixture
def erp(tenant_a, people):
    from crm.integrations.services import erp_client_create

    _client, token = erp_client_create(actor=people["admin"], name="用友 U8", scopes=["shipments"])
    api = APIClient(HTTP_HOST=host_of(tenant_a))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def test_the_erp_ships_an_order_by_sku_once_per_external_id(alpha, people, shop, erp):
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "2"), line(shop.cable, "1")]), people["secretary"])
    gps_sku = order.lines.get(product=shop.gps).sku
    message = {"external_id": "DN-2026-0001", "order_number": order.number, "carrier": "顺丰", "tracking_number": "SF1",
               "lines": [{"sku": gps_sku.lower(), "quantity": "2"}]}
    first = erp.post(SHIPMENTS, message, format="json")
    assert first.status_code == 200, str(first.json())[:2000]
    assert first.json()["result"]["status"] == "partially_shipped"
    again = erp.post(SHIPMENTS, message, format="json")
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert Shipment.objects.filter(order=order).count() == 1
    shipment = Shipment.objects.get(order=order)
    assert shipment.created_by is None and "用友 U8" in shipment.note and shipment.carrier == "顺丰"
    assert Order.objects.get(pk=order.pk).lines.get(product=shop.gps).shipped_quantity == 2


@pytest.mark.parametrize(("change", "field"), [
    ({"order_number": "SO-NOPE"}, "order_number"),
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "NO-SUCH-SKU", "quantity": "1"}]}, "lines"),
    ({"lines": [{"sku": None, "quantity": "0"}]}, "lines"),
])
def test_a_message_that_does_not_fit_is_refused_naming_the_field(alpha, people, shop, erp, change, field):
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "1")]), people["secretary"])
    message = {"external_id": f"DN-BAD-{field}-{len(str(change))}", "order_number": order.number,
               "lines": [{"sku": order.lines.get().sku, "quantity": "1"}], **change}
    refused = erp.post(SHIPMENTS, message, format="json")
    assert refused.status_code == 422, refused.json()
    assert field in str(refused.json())
    assert not Shipment.objects.filter(order=order).exists()


def test_more_than_ordered_is_refused(alpha, people, shop, erp):
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "1")]), people["secretary"])
    refused = erp.post(SHIPMENTS, {"external_id": "DN-TOO-MANY", "order_number": order.number,
                                   "lines": [{"sku": order.lines.get().sku, "quantity": "5"}]}, format="json")
    assert refused.status_code == 422 and "待发货" in str(refused.json())
