from django.db import models
from django.utils.translation import gettext_lazy as _


class Scope(models.TextChoices):
    """How far a role sees customer-facing records. Ordered from narrow to wide."""

    OWN = "own", _("本人")
    DEPARTMENT = "department", _("本部门及下级")
    REGION = "region", _("本区域及下级")
    ALL = "all", _("全部")


SCOPE_RANK = {Scope.OWN: 0, Scope.DEPARTMENT: 1, Scope.REGION: 2, Scope.ALL: 3}


class UserKind(models.TextChoices):
    """Staff work in the web app and the staff API; partner users (a distributor's people, see
    crm.partners) reach only the partner portal (/portal/, /api/v1/portal/)."""

    STAFF = "staff", _("员工")
    PARTNER = "partner", _("渠道伙伴用户")


class Permission(models.TextChoices):
    """Permission codes that custom roles are built from. Later apps add theirs here."""

    MANAGE_STAFF = "org.manage_staff", _("管理员工（邀请、编辑、停用）")
    MANAGE_ROLES = "org.manage_roles", _("管理角色与权限")
    MANAGE_STRUCTURE = "org.manage_structure", _("管理部门与区域")
    MANAGE_SETTINGS = "org.manage_settings", _("管理公司设置与业务模式")
    VIEW_AUDIT = "audit.view", _("查看审计记录")
    VIEW_REPORTS = "analytics.view", _("查看报表")
    MANAGE_CATALOG = "catalog.manage", _("管理产品、分类与价格表")
    MANAGE_STOCK = "catalog.manage_stock", _("管理仓库与库存")
    MANAGE_APPROVAL_POLICIES = "approvals.manage_policies", _("管理审批流程")
    MANAGE_INTEGRATIONS = "integrations.manage", _("管理系统集成（Webhook 与 ERP 接口）")
    MANAGE_ORDERS = "orders.manage", _("管理可见范围内的所有订单（修改、提交、取消他人的订单）")
    CLOSE_ORDERS = "orders.close", _("关闭订单")
    MANAGE_FINANCE = "finance.manage", _("开票、登记回款、设置客户信用额度")
    MANAGE_PARTNERS = "partners.manage", _("管理渠道伙伴（新建、停用、等级、配额、伙伴用户）")


class SystemRole(models.TextChoices):
    TENANT_ADMIN = "tenant_admin", _("系统管理员")
    EXECUTIVE = "executive", _("高管")
    REGIONAL_MANAGER = "regional_manager", _("区域经理")
    SALESPERSON = "salesperson", _("业务员")
    BUSINESS_SECRETARY = "business_secretary", _("商务秘书")
    FINANCE = "finance", _("财务")
    WAREHOUSE = "warehouse", _("仓库")
    SERVICE = "service", _("客服")
    CHANNEL_MANAGER = "channel_manager", _("渠道经理")


# Seeded into every tenant when its mode is applied: (code, English name, scope, permissions)
SYSTEM_ROLE_DEFAULTS: dict[str, tuple[str, str, list[str]]] = {
    SystemRole.TENANT_ADMIN: ("Tenant admin", Scope.ALL, [p.value for p in Permission]),
    SystemRole.EXECUTIVE: ("Executive", Scope.ALL, [Permission.VIEW_AUDIT, Permission.VIEW_REPORTS]),
    SystemRole.REGIONAL_MANAGER: ("Regional manager", Scope.REGION, [Permission.VIEW_REPORTS, Permission.MANAGE_ORDERS]),
    SystemRole.SALESPERSON: ("Salesperson", Scope.OWN, []),
    SystemRole.BUSINESS_SECRETARY: ("Business secretary", Scope.ALL, [Permission.MANAGE_CATALOG, Permission.MANAGE_ORDERS,
                                                                       Permission.CLOSE_ORDERS]),
    SystemRole.FINANCE: ("Finance", Scope.ALL, [Permission.VIEW_REPORTS, Permission.MANAGE_FINANCE,
                                                Permission.CLOSE_ORDERS]),
    SystemRole.WAREHOUSE: ("Warehouse", Scope.ALL, [Permission.MANAGE_STOCK]),
    SystemRole.SERVICE: ("Service", Scope.DEPARTMENT, []),
    # Owns partners (crm.partners): approves their orders' first step and their deal registrations.
    SystemRole.CHANNEL_MANAGER: ("Channel manager", Scope.OWN, [Permission.MANAGE_PARTNERS]),
}
