from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantStatus(models.TextChoices):
    PROVISIONING = "provisioning", _("开通中")
    ACTIVE = "active", _("正常")
    SUSPENDED = "suspended", _("已暂停")
    CLOSED = "closed", _("已关闭")
    FAILED = "failed", _("开通失败")


# The single source of truth for tenant lifecycle moves.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    TenantStatus.PROVISIONING: {TenantStatus.ACTIVE, TenantStatus.FAILED},
    TenantStatus.FAILED: {TenantStatus.PROVISIONING},
    TenantStatus.ACTIVE: {TenantStatus.SUSPENDED, TenantStatus.CLOSED},
    TenantStatus.SUSPENDED: {TenantStatus.ACTIVE, TenantStatus.CLOSED},
    TenantStatus.CLOSED: set(),
}


class TenantEventKind(models.TextChoices):
    PROVISIONING_REQUESTED = "provisioning_requested", _("申请开通")
    PROVISIONED = "provisioned", _("开通成功")
    PROVISIONING_FAILED = "provisioning_failed", _("开通失败")
    STATUS_CHANGED = "status_changed", _("状态变更")
    MODE_ENABLED = "mode_enabled", _("启用业务模式")
