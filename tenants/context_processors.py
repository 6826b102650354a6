from django.db import connection
from django.utils.translation import gettext as _

from .enums import TenantStatus


def tenant(request):
    current = getattr(request, "tenant", None) or getattr(connection, "tenant", None)
    if current is None or getattr(current, "schema_name", "public") == "public":
        return {"tenant": None, "tenant_banner": None}
    banner = None
    if current.status == TenantStatus.SUSPENDED:
        banner = _("本空间已暂停，目前只读：%(reason)s") % {
            "reason": current.status_reason or _("请联系管理员")}
    return {"tenant": current, "tenant_banner": banner}
