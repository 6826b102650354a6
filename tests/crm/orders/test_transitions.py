"""The order lifecycle with the real approval engine and the tenant's default policy
(standard mode: the business secretary approves; finance re-checks at or above 100,000.00;
the credit-override step when the customer is over its credit limit), stock reservation and
release, cancellation, shipments, and every transition the table refuses."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crm.approvals.models import ApprovalRequest, ApprovalStep
from crm.approvals.selectors import approval_request_pending_for
from crm.approvals.services import ApprovalConflict, approval_approve, approval_reject
from crm.catalog import services as catalog
from crm.catalog.models import StockLevel
from crm.catalog.selectors import stock_held_by_reference
from crm.orders import services
from crm.orders.enums import ALLOWED_TRANSITIONS, OrderStatus
from crm.orders.models import Order, OrderEvent
from crm.orders.selectors import order_timeline

from .factories import approve_pending, customer_make, line, order_make, submitted_make

pytestmark = pytest.mark.django_db


def events(order) -> list[str]:
    return list(OrderEvent.objects.filter(order=order).order_by("id").values_list("kind", flat=True))


def reserved(product, warehouse) -> Decimal:
    return StockLevel.objects.get(product=product, warehouse=warehouse).reserved


def steps_of(order) -> list[tuple[str, str]]:
    request = ApprovalRequest.objects.filter(doc_type="order", object_id=order.pk).order_by("-id").first()
    return list(ApprovalStep.objects.filter(request=request).order_by("position").values_list("name_zh", "status"))


# -- submit and approve ------------------------------------------------------------------------------
def test_small_order_secretary_approves_and_stock_is_reserved(shop, people):
    sales, secretary = people["sales"], people["secretary"]
    order = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "4")])
    assert order.status == OrderStatus.IN_APPROVAL and order.submitted_by == sales and order.submitted_at
    assert steps_of(order) == [("商务秘书审核", "active"), ("财务复核", "skipped"), ("信用超限审批", "skipped")]
    assert reserved(shop.gps, shop.warehouse) == 0
    again = services.order_submit(actor=sales, order_id=order.pk)  # a retry changes nothing
    assert again.status == OrderStatus.IN_APPROVAL
    assert ApprovalRequest.objects.filter(doc_type="order", object_id=order.pk).count() == 1

    with pytest.raises(PermissionDenied):  # the submitter never approves their own order
        approve_pending(order, sales)
    with pytest.raises(PermissionDenied):  # not on the step
        approve_pending(order, people["warehouse"])
    approve_pending(order, secretary)
    assert order.status == OrderStatus.APPROVED and order.approved_at and order.stock_state == "reserved"
    assert reserved(shop.gps, shop.warehouse) == 4
    assert stock_held_by_reference(reference_type="order", reference_id=order.pk) == {
        (shop.warehouse.pk, shop.gps.pk): Decimal("4")}
    assert order.lines.get().warehouse_id == shop.warehouse.pk  # fixed at reservation
    assert events(order) == ["created", "submitted", "approval_started", "approved", "stock_reserved"]
    timeline = order_timeline(order=order)
    step = next(e for e in timeline if e.kind == "approval_step")
    assert step.actor == secretary.full_name and step.note == "同意" and "商务秘书审核" in step.label


def test_the_approval_step_writes_the_order_once_in_few_statements(shop, people, django_assert_max_num_queries):
    # the secretary's decision: the engine, the order's move, its stock reservation (the hot
    # path of issue 4's benchmark; 32 statements before it was trimmed)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from crm.integrations.services import webhook_is_subscribed

    order = submitted_make(actor=people["sales"], customer=shop.customer,
                           lines=[line(shop.gps, "1"), line(shop.cable, "2")])
    request = approval_request_pending_for(doc_type="order", object_id=order.pk)
    secretary = get_user_model().objects.get(pk=people["secretary"].pk)  # as a request loads it
    webhook_is_subscribed(event_type="order.approved")  # the subscription answer cached
    with CaptureQueriesContext(connection) as ctx, django_assert_max_num_queries(23):
        approval_approve(actor=secretary, request_id=request.pk, comment="同意", step=1)
    order_writes = [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "orders_order"')]
    assert len(order_writes) == 1 and "stock_state" in order_writes[0]
    order.refresh_from_db()
    assert (order.status, order.stock_state) == (OrderStatus.APPROVED, "reserved")
    assert events(order)[-2:] == ["approved", "stock_reserved"]


def test_big_order_goes_to_finance_after_the_secretary(shop, people):
    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.radio, "2")])
    assert order.total == Decimal("113000.00")
    assert steps_of(order) == [("商务秘书审核", "active"), ("财务复核", "waiting"), ("信用超限审批", "skipped")]
    approve_pending(order, people["secretary"])
    assert order.status == OrderStatus.IN_APPROVAL
    request = approval_request_pending_for(doc_type="order", object_id=order.pk)
    with pytest.raises(PermissionDenied):  # the secretary is not on the finance step
        approval_approve(actor=people["secretary"], request_id=request.pk, step=2)
    approve_pending(order, people["finance"])
    assert order.status == OrderStatus.APPROVED and reserved(shop.radio, shop.warehouse) == 2
    kinds = [e.kind for e in order_timeline(order=order)]
    assert kinds.count("approval_step") == 2


def test_just_below_the_threshold_skips_finance(shop, people):
    order = submitted_make(actor=people["sales"], customer=shop.customer,
                           lines=[line(shop.radio, "1", unit_price="88495.57")])  # 88,495.57 × 1.13 = 99,999.99
    assert order.total == Decimal("99999.99")
    assert [s for _n, s in steps_of(order)] == ["active", "skipped", "skipped"]


def test_no_applicable_step_approves_at_once(shop, people):
    from crm.approvals.services import approval_policy_default_seed

    policy = approval_policy_default_seed(doc_type="order")
    policy.active = False
    policy.save(update_fields=["active"])
    order = submitted_make(actor=people["sales"], customer=shop.customer, lines=[line(shop.gps, "2")])
    assert order.status == OrderStatus.APPROVED and order.stock_state == "reserved"
    assert events(order) == ["created", "submitted", "approved", "stock_reserved"]


def test_rejection_returns_an_editable_draft_with_the_comment(shop, people):
    sales, secretary = people["sales"], people["secretary"]
    order = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "4")])
    request = approval_request_pending_for(doc_type="order", object_id=order.pk)
    with pytest.raises(ValidationError):  # a rejection needs a reason
        approval_reject(actor=secretary, request_id=request.pk, comment="")
    approval_reject(actor=secretary, request_id=request.pk, comment="价格低于底价，请重新报价")
    order.refresh_from_db()
    assert order.status == OrderStatus.DRAFT and order.rejection_note == "价格低于底价，请重新报价"
    assert order.rejected_at and reserved(shop.gps, shop.warehouse) == 0
    services.order_update(actor=sales, order_id=order.pk, data={"lines": [line(shop.gps, "4", unit_price="95.00")]})
    order = services.order_submit(actor=sales, order_id=order.pk)
    assert order.status == OrderStatus.IN_APPROVAL and order.rejection_note == ""
    assert ApprovalRequest.objects.filter(doc_type="order", object_id=order.pk).count() == 2
    rejected = next(e for e in order_timeline(order=order) if e.kind == "approval_step")
    assert "驳回" in rejected.label and rejected.note == "价格低于底价，请重新报价"


def test_recall_before_any_decision_then_not_after(shop, people):
    sales = people["sales"]
    order = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.radio, "2")])
    with pytest.raises(PermissionDenied):  # only the submitter recalls
        services.order_recall(actor=people["manager"], order_id=order.pk)
    order = services.order_recall(actor=sales, order_id=order.pk)
    assert order.status == OrderStatus.DRAFT and events(order)[-1] == "recalled"
    assert services.order_recall(actor=sales, order_id=order.pk).status == OrderStatus.DRAFT  # again: nothing
    order = services.order_submit(actor=sales, order_id=order.pk)
    approve_pending(order, people["secretary"])  # the secretary decided: too late to recall
    with pytest.raises(ApprovalConflict):
        services.order_recall(actor=sales, order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.IN_APPROVAL


def test_submitting_needs_the_owner_or_an_order_manager(shop, people):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    with pytest.raises(PermissionDenied):
        services.order_submit(actor=people["warehouse"], order_id=order.pk)
    with pytest.raises(services.NotInScope):
        services.order_submit(actor=people["sales2"], order_id=order.pk)
    with pytest.raises(services.StaleVersion):
        services.order_submit(actor=people["sales"], order_id=order.pk, version=7)


def test_new_customer_and_discount_facts(shop, people):
    from crm.orders.approval import order_facts

    first = order_make(actor=people["sales"], customer=shop.customer,
                       lines=[line(shop.gps, "1", discount_pct="12.5"), line(shop.cable, "1", discount_pct="3")])
    facts = order_facts(first.pk)
    assert facts.customer_is_new and facts.discount_pct == Decimal("12.5") and facts.amount == first.total
    assert (facts.department_id, facts.region_id) == (people["sales"].department_id, people["sales"].region_id)
    approve_pending(services.order_submit(actor=people["sales"], order_id=first.pk), people["secretary"])
    second = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    assert not order_facts(second.pk).customer_is_new


# -- credit control ------------------------------------------------------------------------------------
def test_credit_over_limit_adds_the_override_step(shop, people):
    sales, finance = people["sales"], people["finance"]
    with pytest.raises(PermissionDenied):
        services.customer_credit_set(actor=sales, customer_id=shop.customer.pk, limit="1000.00")
    services.customer_credit_set(actor=finance, customer_id=shop.customer.pk, limit="1000.00")
    within = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "5")])  # 565.00
    assert [s for _n, s in steps_of(within)] == ["active", "skipped", "skipped"]
    approve_pending(within, people["secretary"])  # now 565.00 is open (approved, unpaid)
    over = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "4")])  # 565 + 452 > 1000
    assert steps_of(over) == [("商务秘书审核", "active"), ("财务复核", "skipped"), ("信用超限审批", "waiting")]
    request = approval_request_pending_for(doc_type="order", object_id=over.pk)
    assert request.facts["credit_over_limit"] is True
    approve_pending(over, people["secretary"])
    assert over.status == OrderStatus.IN_APPROVAL
    approve_pending(over, finance)
    assert over.status == OrderStatus.APPROVED
    # raising the limit: the next order is within it again
    services.customer_credit_set(actor=finance, customer_id=shop.customer.pk, limit="100000.00", version=1)
    third = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "1")])
    assert steps_of(third)[2][1] == "skipped"
    with pytest.raises(services.StaleVersion):
        services.customer_credit_set(actor=finance, customer_id=shop.customer.pk, limit="1.00", version=1)


def test_open_receivables_count_approved_unpaid_orders_only(shop, people):
    from crm.orders.selectors import open_receivables_for_customer

    sales = people["sales"]
    assert open_receivables_for_customer(customer_id=shop.customer.pk) == 0
    draft = order_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "1")])
    pending = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "1")])
    approved = approve_pending(submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "2")]),
                               people["secretary"])
    assert draft.status == "draft" and pending.status == "in_approval"
    assert open_receivables_for_customer(customer_id=shop.customer.pk) == approved.total == Decimal("226.00")
    services.order_cancel(actor=sales, order_id=approved.pk, reason="客户取消")
    assert open_receivables_for_customer(customer_id=shop.customer.pk) == 0


# -- stock short at approval ------------------------------------------------------------------------------
def test_short_stock_approves_flags_and_the_reservation_is_retried(shop, people):
    sales, keeper = people["sales"], people["warehouse"]
    order = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.cable, "12"), line(shop.gps, "1")])
    approve_pending(order, people["secretary"])
    assert order.status == OrderStatus.APPROVED and order.stock_state == "short"
    assert shop.cable.name in order.stock_note and "可用 10" in order.stock_note and "需要 12" in order.stock_note
    assert reserved(shop.cable, shop.warehouse) == 0 and reserved(shop.gps, shop.warehouse) == 0  # all or nothing
    assert events(order)[-1] == "stock_short"
    with pytest.raises(services.NotInScope):
        services.order_stock_reserve(actor=people["sales2"], order_id=order.pk)
    with pytest.raises(PermissionDenied):  # sees every order, manages none
        services.order_stock_reserve(actor=people["exec"], order_id=order.pk)
    order = services.order_stock_reserve(actor=keeper, order_id=order.pk)
    assert order.stock_state == "short"  # still short: nothing changed
    catalog.stock_receive(actor=keeper, warehouse_id=shop.warehouse.pk, product_id=shop.cable.pk, quantity="5")
    order = services.order_stock_reserve(actor=keeper, order_id=order.pk)
    assert order.stock_state == "reserved" and order.stock_note == ""
    assert reserved(shop.cable, shop.warehouse) == 12 and reserved(shop.gps, shop.warehouse) == 1
    assert services.order_stock_reserve(actor=sales, order_id=order.pk).stock_state == "reserved"  # again: no-op
    assert reserved(shop.cable, shop.warehouse) == 12


def test_reserving_is_only_for_approved_orders(shop, people):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    with pytest.raises(services.TransitionRefused) as refused:
        services.order_stock_reserve(actor=people["warehouse"], order_id=order.pk)
    assert "草稿" in str(refused.value)


# -- cancel ------------------------------------------------------------------------------------------------
def test_cancel_releases_the_reservation(shop, people):
    sales = people["sales"]
    order = approve_pending(submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.gps, "6")]),
                            people["secretary"])
    assert reserved(shop.gps, shop.warehouse) == 6
    order = services.order_cancel(actor=sales, order_id=order.pk, reason="客户取消采购")
    assert (order.status, order.cancel_reason, order.stock_state) == ("cancelled", "客户取消采购", "released")
    assert reserved(shop.gps, shop.warehouse) == 0
    assert events(order)[-2:] == ["cancelled", "stock_released"]
    assert services.order_cancel(actor=sales, order_id=order.pk).status == "cancelled"  # again: nothing
    assert events(order)[-2:] == ["cancelled", "stock_released"]


def test_cancel_draft_and_cancel_in_approval(shop, people):
    sales = people["sales"]
    draft = order_make(actor=sales, customer=shop.customer, products=[shop.gps])
    assert services.order_cancel(actor=sales, order_id=draft.pk).status == "cancelled"
    pending = submitted_make(actor=sales, customer=shop.customer, products=[shop.gps])
    with pytest.raises(services.TransitionRefused):  # the manager did not submit it
        services.order_cancel(actor=people["manager"], order_id=pending.pk)
    cancelled = services.order_cancel(actor=sales, order_id=pending.pk, reason="不要了")
    assert cancelled.status == "cancelled" and events(cancelled)[-2:] == ["recalled", "cancelled"]
    assert approval_request_pending_for(doc_type="order", object_id=pending.pk) is None
    decided = submitted_make(actor=sales, customer=shop.customer, lines=[line(shop.radio, "2")])
    approve_pending(decided, people["secretary"])  # finance still to decide; the secretary decided
    with pytest.raises(ApprovalConflict):
        services.order_cancel(actor=sales, order_id=decided.pk)
    decided.refresh_from_db()
    assert decided.status == "in_approval"


# -- shipments --------------------------------------------------------------------------------------------
def test_partial_then_full_shipment(shop, people):
    keeper = people["warehouse"]
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "5"), line(shop.cable, "2")]), people["secretary"])
    gps_line, cable_line = order.lines.order_by("position")
    with pytest.raises(PermissionDenied):
        services.shipment_create(actor=people["sales"], order_id=order.pk, data={})
    first = services.shipment_create(actor=keeper, order_id=order.pk, data={
        "carrier": "顺丰", "tracking_number": "SF1234567890", "lines": [{"order_line_id": gps_line.pk, "quantity": "3"}]})
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED and first.number == f"{order.number}-01"
    level = StockLevel.objects.get(product=shop.gps, warehouse=shop.warehouse)
    assert (level.on_hand, level.reserved) == (Decimal("97"), Decimal("2"))
    with pytest.raises(ValidationError) as too_many:
        services.shipment_create(actor=keeper, order_id=order.pk,
                                 data={"lines": [{"order_line_id": gps_line.pk, "quantity": "3"}]})
    assert "最多还能发 2" in str(too_many.value)
    with pytest.raises(ValidationError):
        services.shipment_create(actor=keeper, order_id=order.pk,
                                 data={"lines": [{"order_line_id": gps_line.pk, "quantity": "0"}]})
    second = services.shipment_create(actor=keeper, order_id=order.pk, data={"carrier": "德邦"})  # the rest
    order.refresh_from_db()
    assert order.status == OrderStatus.SHIPPED and order.shipped_at and order.stock_state == "consumed"
    assert second.number.endswith("-02") and {(x.order_line_id, x.quantity) for x in second.lines.all()} == {
        (gps_line.pk, Decimal("2")), (cable_line.pk, Decimal("2"))}
    assert StockLevel.objects.get(product=shop.gps, warehouse=shop.warehouse).reserved == 0
    assert StockLevel.objects.get(product=shop.cable, warehouse=shop.warehouse).on_hand == 8
    assert [e.kind for e in order_timeline(order=order)].count("shipped") == 2
    with pytest.raises(services.TransitionRefused):  # nothing left to ship
        services.shipment_create(actor=keeper, order_id=order.pk, data={})


def test_shipment_external_id_is_idempotent(shop, people):
    keeper = people["warehouse"]
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "5")]), people["secretary"])
    gps_line = order.lines.get()
    data = {"external_id": "ERP-DN-0001", "lines": [{"order_line_id": gps_line.pk, "quantity": "2"}]}
    first = services.shipment_create(actor=keeper, order_id=order.pk, data=data)
    again = services.shipment_create(actor=keeper, order_id=order.pk, data=data)
    assert first.pk == again.pk
    gps_line.refresh_from_db()
    assert gps_line.shipped_quantity == 2
    other = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "1")]), people["secretary"])
    with pytest.raises(ValidationError) as used:
        services.shipment_create(actor=keeper, order_id=other.pk, data={"external_id": "ERP-DN-0001"})
    assert "external_id" in used.value.message_dict


def test_shipping_without_a_reservation_takes_free_stock_and_never_goes_negative(shop, people):
    keeper = people["warehouse"]
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.cable, "12")]), people["secretary"])
    assert order.stock_state == "short"
    with pytest.raises(services.StockShort) as short:
        services.shipment_create(actor=keeper, order_id=order.pk, data={})
    assert "可用库存不足" in str(short.value)
    cable_line = order.lines.get()
    services.shipment_create(actor=keeper, order_id=order.pk,
                             data={"lines": [{"order_line_id": cable_line.pk, "quantity": "10"}]})
    level = StockLevel.objects.get(product=shop.cable, warehouse=shop.warehouse)
    assert (level.on_hand, level.reserved) == (0, 0)
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_SHIPPED


def test_shipping_a_draft_is_refused_naming_both_states(shop, people):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    with pytest.raises(services.TransitionRefused) as refused:
        services.shipment_create(actor=people["warehouse"], order_id=order.pk, data={})
    assert "草稿" in str(refused.value) and "已发货" in str(refused.value)
    assert (refused.value.current, refused.value.wanted) == ("draft", "shipped")


def test_shipped_order_cannot_be_cancelled_and_runs_to_closed(shop, people):
    keeper, finance = people["warehouse"], people["finance"]
    order = approve_pending(submitted_make(actor=people["sales"], customer=shop.customer,
                                           lines=[line(shop.gps, "1")]), people["secretary"])
    services.shipment_create(actor=keeper, order_id=order.pk, data={})
    with pytest.raises(services.TransitionRefused) as refused:
        services.order_cancel(actor=people["sales"], order_id=order.pk)
    assert "已发货" in str(refused.value) and "已取消" in str(refused.value)
    with pytest.raises(PermissionDenied):
        services.order_invoiced_mark(actor=people["sales"], order_id=order.pk)
    with pytest.raises(services.TransitionRefused):  # not invoiced yet
        services.order_paid_mark(actor=finance, order_id=order.pk)
    assert services.order_invoiced_mark(actor=finance, order_id=order.pk).status == "invoiced"
    assert services.order_paid_mark(actor=finance, order_id=order.pk).status == "paid"
    assert services.order_close(actor=finance, order_id=order.pk).status == "closed"
    assert services.order_close(actor=finance, order_id=order.pk).status == "closed"
    assert events(order)[-3:] == ["invoiced", "paid", "closed"]


def test_return_a_submitted_order_to_draft(shop, people):
    """Orders that wait in "submitted" (the partner portal's) go back to draft or into approval."""
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTED)
    back = services.order_return(actor=people["secretary"], order_id=order.pk, note="请补充收货地址")
    assert back.status == "draft" and back.rejection_note == "请补充收货地址"
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SUBMITTED)
    started = services.order_approval_start(actor=people["manager"], order_id=order.pk)
    assert started.status == "in_approval"


