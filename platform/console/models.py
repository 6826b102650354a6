"""Operator accounts' second factor, the operator log and support-access sessions (public
schema). Operators themselves are public-schema users (crm.org.User) with is_staff."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .enums import OperatorAction, SupportEndReason


class OperatorTOTP(models.Model):
    """An operator's TOTP secret (RFC 6238). ``confirmed_at`` is empty until the operator has
    entered a first valid code; ``last_used_step`` refuses a code used once already."""

    operator = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                    related_name="console_totp")
    secret = models.CharField(max_length=64, help_text="base32; never logged or shown again")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_used_step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"TOTP of operator {self.operator_id}"

    def __repr__(self) -> str:  # the secret never reaches a log line or a traceback
        return f"<OperatorTOTP operator={self.operator_id} confirmed={bool(self.confirmed_at)}>"

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None


class OperatorLogEntry(models.Model):
    """One console action (or a tenant page seen under support access), newest first."""

    at = models.DateTimeField(default=timezone.now)
    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+")
    operator_email = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=32, choices=OperatorAction.choices)
    tenant = models.ForeignKey("tenants.Tenant", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="operator_log")
    reason = models.CharField(max_length=500, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at"], name="console_log_at_idx"),
            models.Index(fields=["tenant", "-at"], name="console_log_tenant_idx"),
            models.Index(fields=["operator", "-at"], name="console_log_operator_idx"),
            models.Index(fields=["action", "-at"], name="console_log_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.operator_email} {self.action}"


class SupportSession(models.Model):
    """An operator acting as a tenant user (support access): granted in the console, entered on
    the tenant host with a one-time token, ended by the operator or at ``expires_at``."""

    operator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                 related_name="+")
    operator_email = models.CharField(max_length=254)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE,
                               related_name="support_sessions")
    user_id = models.BigIntegerField(help_text="the user's id in the tenant schema")
    user_email = models.CharField(max_length=254)
    user_name = models.CharField(max_length=150, blank=True)
    user_kind = models.CharField(max_length=8, blank=True)
    reason = models.CharField(max_length=500)
    minutes = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=16, choices=SupportEndReason.choices, blank=True)
    pages = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="console_support_tenant_idx")]

    def __str__(self) -> str:
        return f"{self.operator_email} as {self.user_email} ({self.tenant_id})"

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return self.ended_at is None and self.expires_at > now
