"""The product's modules a plan can enable (Plan.modules). Core modules are always on."""

from django.utils.translation import gettext_lazy as _

MODULES: dict[str, object] = {
    "customers": _("客户"),
    "activities": _("拜访与跟进"),
    "sales": _("商机与报价"),
    "orders": _("订单与审批"),
    "finance": _("开票与回款"),
    "partners": _("渠道伙伴与门户"),
    "analytics": _("经营分析"),
    "integrations": _("集成（ERP、Webhook、API 令牌）"),
}
CORE_MODULES = frozenset({"customers", "activities"})
