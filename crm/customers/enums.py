from django.db import models
from django.utils.translation import gettext_lazy as _


class CustomerKind(models.TextChoices):
    COMPANY = "company", _("企业")
    INDIVIDUAL = "individual", _("个人")


# The default lifecycle; a business mode may define its own list (TenantConfig.customer_stages).
DEFAULT_STAGES = {
    "prospect": _("潜在客户"),
    "lead": _("线索"),
    "opportunity": _("商机"),
    "customer": _("成交客户"),
    "vip": _("VIP 客户"),
    "lost": _("流失"),
}


class CustomerLevel(models.TextChoices):
    A = "A", _("A 级（重点）")
    B = "B", _("B 级（普通）")
    C = "C", _("C 级（一般）")
    D = "D", _("D 级（低价值）")


class OwnershipReason(models.TextChoices):
    CREATED = "created", _("新建")
    TRANSFER = "transfer", _("转移")
    HANDOVER = "handover", _("离职交接")
    RELEASED = "released", _("释放到公海")
    CLAIMED = "claimed", _("从公海领取")
    ASSIGNED = "assigned", _("从公海分配")
    MERGED = "merged", _("合并")


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("文本")
    NUMBER = "number", _("数字")
    DATE = "date", _("日期")
    CHOICE = "choice", _("单选")


class ContactRole(models.TextChoices):
    DECISION_MAKER = "decision_maker", _("决策者")
    INFLUENCER = "influencer", _("影响者")
    USER = "user", _("使用者")
    PURCHASER = "purchaser", _("采购")
    TECHNICAL = "technical", _("技术把关")
    OTHER = "other", _("其他")
