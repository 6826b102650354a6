from django.db import models
from django.utils.translation import gettext_lazy as _

ALL_EVENTS = "*"  # an endpoint subscribed to "*" receives every business event (not pings)


class WebhookEventType(models.TextChoices):
    """The business events an endpoint may subscribe to. The app that owns the change emits
    it with ``crm.integrations.services.webhook_emit`` inside its own transaction."""

    ORDER_APPROVED = "order.approved", _("订单已审批")
    ORDER_SHIPPED = "order.shipped", _("订单已发货")
    INVOICE_ISSUED = "invoice.issued", _("发票已开具")
    PAYMENT_RECEIVED = "payment.received", _("已收款")
    CUSTOMER_UPDATED = "customer.updated", _("客户已变更")


PING = "ping"  # the test event an admin sends to one endpoint; nobody subscribes to it
EVENT_TYPES_STORED = [*WebhookEventType.values, PING]


def event_type_label(value: str) -> str:
    if value == PING:
        return str(_("测试（ping）"))
    try:
        return str(WebhookEventType(value).label)
    except ValueError:
        return value


class DeliveryStatus(models.TextChoices):
    """pending: waiting for its first attempt (or a replay); failed: the last attempt failed
    and another is scheduled (next_attempt_at); succeeded: a 2xx answer; dead: no attempts
    left (or the endpoint was deactivated). A replay moves any status back to pending."""

    PENDING = "pending", _("待投递")
    FAILED = "failed", _("失败，等待重试")
    SUCCEEDED = "succeeded", _("已送达")
    DEAD = "dead", _("已放弃")


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)

# The delivery state machine: an attempt ends pending/failed in succeeded, failed or dead;
# a replay (or a ping's first attempt) starts again from pending.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    DeliveryStatus.PENDING: {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.DEAD,
                             DeliveryStatus.PENDING},
    DeliveryStatus.FAILED: {DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.DEAD,
                            DeliveryStatus.PENDING},
    DeliveryStatus.SUCCEEDED: {DeliveryStatus.PENDING},
    DeliveryStatus.DEAD: {DeliveryStatus.PENDING},
}


class AttemptTrigger(models.TextChoices):
    AUTOMATIC = "automatic", _("自动")
    MANUAL = "manual", _("手动（重发或测试）")


class ErpScope(models.TextChoices):
    """What an ERP client may post."""

    STOCK_LEVELS = "stock_levels", _("回传库存")
    SHIPMENTS = "shipments", _("回传发货")
    PAYMENTS = "payments", _("回传收款")


class InboundKind(models.TextChoices):
    STOCK_LEVEL = "stock_level", _("库存")
    SHIPMENT = "shipment", _("发货")
    PAYMENT = "payment", _("收款")


# The scope an ERP client needs for each inbound kind.
SCOPE_OF_KIND = {
    InboundKind.STOCK_LEVEL: ErpScope.STOCK_LEVELS,
    InboundKind.SHIPMENT: ErpScope.SHIPMENTS,
    InboundKind.PAYMENT: ErpScope.PAYMENTS,
}


class InboundStatus(models.TextChoices):
    """accepted: stored, not applied yet (a handler that applies later); applied: done, its
    result stored and returned again for the same external id; rejected: refused (bad data),
    the ERP may send the same external id again once fixed."""

    ACCEPTED = "accepted", _("已接收")
    APPLIED = "applied", _("已处理")
    REJECTED = "rejected", _("已拒绝")


ERP_TOKEN_PREFIX = "qerp_"
WEBHOOK_SECRET_PREFIX = "whsec_"
MAX_STOCK_ROWS = 500


def can_transition(old: str, new: str) -> bool:
    return new in ALLOWED_TRANSITIONS.get(old, set())
