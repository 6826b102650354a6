from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from billing.entitlements import entitlements_current, module_for_path

from .permissions import can_manage_settings, can_manage_staff, is_tenant_admin


def navigation(request):
    """The staff shell's menu: the entries the tenant's business modes gave it, in order,
    keeping those whose module is installed and in the tenant's plan; then the admin's own
    entries."""
    if getattr(connection, "schema_name", "public") == "public" or not request.user.is_authenticated:
        return {}
    if getattr(request.user, "is_partner_user", False):  # the portal has its own menu
        return {}
    from .selectors import tenant_config_get

    english = (get_language() or "").startswith("en")
    plan = entitlements_current()
    items = []
    for entry in tenant_config_get().navigation:
        try:
            url = reverse(entry["url_name"])
        except NoReverseMatch:
            continue  # the module arrives with a later release
        module = module_for_path(url)
        if module is not None and not plan.has_module(module):
            continue  # not in the plan (billing.middleware refuses the page too)
        items.append({"key": entry["key"], "label": entry["name_en"] if english else entry["name_zh"],
                      "url": url})
    items.append({"key": "staff", "label": _("员工"), "url": reverse("org:staff-list")})
    if can_manage_settings(request.user) or can_manage_staff(request.user):
        items.append({"key": "settings", "label": _("设置"), "url": reverse("org:settings")})
    if is_tenant_admin(request.user):
        items.append({"key": "billing", "label": _("套餐与账单"), "url": reverse("org:billing")})
    current = request.path
    matching = [i["url"] for i in items if current == i["url"] or (i["url"] != "/" and current.startswith(i["url"]))]
    best = max(matching, key=len, default=None)  # /settings/billing/ is not also /settings/
    for item in items:
        item["active"] = item["url"] == best
    return {"nav_items": items}
