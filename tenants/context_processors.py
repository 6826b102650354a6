from django.db import connection
from django.utils.translation import gettext as _

from .enums import TenantStatus


def _billing_banner(request, current) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    from crm.org.permissions import is_tenant_admin

    if getattr(user, "is_partner_user", False) or not is_tenant_admin(user):
        return None
    from billing.selectors import billing_banner_text, subscription_get

    return billing_banner_text(subscription_get(current.pk))


def tenant(request):
    current = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    if current is None or getattr(current, "schema_name", "public") == "public":
        return {"tenant": None, "tenant_banner": None, "billing_banner": None}
    banner = None
    if current.status == TenantStatus.SUSPENDED:
        banner = _("本空间已暂停，目前只读：%(reason)s") % {
            "reason": current.status_reason or _("请联系管理员")}
    billing = _billing_banner(request, current) if request is not None else None
    return {"tenant": current, "tenant_banner": banner or billing, "billing_banner": billing}
