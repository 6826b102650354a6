"""Document types plug into the approval engine here.

A document app (orders, quotes, ...) registers its type once, usually in its
``AppConfig.ready``::

    from crm.approvals.registry import DocumentType, Facts, register

    register(DocumentType(
        key="order", label=_("订单"),
        facts=lambda order_id: Facts(amount=..., customer_is_new=..., credit_over_limit=...),
        on_approved=order_approved,          # (object_id, actor)            in the decision's transaction
        on_rejected=order_rejected,          # (object_id, actor, comment)   in the decision's transaction
        on_recalled=order_recalled,          # (object_id, actor)            in the recall's transaction
        url=lambda order_id: reverse("orders:detail", args=[order_id]),
        title=lambda order_id: f"订单 {number}",
    ))

The app then calls ``crm.approvals.services.approval_submit(actor=..., doc_type="order",
object_id=order.pk)`` when the document is submitted; the engine reads the facts, freezes the
chain of the tenant's policy onto the request and calls back when the request ends. The
callbacks run inside the engine's transaction (the document's status changes together with
the decision, or neither does); they must not send anything themselves (use
``transaction.on_commit``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Facts:
    """What the policy conditions look at, read from the document at submission."""

    amount: Decimal = Decimal("0")
    currency: str = "CNY"
    discount_pct: Decimal | None = None  # the largest discount on the document, in percent
    customer_is_new: bool = False
    partner_tier: str = ""  # the partner's tier code for partner documents
    credit_over_limit: bool = False  # open receivables + this document exceed the credit limit
    # The submitter's place for "within the submitter's department/region" steps; None = the
    # submitting user's own department / region.
    department_id: int | None = None
    region_id: int | None = None
    # The document's owner, who approves "owner" steps (a partner order: the partner's channel manager).
    owner_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["amount"] = str(self.amount)
        data["discount_pct"] = None if self.discount_pct is None else str(self.discount_pct)
        return data


def _noop(*args, **kwargs) -> None:
    return None


@dataclass(frozen=True)
class DocumentType:
    key: str
    label: Any  # a (lazy) translated string
    facts: Callable[[int], Facts]
    on_approved: Callable[..., None] = _noop  # (object_id, actor)
    on_rejected: Callable[..., None] = _noop  # (object_id, actor, comment)
    on_recalled: Callable[..., None] = _noop  # (object_id, actor)
    url: Callable[[int], str] = field(default=lambda object_id: "")
    title: Callable[[int], str] = field(default=lambda object_id: f"#{object_id}")
    # Whether the default policy seeded for this type carries the credit-override step
    # (a step whose condition is credit_over_limit). Orders do; quotes do not.
    credit_control: bool = False
    # The default policy of this type when it should not be the business mode's (quotes: only
    # large discounts need a manager): steps as {"role", "name_zh", "name_en", "min_amount",
    # "min_discount_pct", "scope"} (or {"approver_kind": "owner", "name_zh", "name_en"} for the
    # document's owner); steps whose role the tenant lacks are left out.
    # A callable returning them is read when the policy is seeded (e.g. a threshold of the mode).
    default_steps: tuple[dict, ...] | Callable[[], tuple[dict, ...]] = ()

    def default_steps_now(self) -> tuple[dict, ...]:
        return self.default_steps() if callable(self.default_steps) else self.default_steps


_REGISTRY: dict[str, DocumentType] = {}


def register(doc_type: DocumentType) -> DocumentType:
    """Register (or replace, e.g. on autoreload) a document type."""
    if not doc_type.key or len(doc_type.key) > 40:
        raise ValueError("a document type key is 1-40 characters")
    _REGISTRY[doc_type.key] = doc_type
    return doc_type


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def get(key: str) -> DocumentType | None:
    return _REGISTRY.get(key)


def all_types() -> list[DocumentType]:
    return list(_REGISTRY.values())


def label_of(key: str) -> str:
    """The registered label, else the known label, else the key itself."""
    from .enums import DocType

    doc = _REGISTRY.get(key)
    if doc is not None:
        return str(doc.label)
    try:
        return str(DocType(key).label)
    except ValueError:
        return key
