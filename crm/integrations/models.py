"""Outbound webhooks (endpoints, events, deliveries and their attempts) and the inbound ERP
interface (API clients and the messages they posted). Written only by crm.integrations.services."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import (
    ALL_EVENTS,
    DUE_STATUSES,
    AttemptTrigger,
    DeliveryStatus,
    InboundKind,
    InboundStatus,
)


class WebhookEndpoint(models.Model):
    """A URL of the tenant's ERP (or any system) that receives signed POSTs for the events it
    subscribes to. The secret is made here and shown once (on creation and on rotation)."""

    url = models.URLField(_("接收地址"), max_length=500)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    events = ArrayField(models.CharField(max_length=40), default=list, verbose_name=_("订阅的事件"),
                        help_text=_("事件类型；“*”表示全部事件"))
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False,
                                       help_text="the secret before the last rotation, still signing until it expires")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-is_active", "id"]
        verbose_name = _("Webhook 接收地址")

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events

    def signing_secrets(self, now=None) -> list[str]:
        """The current secret, plus the previous one during its grace period."""
        now = now or timezone.now()
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(self.previous_secret)
        return secrets


class WebhookEvent(models.Model):
    """One business event that happened (or a ping); its deliveries carry it to endpoints."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("事件类型"), max_length=40)
    payload = models.JSONField(_("内容"), default=dict, encoder=DjangoJSONEncoder)
    occurred_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True,
                                       help_text="the emitter's key: the same key again emits nothing")

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("Webhook 事件")
        indexes = [models.Index(fields=["type", "-occurred_at"], name="webhookevent_type")]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"


class WebhookDelivery(models.Model):
    """One event for one endpoint: its status and the summary of its last attempt."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries",
                                 verbose_name=_("接收地址"))
    event = models.ForeignKey(WebhookEvent, on_delete=models.PROTECT, related_name="deliveries",
                              verbose_name=_("事件"))
    event_type = models.CharField(_("事件类型"), max_length=40, help_text="the event's type, for the log filter")
    status = models.CharField(_("状态"), max_length=16, choices=DeliveryStatus.choices,
                              default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True,
                                           help_text="due time while pending/failed; while an attempt is in "
                                                     "flight, the end of its lease")
    last_attempt_at = models.DateTimeField(_("最近尝试"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("最近状态码"), null=True, blank=True)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    last_response_excerpt = models.TextField(_("最近响应摘录"), blank=True, help_text="at most 1 KB")
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), null=True, blank=True)
    lease = models.UUIDField(null=True, blank=True, editable=False,
                             help_text="the attempt in flight; its result is recorded only while it holds the lease")
    replay_requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.SET_NULL, related_name="+")
    replay_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("Webhook 投递")
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhookdelivery_once_per_endpoint"),
        ]
        indexes = [
            # next_attempt_at is set exactly while a delivery is pending or failed (the
            # services clear it when it succeeds or dies): the sweep's index. (A condition
            # on status IN (...) would not survive the schema clone textually unchanged.)
            models.Index(fields=["next_attempt_at"], name="webhookdelivery_due",
                         condition=Q(next_attempt_at__isnull=False)),
            models.Index(fields=["endpoint", "-id"], name="webhookdelivery_endpoint"),
            models.Index(fields=["event_type", "-id"], name="webhookdelivery_type"),
            models.Index(fields=["status", "-id"], name="webhookdelivery_status"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"

    def is_due(self, now) -> bool:
        return self.status in DUE_STATUSES and self.next_attempt_at is not None and self.next_attempt_at <= now


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery (automatic or a replay), with what came back."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log",
                                 verbose_name=_("投递"))
    number = models.PositiveSmallIntegerField(_("第几次"))
    trigger = models.CharField(_("触发方式"), max_length=16, choices=AttemptTrigger.choices,
                               default=AttemptTrigger.AUTOMATIC)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("操作人"))
    url = models.CharField(_("地址"), max_length=500)
    started_at = models.DateTimeField(_("开始时间"))
    finished_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    succeeded = models.BooleanField(_("成功"), default=False)
    status_code = models.PositiveSmallIntegerField(_("状态码"), null=True, blank=True)
    error = models.CharField(_("错误"), max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), null=True, blank=True)
    response_excerpt = models.TextField(_("响应摘录"), blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        verbose_name = _("投递尝试")
        constraints = [models.UniqueConstraint(fields=["delivery", "number"], name="webhookattempt_number")]

    def __str__(self) -> str:
        return f"{self.delivery_id}#{self.number}"


class ErpClient(models.Model):
    """An API credential of the tenant's ERP: not a staff member, it may only post to
    /api/v1/erp/ within its scopes. Only a hash of its token is stored."""

    name = models.CharField(_("名称"), max_length=100)
    token_prefix = models.CharField(_("令牌前缀"), max_length=16, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=32), default=list, verbose_name=_("权限范围"))
    is_active = models.BooleanField(_("有效"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-is_active", "name", "id"]
        verbose_name = _("ERP 接口客户端")

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return self.is_active and scope in self.scopes


class InboundMessage(models.Model):
    """One message an ERP client posted (a stock level row, a shipment, a payment), kept
    under its external id: the same id again returns the first result."""

    client = models.ForeignKey(ErpClient, on_delete=models.PROTECT, related_name="messages",
                               verbose_name=_("客户端"))
    kind = models.CharField(_("类型"), max_length=16, choices=InboundKind.choices)
    external_id = models.CharField(_("外部编号"), max_length=100)
    payload = models.JSONField(_("内容"), default=dict, encoder=DjangoJSONEncoder)
    payload_hash = models.CharField(max_length=64)
    status = models.CharField(_("状态"), max_length=16, choices=InboundStatus.choices,
                              default=InboundStatus.ACCEPTED)
    result = models.JSONField(_("结果"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now)
    last_received_at = models.DateTimeField(_("最近接收"), default=timezone.now)
    receipts = models.PositiveIntegerField(_("接收次数"), default=1)
    applied_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("ERP 回传消息")
        constraints = [
            models.UniqueConstraint(fields=["client", "kind", "external_id"], name="inboundmessage_once"),
        ]
        indexes = [
            models.Index(fields=["client", "-id"], name="inboundmessage_client"),
            models.Index(fields=["kind", "-id"], name="inboundmessage_kind"),
            models.Index(fields=["status", "-id"], name="inboundmessage_status"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id} ({self.status})"