# -- the table --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("current", OrderStatus.values)
def test_every_transition_outside_the_table_is_refused(shop, people, current):
    """For each state, moving to any state the table does not list raises TransitionRefused
    naming both states, and nothing changes."""
    from crm.orders.services import _move

    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    Order.objects.filter(pk=order.pk).update(status=current)
    for wanted in OrderStatus.values:
        order.refresh_from_db()
        if wanted in ALLOWED_TRANSITIONS[current]:
            continue
        with pytest.raises(services.TransitionRefused) as refused:
            _move(order, wanted, actor=people["sales"], kind="updated")
        assert (refused.value.current, refused.value.wanted) == (current, wanted)
        assert str(OrderStatus(current).label) in str(refused.value)
        assert Order.objects.get(pk=order.pk).status == current


@pytest.mark.parametrize("current", [s for s in OrderStatus.values if s != "draft"])
def test_services_refuse_from_wrong_states(shop, people, current):
    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    Order.objects.filter(pk=order.pk).update(status=current)
    with pytest.raises(services.TransitionRefused):
        services.order_update(actor=people["sales"], order_id=order.pk, data={"notes": "x"})
    if current not in ("approved", "partially_shipped"):
        with pytest.raises(services.TransitionRefused):
            services.shipment_create(actor=people["warehouse"], order_id=order.pk, data={})
    if current not in ("shipped", "invoiced", "paid", "closed"):
        with pytest.raises(services.TransitionRefused):
            services.order_invoiced_mark(actor=people["finance"], order_id=order.pk)
    if current not in ("invoiced", "paid", "closed"):
        with pytest.raises(services.TransitionRefused):
            services.order_paid_mark(actor=people["finance"], order_id=order.pk)
    if current not in ("paid", "closed"):
        with pytest.raises(services.TransitionRefused):
            services.order_close(actor=people["finance"], order_id=order.pk)
    if current in ("partially_shipped", "shipped", "invoiced", "paid", "closed"):
        with pytest.raises(services.TransitionRefused):
            services.order_cancel(actor=people["sales"], order_id=order.pk)
    if current in ("cancelled",):
        with pytest.raises(services.TransitionRefused):
            services.order_submit(actor=people["sales"], order_id=order.pk)


