from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantStatus(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", _("待支付")
    PROVISIONING = "provisioning", _("开通中")
    ACTIVE = "active", _("正常")
    SUSPENDED = "suspended", _("已暂停")
    CLOSED = "closed", _("已关闭")
    FAILED = "failed", _("开通失败")


# The single source of truth for tenant lifecycle moves.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    # A paid sign-up waits for Stripe Checkout; abandoned ones are closed (the slug is freed).
    TenantStatus.AWAITING_PAYMENT: {TenantStatus.PROVISIONING, TenantStatus.CLOSED},
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
    # billing (billing/): the subscription's lifecycle as it moves
    BILLING_STATUS_CHANGED = "billing_status_changed", _("账单状态变更")
    PLAN_CHANGED = "plan_changed", _("套餐变更")
    TRIAL_EXTENDED = "trial_extended", _("试用延期")
    PAYMENT_SUCCEEDED = "payment_succeeded", _("付款成功")
    PAYMENT_FAILED = "payment_failed", _("付款失败")
    SUBSCRIPTION_CANCELLED = "subscription_cancelled", _("取消订阅")
    BILLING_NOTICE = "billing_notice", _("账单提醒")
    # the operator console (console/)
    DOMAIN_ADDED = "domain_added", _("添加域名")
    DOMAIN_REMOVED = "domain_removed", _("移除域名")
    PROVISIONING_RETRIED = "provisioning_retried", _("重新开通")
    SUPPORT_ACCESS = "support_access", _("客服代登录")
    NOTE = "note", _("备注")
    DATA_EXPORTED = "data_exported", _("导出数据")
