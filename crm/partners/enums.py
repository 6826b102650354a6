from django.db import models
from django.utils.translation import gettext_lazy as _


class PartnerStatus(models.TextChoices):
    ACTIVE = "active", _("合作中")
    SUSPENDED = "suspended", _("已暂停")
    TERMINATED = "terminated", _("已终止")


# from -> the statuses it may move to (the single source of truth of the partner lifecycle)
PARTNER_TRANSITIONS = {
    PartnerStatus.ACTIVE: {PartnerStatus.SUSPENDED, PartnerStatus.TERMINATED},
    PartnerStatus.SUSPENDED: {PartnerStatus.ACTIVE, PartnerStatus.TERMINATED},
    PartnerStatus.TERMINATED: set(),
}


class MemberRole(models.TextChoices):
    ADMIN = "admin", _("伙伴管理员")
    SALES = "sales", _("伙伴销售")


class QuotaPeriod(models.TextChoices):
    MONTH = "month", _("月度")
    QUARTER = "quarter", _("季度")
    YEAR = "year", _("年度")


class DealStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已批准（保护期内）")
    REJECTED = "rejected", _("已驳回")
    EXPIRED = "expired", _("保护期已过")
    WITHDRAWN = "withdrawn", _("已撤回")


DEAL_TRANSITIONS = {
    DealStatus.PENDING: {DealStatus.APPROVED, DealStatus.REJECTED, DealStatus.WITHDRAWN},
    DealStatus.APPROVED: {DealStatus.EXPIRED, DealStatus.WITHDRAWN},
    DealStatus.REJECTED: set(),
    DealStatus.EXPIRED: set(),
    DealStatus.WITHDRAWN: set(),
}


class StockDisplay(models.TextChoices):
    """What the portal's catalog tells partners about stock."""

    LEVEL = "level", _("只显示有货 / 库存紧张 / 缺货")
    EXACT = "exact", _("显示可用数量")
