"""The "quote" document type of the approval engine (crm.approvals.registry), registered by
``SalesConfig.ready``: a quote is sent only once the tenant's quote policy approved it.

Facts the policy conditions look at, read when the quote is sent: amount (the quote's total,
tax included) and currency, discount_pct (the largest discount of its lines), and the
quote's department and region (for steps restricted to the submitter's). The default policy:
a regional manager approves quotes with a discount of 10% or more (editable by the tenant
admin, like every policy). The callbacks move the quote inside the engine's transaction
(crm.sales.services)."""

from __future__ import annotations

from django.db.models import Max
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from crm.approvals.registry import DocumentType, Facts, register

from .enums import QUOTE_DOC_TYPE

DEFAULT_STEPS = (
    {"role": "regional_manager", "name_zh": "大额折扣审批", "name_en": "Large discount approval",
     "min_discount_pct": "10.00"},
)


def quote_facts(object_id: int) -> Facts:
    from .models import Quote

    quote = Quote.objects.get(pk=object_id)
    discount = quote.lines.aggregate(top=Max("discount_percent"))["top"]
    return Facts(amount=quote.total, currency=quote.currency, discount_pct=discount,
                 department_id=quote.department_id, region_id=quote.region_id)


def _approved(object_id: int, actor) -> None:
    from .services import quote_approval_approved

    quote_approval_approved(quote_id=object_id, actor=actor)


def _rejected(object_id: int, actor, comment: str) -> None:
    from .services import quote_approval_rejected

    quote_approval_rejected(quote_id=object_id, actor=actor, comment=comment)


def _recalled(object_id: int, actor) -> None:
    from .services import quote_approval_recalled

    quote_approval_recalled(quote_id=object_id, actor=actor)


def _url(object_id: int) -> str:
    try:
        return reverse("sales:quote-detail", args=[object_id])
    except NoReverseMatch:  # pragma: no cover - the pages are always installed
        return ""


def _title(object_id: int) -> str:
    from .models import Quote

    row = Quote.objects.filter(pk=object_id).values("number", "customer__name").first()
    if row is None:
        return f"#{object_id}"
    return f"{_('报价单')} {row['number']} · {row['customer__name']}"


def register_quote_document() -> DocumentType:
    return register(DocumentType(
        key=QUOTE_DOC_TYPE, label=_("报价单"), facts=quote_facts, on_approved=_approved, on_rejected=_rejected,
        on_recalled=_recalled, url=_url, title=_title, default_steps=DEFAULT_STEPS))
