"""The rebuild against fact writers in flight, on committed data in separate connections (like
tests/crm/orders/test_concurrency.py, whose ``committed`` fixture makes and removes the data):

* an approval that has recorded its fact but not committed yet: the rebuild waits for it, then
  counts the order once (not lost with the row it deletes, not twice);
* an approval that has changed the order but not yet recorded its fact when the rebuild
  starts: the rebuild does not see the order, the fact is added after the rebuild's commit,
  and the order counts once."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connections, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.crm.catalog.factories import stocked_make
from tests.crm.orders.factories import customer_make, line, order_make
from tests.crm.orders.test_concurrency import _staff, committed  # noqa: F401 (fixture)


@pytest.fixture
def facts_cleanup(committed):  # noqa: F811
    from crm.analytics.models import DailySalesFact, FactRebuild, MonthlySalesFact

    started = timezone.now()
    yield committed
    with schema_context(committed.schema_name):
        # the rebuilds rewrote every fact of the tenant; these are derived rows, and every
        # other dashboard test starts from empty fact tables
        DailySalesFact.objects.filter(updated_at__gte=started).delete()
        MonthlySalesFact.objects.filter(updated_at__gte=started).delete()
        FactRebuild.objects.filter(started_at__gte=started).delete()


def in_thread(tenant, fn) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run():
        try:
            with schema_context(tenant.schema_name):
                out["result"] = fn()
        except BaseException as exc:  # inspected by the test
            out["error"] = exc
        finally:
            out["ended"] = time.monotonic()
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def _order(tenant, staff):
    from crm.orders import services

    with schema_context(tenant.schema_name):
        product, _warehouse = stocked_make(on_hand="50", default=True)
        customer = customer_make(owner=staff["sales"])
        order = order_make(actor=staff["sales"], customer=customer, lines=[line(product, "3")])
        return services.order_submit(actor=staff["sales"], order_id=order.pk)


def _order_facts(tenant, order):
    from crm.analytics.models import DailySalesFact, MonthlySalesFact

    with schema_context(tenant.schema_name):
        key = {"kind": "order", "owner_id": order.owner_id, "currency": "CNY"}
        day = DailySalesFact.objects.filter(day=timezone.localdate(), **key).values_list("amount", "count")
        month = MonthlySalesFact.objects.filter(month=timezone.localdate().replace(day=1), **key).values_list(
            "amount", "count")
        return list(day), list(month)


def test_a_rebuild_waits_for_an_approval_in_flight_and_counts_it_once(facts_cleanup):
    from crm.analytics.services import sales_facts_rebuild
    from crm.approvals.selectors import approval_request_pending_for
    from crm.approvals.services import approval_approve

    tenant = facts_cleanup
    staff = _staff(tenant)
    order = _order(tenant, staff)
    recorded, go = threading.Event(), threading.Event()

    def approve():
        with transaction.atomic():
            request = approval_request_pending_for(doc_type="order", object_id=order.pk)
            approval_approve(actor=staff["secretary"], request_id=request.pk, comment="同意")
            recorded.set()  # the fact is written, not committed
            assert go.wait(timeout=30)
        return time.monotonic()

    approver, approved = in_thread(tenant, approve)
    assert recorded.wait(timeout=30), approved
    rebuilder, rebuilt = in_thread(tenant, sales_facts_rebuild)
    time.sleep(0.5)
    assert "ended" not in rebuilt  # waiting for the approval's commit
    committed_at = time.monotonic()
    go.set()
    approver.join(timeout=60)
    rebuilder.join(timeout=60)
    assert "error" not in approved and "error" not in rebuilt, (approved, rebuilt)
    assert rebuilt["ended"] >= committed_at
    with schema_context(tenant.schema_name):
        order.refresh_from_db()
    assert order.status == "approved"
    assert _order_facts(tenant, order) == ([(order.total, 1)], [(order.total, 1)])


def test_a_fact_recorded_after_a_rebuild_began_is_added_after_it(facts_cleanup):
    from crm.analytics.services import sales_fact_record, sales_facts_rebuild
    from crm.orders.models import Order

    tenant = facts_cleanup
    staff = _staff(tenant)
    order = _order(tenant, staff)
    changed, go = threading.Event(), threading.Event()

    def approve_in_two_steps():
        # what order_approval_approved does, with a pause between the order and its fact
        with transaction.atomic():
            now = timezone.now()
            Order.objects.filter(pk=order.pk).update(status="approved", approved_at=now)
            changed.set()
            assert go.wait(timeout=30)
            sales_fact_record(kind="order", day=now, owner_id=order.owner_id, department_id=order.department_id,
                              region_id=order.region_id, currency=order.currency, amount=order.total)

    writer, wrote = in_thread(tenant, approve_in_two_steps)
    assert changed.wait(timeout=30), wrote
    rebuilder, rebuilt = in_thread(tenant, sales_facts_rebuild)
    rebuilder.join(timeout=60)  # not blocked: the writer holds no fact yet
    assert "error" not in rebuilt, rebuilt
    assert _order_facts(tenant, order) == ([], [])  # the uncommitted order is not seen
    go.set()
    writer.join(timeout=60)
    assert "error" not in wrote, wrote
    assert _order_facts(tenant, order) == ([(Decimal(order.total), 1)], [(Decimal(order.total), 1)])
