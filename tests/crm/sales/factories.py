"""Sales test data, made through the services (as users make it), never by ORM chains.
Call inside the tenant's schema (``in_tenant``)."""

from __future__ import annotations

import datetime
import itertools
import uuid

from django.utils import timezone

from crm.catalog import services as catalog_services
from crm.customers.services import contact_create, customer_create
from crm.sales import services

_serial = itertools.count(1)
_run = uuid.uuid4().hex[:4].upper()  # committed tests (threads) never meet an earlier run's names


def today() -> datetime.date:
    return timezone.localdate()


def customer_make(*, actor, name: str | None = None, **data):
    n = next(_serial)
    return customer_create(actor=actor, data={"name": name or f"销售测试客户{_run}{n}号有限公司", **data},
                           duplicate_override=True)


def contact_make(*, actor, customer, name: str | None = None):
    return contact_create(actor=actor, customer_id=customer.pk, data={"name": name or f"联系人{next(_serial)}"})


def product_make(**data):
    n = next(_serial)
    values = {"sku": f"S{_run}-{n:05d}", "name": f"报价测试产品{n}号", "unit": "台", "list_price": "100.00", **data}
    return catalog_services.product_create(actor=None, data=values)


def price_list_make(*, items=(), **data):
    price_list = catalog_services.price_list_create(actor=None, data={"name": f"测试价格表{next(_serial)}", **data})
    for product, price, *minimum in items:
        catalog_services.price_list_item_add(actor=None, price_list_id=price_list.pk, product_id=product.pk,
                                             unit_price=price, min_quantity=minimum[0] if minimum else 1)
    return price_list


def opportunity_make(*, actor, customer, **data):
    values = {"name": f"测试商机{next(_serial)}", "customer_id": customer.pk, "amount": "100000.00",
              "expected_close_date": today() + datetime.timedelta(days=30), **data}
    return services.opportunity_create(actor=actor, data=values)


def quote_make(*, actor, customer, lines=(), **data):
    values = {"customer_id": customer.pk, "valid_until": today() + datetime.timedelta(days=30), **data}
    return services.quote_create(actor=actor, data=values, lines=list(lines))


def at_local(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=timezone.get_current_timezone())


FORECAST_YEAR = 2031  # far from today: nothing else in the test database falls into it


def forecast_dataset(*, sales, sales2) -> dict:
    """A known set of opportunities in FORECAST_YEAR for the forecast tests (see test_forecast)."""
    from crm.sales.models import Opportunity

    y = FORECAST_YEAR
    mine, theirs = customer_make(actor=sales), customer_make(actor=sales2)
    made = {
        "A": opportunity_make(actor=sales, customer=mine, amount="100000.00", stage="qualify",
                              expected_close_date=datetime.date(y, 1, 15)),
        "B": opportunity_make(actor=sales, customer=mine, amount="33333.33", stage="quote",
                              expected_close_date=datetime.date(y, 1, 31)),
        "C": opportunity_make(actor=sales, customer=mine, amount="50000.00", stage="negotiate", probability=55,
                              expected_close_date=datetime.date(y, 4, 1)),
        "D": opportunity_make(actor=sales, customer=mine, amount="80000.00", stage="negotiate",
                              expected_close_date=datetime.date(y, 2, 1)),
        "E": opportunity_make(actor=sales, customer=mine, amount="20000.00", stage="negotiate",
                              expected_close_date=datetime.date(y, 2, 1)),
        "F": opportunity_make(actor=sales, customer=mine, amount="99999.00", currency="USD", stage="quote",
                              expected_close_date=datetime.date(y, 2, 1)),
        "G": opportunity_make(actor=sales, customer=mine, amount="70000.00", stage="quote",
                              expected_close_date=datetime.date(y - 1, 12, 31)),
        "H": opportunity_make(actor=sales2, customer=theirs, amount="200000.00", stage="quote",
                              expected_close_date=datetime.date(y, 2, 10)),
        "I": opportunity_make(actor=sales2, customer=theirs, amount="10000.00", stage="negotiate",
                              expected_close_date=datetime.date(y, 2, 10)),
    }
    services.opportunity_close_won(actor=sales, opportunity_id=made["D"].pk)
    services.opportunity_close_lost(actor=sales, opportunity_id=made["E"].pk, lost_reason="预算取消")
    services.opportunity_close_won(actor=sales2, opportunity_id=made["I"].pk)
    # won late on the last day of February and just after midnight on 1 March, Beijing time
    Opportunity.objects.filter(pk=made["D"].pk).update(won_at=at_local(datetime.date(y, 2, 28), 23, 30))
    Opportunity.objects.filter(pk=made["I"].pk).update(won_at=at_local(datetime.date(y, 3, 1), 0, 30))
    return made
