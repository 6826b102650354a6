"""Statuses, transition tables and list sorts of the sales app: data, so the services, the
API and the pages all read the same rules."""

from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_CURRENCY = "CNY"


class OpportunityStatus(models.TextChoices):
    """Where an opportunity stands, derived from the kind of its pipeline stage: a stage
    with probability 100 is a won stage, one with probability 0 a lost stage, the others are
    open (a tenant's stage may also say so explicitly with ``"kind": "won" | "lost"``)."""

    OPEN = "open", _("进行中")
    WON = "won", _("赢单")
    LOST = "lost", _("输单")


# status -> the statuses a service may move it to. Won and lost are final until reopened;
# moving between open stages keeps the status "open".
OPPORTUNITY_ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OpportunityStatus.OPEN: frozenset({OpportunityStatus.OPEN, OpportunityStatus.WON, OpportunityStatus.LOST}),
    OpportunityStatus.WON: frozenset({OpportunityStatus.OPEN}),
    OpportunityStatus.LOST: frozenset({OpportunityStatus.OPEN}),
}


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    IN_APPROVAL = "in_approval", _("审批中")
    APPROVED = "approved", _("已审批")
    SENT = "sent", _("已发送")
    ACCEPTED = "accepted", _("已接受")
    REJECTED = "rejected", _("已拒绝")
    EXPIRED = "expired", _("已过期")
    CONVERTED = "converted", _("已转订单")


# The single source of truth of the quote lifecycle: one service per arrow. A draft is sent
# through the tenant's quote approval policy (crm.approvals, document type "quote"; by default a
# regional manager approves discounts of 10% or more):
#   draft -> approved            quote_send: no approval step applies (then at once -> sent)
#   draft -> in_approval         quote_send: a step applies; the approvers decide
#   in_approval -> approved      the last step approved (engine callback); quote_send then sends it
#   in_approval -> draft         rejected (with the comment) or recalled by its submitter
#   approved -> sent             quote_send
#   approved -> draft            quote_reopen (to edit it again; the approval no longer holds)
#   sent -> accepted / rejected  quote_accept, quote_reject (the customer's answer)
#   sent -> expired              quote_expire (the validity ended; a periodic task)
#   accepted -> converted        quote_mark_converted (crm.orders made the order)
QUOTE_ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    QuoteStatus.DRAFT: frozenset({QuoteStatus.IN_APPROVAL, QuoteStatus.APPROVED}),
    QuoteStatus.IN_APPROVAL: frozenset({QuoteStatus.APPROVED, QuoteStatus.DRAFT}),
    QuoteStatus.APPROVED: frozenset({QuoteStatus.SENT, QuoteStatus.DRAFT}),
    QuoteStatus.SENT: frozenset({QuoteStatus.ACCEPTED, QuoteStatus.REJECTED, QuoteStatus.EXPIRED}),
    QuoteStatus.ACCEPTED: frozenset({QuoteStatus.CONVERTED}),
    QuoteStatus.REJECTED: frozenset(),
    QuoteStatus.EXPIRED: frozenset(),
    QuoteStatus.CONVERTED: frozenset(),
}
QUOTE_DOC_TYPE = "quote"  # its document type in the approval engine
QUOTE_EDITABLE = frozenset({QuoteStatus.DRAFT})


class ForecastPeriod(models.TextChoices):
    MONTH = "month", _("按月")
    QUARTER = "quarter", _("按季度")


class ForecastGroup(models.TextChoices):
    OWNER = "owner", _("按负责人")
    REGION = "region", _("按区域")
    STAGE = "stage", _("按阶段")


# ?sort= of the opportunity list: value -> ordering. The id breaks ties, so a cursor page
# boundary is never ambiguous; each ordering is served by an index of the model.
OPPORTUNITY_SORTS: dict[str, tuple[str, ...]] = {
    "-updated_at": ("-updated_at", "-id"),
    "updated_at": ("updated_at", "id"),
    "expected_close_date": ("expected_close_date", "id"),
    "-expected_close_date": ("-expected_close_date", "-id"),
    "-amount": ("-amount", "-id"),
    "amount": ("amount", "id"),
    "-created_at": ("-created_at", "-id"),
}
OPPORTUNITY_SORT_DEFAULT = "-updated_at"

QUOTE_SORTS: dict[str, tuple[str, ...]] = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
    "valid_until": ("valid_until", "id"),
    "-total": ("-total", "-id"),
}
QUOTE_SORT_DEFAULT = "-created_at"
