"""An accepted quote becomes a draft order with its lines and prices, once; the quote is
marked converted with the order's number in the same transaction."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.orders import services
from crm.orders.models import Order
from crm.sales import services as sales
from crm.sales.models import Quote

pytestmark = pytest.mark.django_db


def _quote(people, shop, *, accepted=True):
    quote = sales.quote_create(actor=people["sales"], data={
        "customer_id": shop.customer.pk, "valid_until": timezone.localdate() + datetime.timedelta(days=30)},
        lines=[{"product_id": shop.gps.pk, "quantity": "3", "unit_price": "95.50", "discount_percent": "8"}])
    if accepted:
        sales.quote_send(actor=people["sales"], quote_id=quote.pk)
        sales.quote_accept(actor=people["sales"], quote_id=quote.pk)
    return Quote.objects.get(pk=quote.pk)


def test_an_accepted_quote_becomes_a_draft_order_once(alpha, people, shop):
    quote = _quote(people, shop)
    order = services.order_create_from_quote(actor=people["sales"], quote_id=quote.pk)
    line = order.lines.get()
    assert order.status == "draft" and order.customer_id == shop.customer.pk and quote.number in order.notes
    assert (line.product_id, line.quantity, line.unit_price, line.discount_pct) == (
        shop.gps.pk, Decimal("3"), Decimal("95.50"), Decimal("8"))
    quote.refresh_from_db()
    assert quote.status == "converted" and quote.order_ref == order.number
    again = services.order_create_from_quote(actor=people["sales"], quote_id=quote.pk)
    assert again.pk == order.pk and Order.objects.filter(customer=shop.customer).count() == 1


def test_a_quote_not_accepted_or_not_visible_is_refused_and_nothing_is_written(alpha, people, shop, api_for,
                                                                                tenant_a):
    draft = _quote(people, shop, accepted=False)
    before = Order.objects.count()
    refused = api_for(tenant_a, people["sales"]).post("/api/v1/orders/from-quote", {"quote_id": draft.pk},
                                                     format="json")
    assert refused.status_code == 409 and refused.json()["current_status"] == "draft"
    assert Order.objects.count() == before and Quote.objects.get(pk=draft.pk).status == "draft"
    accepted = _quote(people, shop)
    stranger = api_for(tenant_a, people["sales2"]).post("/api/v1/orders/from-quote", {"quote_id": accepted.pk},
                                                       format="json")
    assert stranger.status_code == 404 and Order.objects.count() == before
    made = api_for(tenant_a, people["sales"]).post("/api/v1/orders/from-quote", {"quote_id": accepted.pk},
                                                  format="json")
    assert made.status_code == 201 and made.json()["status"] == "draft"


def test_the_quote_page_converts_through_a_button(alpha, people, shop, web_as, tenant_a):
    quote = _quote(people, shop)
    web = web_as(tenant_a, people["sales"])
    page = web.get(f"/sales/quotes/{quote.pk}/").content.decode()
    assert 'data-testid="quote-convert"' in page
    response = web.post("/orders/from-quote/", {"quote_id": quote.pk})
    order = Order.objects.get(customer=shop.customer)
    assert response.status_code == 302 and response["Location"] == f"/orders/{order.pk}/"
