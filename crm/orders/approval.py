"""The "order" document type of the approval engine (crm.approvals.registry), registered by
``OrdersConfig.ready``.

Facts the tenant's policy conditions look at, read at submission:
* amount: the order's total (tax included) and its currency;
* discount_pct: the largest discount of its lines;
* customer_is_new: the customer has no earlier approved (and not cancelled) order;
* credit_over_limit: the customer has a credit limit (CustomerCredit) and its open
  receivables (``selectors.open_receivables_for_customer``) plus this order exceed it; the
  default policy then adds the credit-override step (finance) instead of refusing;
* department / region: the order's, for steps restricted to the submitter's department or
  region.
The callbacks move the order inside the engine's transaction (crm.orders.services)."""

from __future__ import annotations

from contextvars import ContextVar

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from crm.approvals.registry import DocumentType, Facts, register

from .selectors import DOC_TYPE, PARTNER_DOC_TYPE

# The order being submitted, as the submitting service holds it (locked and just saved): the
# facts are read from it instead of reading the row again (crm.orders.services._start_approval).
submitting: ContextVar = ContextVar("orders_submitting", default=None)


def _order(object_id: int):
    from .models import Order

    held = submitting.get()
    if held is not None and held.pk == object_id:
        return held
    return Order.objects.get(pk=object_id)


def order_facts(object_id: int) -> Facts:
    from .selectors import credit_over_limit_with, customer_has_approved_order

    order = _order(object_id)
    return Facts(
        amount=order.total, currency=order.currency, discount_pct=order.max_discount_pct,
        customer_is_new=not customer_has_approved_order(customer_id=order.customer_id, exclude_order_id=order.pk),
        credit_over_limit=credit_over_limit_with(customer_id=order.customer_id, amount=order.total,
                                                 currency=order.currency, exclude_order_id=order.pk),
        department_id=order.department_id, region_id=order.region_id)


def partner_order_facts(object_id: int) -> Facts:
    """A partner order's facts: those of an order, the partner's tier, the channel manager as
    the owner (the "owner" step), and credit over the partner's own credit limit (its open
    receivables, as the partner's customer record, plus this order)."""
    from decimal import Decimal

    from crm.partners.models import Partner

    from .models import Order
    from .selectors import customer_has_approved_order, open_receivables_for_customer

    order = _order(object_id)
    partner = order.partner if Order.partner.is_cached(order) else (
        Partner.objects.select_related("tier").get(pk=order.partner_id))
    over = False
    if partner.credit_limit is not None:
        open_amount = open_receivables_for_customer(customer_id=order.customer_id, currency=order.currency,
                                                    exclude_order_id=order.pk)
        over = (open_amount or Decimal("0")) + order.total > partner.credit_limit
    return Facts(
        amount=order.total, currency=order.currency, discount_pct=order.max_discount_pct,
        customer_is_new=not customer_has_approved_order(customer_id=order.customer_id, exclude_order_id=order.pk),
        partner_tier=partner.tier.code, credit_over_limit=over,
        department_id=order.department_id, region_id=order.region_id, owner_id=partner.owner_id)


def _partner_default_steps() -> tuple[dict, ...]:
    """Channel manager, then business secretary, then finance at or above the threshold of the
    mode's own order policy (50,000 when it has none); the admin edits the policy in the UI."""
    from crm.org.selectors import tenant_config_get

    threshold = "50000"
    for steps in (tenant_config_get().approval_policies or {}).values():
        for step in steps:
            if step.get("role") == "finance" and step.get("min_amount") not in (None, ""):
                threshold = str(step["min_amount"])
                break
    return (
        {"approver_kind": "owner", "name_zh": "渠道经理审批", "name_en": "Channel manager"},
        {"role": "business_secretary", "name_zh": "商务审核", "name_en": "Business secretary"},
        {"role": "finance", "name_zh": "财务复核", "name_en": "Finance re-check", "min_amount": threshold},
    )


def _approved(object_id: int, actor) -> None:
    from .services import order_approval_approved

    order_approval_approved(order_id=object_id, actor=actor)


def _rejected(object_id: int, actor, comment: str) -> None:
    from .services import order_approval_rejected

    order_approval_rejected(order_id=object_id, actor=actor, comment=comment)


def _recalled(object_id: int, actor) -> None:
    from .services import order_approval_recalled

    order_approval_recalled(order_id=object_id, actor=actor)


def _url(object_id: int) -> str:
    try:
        return reverse("orders:detail", args=[object_id])
    except NoReverseMatch:  # pragma: no cover - the pages are always installed
        return ""


def _title(object_id: int) -> str:
    from .models import Order

    held = submitting.get()
    if held is not None and held.pk == object_id and held.partner_id and Order.partner.is_cached(held):
        return f"{_('订单')} {held.number} · {held.partner.name}"  # a partner order: the partner's name

    row = Order.objects.filter(pk=object_id).values("number", "customer__name").first()
    if row is None:
        return f"#{object_id}"
    return f"{_('订单')} {row['number']} · {row['customer__name']}"


def register_order_document() -> DocumentType:
    register(DocumentType(
        key=PARTNER_DOC_TYPE, label=_("渠道订单"), facts=partner_order_facts, on_approved=_approved,
        on_rejected=_rejected, on_recalled=_recalled, url=_url, title=_title, credit_control=True,
        default_steps=_partner_default_steps))
    return register(DocumentType(
        key=DOC_TYPE, label=_("订单"), facts=order_facts, on_approved=_approved, on_rejected=_rejected,
        on_recalled=_recalled, url=_url, title=_title, credit_control=True))
