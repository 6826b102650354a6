"""Quote numbers under real concurrency: N threads, each with its own database connection,
create quotes at once; every quote gets its own number, the numbers are consecutive, and a
create that rolls back gives its number back.

Like tests/crm/catalog/test_concurrency.py these tests commit what they need (the threads'
connections would not see the usual per-test transaction; ``transactional_db`` would flush
the session's tenants) and remove it afterwards, counter included."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django_tenants.utils import schema_context

from crm.audit.models import AuditEntry
from crm.customers.models import Customer
from crm.org.models import User
from crm.sales import services
from crm.sales.models import Quote, QuoteCounter

from .factories import customer_make, today

THREADS = 8


@pytest.fixture
def committed(test_database, django_db_blocker, request):
    """A committed customer of alpha's salesperson; every quote made for it, its audit rows,
    the customer and the year's counter as it was are put back afterwards."""
    tenant = request.getfixturevalue("tenant_env")["alpha"]
    year = today().year
    with django_db_blocker.unblock():
        with schema_context(tenant.schema_name):
            before = QuoteCounter.objects.filter(year=year).values_list("last", flat=True).first()
            sales = User.objects.get(email="sales@alpha.example.com")
            customer = customer_make(actor=sales)
        try:
            yield tenant, sales.pk, customer.pk
        finally:
            with schema_context(tenant.schema_name):
                quote_ids = [str(pk) for pk in Quote.objects.filter(customer_id=customer.pk).values_list("pk", flat=True)]
                Quote.objects.filter(customer_id=customer.pk).delete()
                AuditEntry.objects.filter(content_type__app_label="sales", content_type__model="quote",
                                          object_id__in=quote_ids).delete()
                AuditEntry.objects.filter(content_type__app_label="customers", content_type__model="customer",
                                          object_id=str(customer.pk)).delete()
                Customer.objects.filter(pk=customer.pk).delete()
                if before is None:
                    QuoteCounter.objects.filter(year=year).delete()
                else:
                    QuoteCounter.objects.filter(year=year).update(last=before)
            connections.close_all()


def race(tenant, work, n: int = THREADS) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            with schema_context(tenant.schema_name):
                barrier.wait(timeout=30)
                results[i] = work(i)
        except ValidationError as exc:
            results[i] = exc
        except BaseException as exc:  # reported below
            results[i] = RuntimeError(f"thread {i}: {type(exc).__name__}: {exc}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,), name=f"quote-race-{i}") for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (lock wait?)"
    crashes = [r for r in results if isinstance(r, RuntimeError)]
    assert not crashes, crashes
    return results


def _create(sales_id: int, customer_id: int):
    actor = User.objects.get(pk=sales_id)
    return services.quote_create(actor=actor, data={"customer_id": customer_id, "valid_until": today()}).number


def test_concurrent_creates_get_distinct_consecutive_numbers(committed):
    tenant, sales_id, customer_id = committed
    numbers = race(tenant, lambda i: _create(sales_id, customer_id))
    assert len(set(numbers)) == THREADS
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + THREADS))
    with schema_context(tenant.schema_name):
        assert Quote.objects.filter(customer_id=customer_id).count() == THREADS


def test_a_rolled_back_create_gives_its_number_back(committed):
    tenant, sales_id, customer_id = committed

    def work(i: int):
        if i % 2:
            with transaction.atomic():
                _create(sales_id, customer_id)
                raise ValidationError("rolled back on purpose")
        return _create(sales_id, customer_id)

    results = race(tenant, work)
    numbers = [r for r in results if isinstance(r, str)]
    assert len(numbers) == THREADS // 2
    serials = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + len(serials)))  # no gaps