def test_a_new_customer_order_by_the_manager_is_visible_to_the_manager_only_in_region(shop, people):
    customer = customer_make(owner=people["manager"])
    order = order_make(actor=people["manager"], customer=customer, products=[shop.gps])
    assert Order.objects.visible_to(people["manager"]).filter(pk=order.pk).exists()
    assert not Order.objects.visible_to(people["sales"]).filter(pk=order.pk).exists()
    assert Order.objects.visible_to(people["exec"]).filter(pk=order.pk).exists()


def test_a_limit_in_another_currency_counts_as_over_the_limit(shop, people):
    from crm.orders.approval import order_facts

    order = order_make(actor=people["sales"], customer=shop.customer, products=[shop.gps])
    assert order_facts(order.pk).credit_over_limit is False  # no limit: no credit control
    services.customer_credit_set(actor=people["finance"], customer_id=shop.customer.pk, limit="1000000.00",
                                 currency="USD")
    assert order_facts(order.pk).credit_over_limit is True  # cannot compare CNY with USD: a person looks at it
    services.customer_credit_set(actor=people["finance"], customer_id=shop.customer.pk, limit="113.00", currency="CNY")
    assert order_facts(order.pk).credit_over_limit is False  # 113.00 is within 113.00
    services.customer_credit_set(actor=people["finance"], customer_id=shop.customer.pk, limit="112.99", currency="CNY")
    assert order_facts(order.pk).credit_over_limit is True
