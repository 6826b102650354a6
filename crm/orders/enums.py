"""Statuses, the allowed-transitions table and the list sorts of orders: data, so the
services, the API and the pages all read the same rules."""

from django.db import models
from django.utils.translation import gettext_lazy as _

DEFAULT_CURRENCY = "CNY"
DEFAULT_PAYMENT_TERMS_DAYS = 30


class OrderStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("已提交")
    IN_APPROVAL = "in_approval", _("审批中")
    APPROVED = "approved", _("已审批")
    PARTIALLY_SHIPPED = "partially_shipped", _("部分发货")
    SHIPPED = "shipped", _("已发货")
    INVOICED = "invoiced", _("已开票")
    PAID = "paid", _("已回款")
    CLOSED = "closed", _("已关闭")
    CANCELLED = "cancelled", _("已取消")


# The single source of truth of the order's life: status -> the statuses a service may move it
# to. One service per arrow (crm.orders.services):
#   draft -> submitted                      order_submit (then at once:)
#   submitted -> in_approval                the approval engine opened a request with steps
#   submitted -> approved                   ... or no step applied: approved at once
#   in_approval -> approved                 the last step approved (engine callback)
#   in_approval -> draft                    rejected (with the comment) or recalled
#   submitted -> draft                      returned before the approval started (portal orders)
#   approved -> partially_shipped / shipped shipment_create
#   partially_shipped -> shipped            shipment_create (the rest)
#   shipped -> invoiced -> paid -> closed   order_invoiced_mark, order_paid_mark, order_close
#   invoiced -> shipped                     order_invoiced_revert (finance voided an invoice: 红冲)
#   paid -> invoiced                        order_paid_revert (finance voided a payment: 冲销)
#   draft / submitted / approved -> cancelled   order_cancel (releases the reservation)
# crm.finance drives the invoiced and paid arrows: an order is invoiced when its invoices
# cover its total, paid when every one of them is paid.
# Cancelling an order in approval recalls the approval first (its submitter, before anyone
# decided: in_approval -> draft -> cancelled); once goods have left the warehouse
# (partially_shipped and later) an order cannot be cancelled.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED}),
    OrderStatus.SUBMITTED: frozenset({OrderStatus.IN_APPROVAL, OrderStatus.APPROVED, OrderStatus.DRAFT,
                                      OrderStatus.CANCELLED}),
    OrderStatus.IN_APPROVAL: frozenset({OrderStatus.APPROVED, OrderStatus.DRAFT}),
    OrderStatus.APPROVED: frozenset({OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.PARTIALLY_SHIPPED: frozenset({OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED}),
    OrderStatus.SHIPPED: frozenset({OrderStatus.INVOICED}),
    OrderStatus.INVOICED: frozenset({OrderStatus.PAID, OrderStatus.SHIPPED}),
    OrderStatus.PAID: frozenset({OrderStatus.CLOSED, OrderStatus.INVOICED}),
    OrderStatus.CLOSED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


def can_transition(current: str, new: str) -> bool:
    return new in ALLOWED_TRANSITIONS.get(current, frozenset())


EDITABLE_STATUSES = frozenset({OrderStatus.DRAFT})
# Orders that count towards a customer's open receivables: approved and not yet paid (what is
# owed on them: see selectors.open_receivables_for_customer).
OPEN_RECEIVABLE_STATUSES = (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED,
                            OrderStatus.INVOICED)
# An order in one of these holds (or should hold) a stock reservation.
RESERVING_STATUSES = (OrderStatus.APPROVED, OrderStatus.PARTIALLY_SHIPPED)


class SubmittedVia(models.TextChoices):
    STAFF = "staff", _("员工录入")
    PORTAL = "portal", _("渠道门户")


class StockState(models.TextChoices):
    """The order's stock reservation (made when it is approved)."""

    NONE = "none", _("未预留")
    RESERVED = "reserved", _("已预留")
    SHORT = "short", _("库存不足，待预留")
    RELEASED = "released", _("已释放")
    CONSUMED = "consumed", _("已全部出库")


class EventKind(models.TextChoices):
    """Entries of an order's timeline (OrderEvent). Approval steps come from the engine."""

    CREATED = "created", _("创建订单")
    UPDATED = "updated", _("修改订单")
    SUBMITTED = "submitted", _("提交订单")
    APPROVAL_STARTED = "approval_started", _("进入审批")
    APPROVED = "approved", _("审批通过")
    REJECTED = "rejected", _("审批驳回")
    RECALLED = "recalled", _("撤回审批")
    RETURNED = "returned", _("退回草稿")
    STOCK_RESERVED = "stock_reserved", _("库存已预留")
    STOCK_SHORT = "stock_short", _("库存不足")
    STOCK_RELEASED = "stock_released", _("库存预留已释放")
    SHIPPED = "shipped", _("发货")
    CANCELLED = "cancelled", _("取消订单")
    INVOICED = "invoiced", _("开票")
    PAID = "paid", _("回款")
    INVOICE_VOIDED = "invoice_voided", _("发票红冲")
    PAYMENT_VOIDED = "payment_voided", _("回款冲销")
    CLOSED = "closed", _("关闭订单")
    ATTACHMENT = "attachment", _("上传附件")


# ?sort= of the order list: value -> ordering. The id breaks ties; each ordering is served by
# an index of Order (per owner, per region, per status and for everyone).
ORDER_SORTS: dict[str, tuple[str, ...]] = {
    "-created_at": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-total": ("-total", "-id"),
    "total": ("total", "id"),
}
ORDER_SORT_DEFAULT = "-created_at"

# Attachments
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES: dict[str, str] = {  # extension -> content type
    "pdf": "application/pdf",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xls": "application/vnd.ms-excel",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "doc": "application/msword",
    "txt": "text/plain",
    "csv": "text/csv",
}
ATTACHMENTS_PER_ORDER = 20
MAX_LINES = 200
