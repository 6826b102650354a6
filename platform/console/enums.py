from django.db import models
from django.utils.translation import gettext_lazy as _


class OperatorAction(models.TextChoices):
    """What an operator did, as the operator log records it."""

    LOGIN = "login", _("登录")
    LOGIN_FAILED = "login_failed", _("登录失败")
    LOCKED_OUT = "locked_out", _("登录被锁定")
    OTP_ENROLLED = "otp_enrolled", _("绑定两步验证")
    LOGOUT = "logout", _("退出")
    TENANT_CREATED = "tenant_created", _("开通租户")
    TENANT_SUSPENDED = "tenant_suspended", _("暂停租户")
    TENANT_RESUMED = "tenant_resumed", _("恢复租户")
    TENANT_CLOSED = "tenant_closed", _("关闭租户")
    PLAN_CHANGED = "plan_changed", _("变更套餐")
    TRIAL_EXTENDED = "trial_extended", _("延长试用")
    DOMAIN_ADDED = "domain_added", _("添加域名")
    DOMAIN_REMOVED = "domain_removed", _("移除域名")
    PROVISIONING_RETRIED = "provisioning_retried", _("重新开通")
    SUPPORT_STARTED = "support_started", _("开始客服代登录")
    SUPPORT_SIGNED_IN = "support_signed_in", _("客服代登录已进入租户")
    SUPPORT_PAGE = "support_page", _("客服代登录访问页面")
    SUPPORT_ENDED = "support_ended", _("结束客服代登录")
    SUPPORT_REVOKED = "support_revoked", _("撤销客服代登录")
    OTP_RESET = "otp_reset", _("重置两步验证")


# Actions that act on a tenant (the operator log page filters by them).
TENANT_ACTIONS = frozenset({
    OperatorAction.TENANT_CREATED, OperatorAction.TENANT_SUSPENDED, OperatorAction.TENANT_RESUMED,
    OperatorAction.TENANT_CLOSED, OperatorAction.PLAN_CHANGED, OperatorAction.TRIAL_EXTENDED,
    OperatorAction.DOMAIN_ADDED, OperatorAction.DOMAIN_REMOVED, OperatorAction.PROVISIONING_RETRIED,
    OperatorAction.SUPPORT_STARTED, OperatorAction.SUPPORT_SIGNED_IN, OperatorAction.SUPPORT_PAGE,
    OperatorAction.SUPPORT_ENDED, OperatorAction.SUPPORT_REVOKED,
})


class SupportEndReason(models.TextChoices):
    ENDED = "ended", _("运营人员结束")
    EXPIRED = "expired", _("到期自动结束")
    LOGGED_OUT = "logged_out", _("退出登录")
    REVOKED = "revoked", _("运营控制台撤销")
