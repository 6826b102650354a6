"""Dashboard test data, made through the real services (as users make it); call inside the
tenant's schema. And the fact rows as tuples, to compare."""

from __future__ import annotations

from tests.crm.orders.factories import approve_pending, line, submitted_make


def approved(shop, people, *, actor=None, customer=None, lines=None, **data):
    """An order of ``actor`` (sales) for ``customer`` (sales' customer), approved by the
    business secretary (and finance when it is large)."""
    actor = actor or people["sales"]
    order = submitted_make(actor=actor, customer=customer or shop.customer,
                           lines=lines if lines is not None else [line(shop.gps, "2")], **data)
    approvers = [people["secretary"]] + ([people["finance"]] if order.total >= 100000 else [])
    return approve_pending(order, *approvers)


def daily_rows(kind: str | None = None) -> list[tuple]:
    from crm.analytics.models import DailySalesFact

    qs = DailySalesFact.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    return sorted(qs.values_list("day", "kind", "owner_id", "department_id", "region_id", "currency", "amount",
                                 "count"))


def monthly_rows(kind: str | None = None) -> list[tuple]:
    from crm.analytics.models import MonthlySalesFact

    qs = MonthlySalesFact.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    return sorted(qs.values_list("month", "kind", "owner_id", "department_id", "region_id", "currency", "amount",
                                 "count"))
