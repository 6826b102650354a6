"""Records of other apps that belong to a customer, for merges: each app registers how to
list the ids of its records of a customer and how to move them to another customer (the
merge moves the duplicate's records to the survivor; its undo moves exactly those back).

Registered from the owning app's ``AppConfig.ready`` so that customers, which the other apps
build on, does not import them. Both callables are unscoped: the merge has already checked
that the actor may clean up the whole tenant."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CustomerLink:
    key: str  # the name under which a merge records the ids it moved ("activities", "quotes", ...)
    ids_of: Callable[[int], list[int]]  # ids_of(customer_id)
    move: Callable[..., int]  # move(ids=[...], customer_id=..., actor=...) -> how many moved


_links: dict[str, CustomerLink] = {}


def register(link: CustomerLink) -> None:
    _links[link.key] = link


def registered() -> list[CustomerLink]:
    return list(_links.values())


def moved_ids(links: Sequence[CustomerLink], customer_id: int) -> dict[str, list[int]]:
    return {link.key: list(link.ids_of(customer_id)) for link in links}


@dataclass(frozen=True)
class CustomerPanel:
    """A section another app adds to the customer's 360° page (deals, quotes, orders, tickets):
    ``context(actor, customer)`` returns the template's context (empty: the panel is left
    out), ``template`` renders it inside the page."""

    key: str
    template: str
    context: Callable[..., dict]
    order: int = 100


_panels: dict[str, CustomerPanel] = {}


def register_panel(panel: CustomerPanel) -> None:
    _panels[panel.key] = panel


def panels_for(*, actor, customer) -> list[tuple[str, dict]]:
    """(template, context) of each registered panel that has something to show."""
    out = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(actor=actor, customer=customer)
        if context:
            out.append((panel.template, context))
    return out


def move_records(model, *, ids: Sequence[int], customer_id: int, actor=None, also: dict | None = None) -> int:
    """The usual ``move`` of a CustomerLink: re-point these records (rows of ``model`` with a
    ``customer`` and a ``version``) at another customer, locked in id order, their version
    bumped, one audit row each ("move"). ``also``: further columns to set (e.g. the place
    that follows the customer). Returns how many moved."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from crm.audit.services import audit_record_bulk

    if not ids:
        return 0
    with transaction.atomic():
        records = list(model.objects.filter(pk__in=list(ids)).select_for_update().order_by("pk"))
        moved = [r for r in records if r.customer_id != customer_id]
        changes = {r.pk: {"customer": {"old": r.customer_id, "new": customer_id}} for r in moved}
        model.objects.filter(pk__in=[r.pk for r in moved]).update(
            customer_id=customer_id, updated_at=timezone.now(), version=F("version") + 1, **(also or {}))
        audit_record_bulk(actor=actor, instances=moved, action="move", changes_by_pk=changes)
    return len(moved)
