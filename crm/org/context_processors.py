from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from .permissions import can_manage_settings, can_manage_staff


def navigation(request):
    """The staff shell's menu: the entries the tenant's business modes gave it, in order,
    keeping those whose module is installed; then the admin's own entries."""
    if getattr(connection, "schema_name", "public") == "public" or not request.user.is_authenticated:
        return {}
    if getattr(request.user, "is_partner_user", False):  # the portal has its own menu
        return {}
    from .selectors import tenant_config_get

    english = (get_language() or "").startswith("en")
    items = []
    for entry in tenant_config_get().navigation:
        try:
            url = reverse(entry["url_name"])
        except NoReverseMatch:
            continue  # the module arrives with a later release
        items.append({"key": entry["key"], "label": entry["name_en"] if english else entry["name_zh"],
                      "url": url})
    items.append({"key": "staff", "label": _("员工"), "url": reverse("org:staff-list")})
    if can_manage_settings(request.user) or can_manage_staff(request.user):
        items.append({"key": "settings", "label": _("设置"), "url": reverse("org:settings")})
    current = request.path
    for item in items:
        item["active"] = current == item["url"] or (item["url"] != "/" and current.startswith(item["url"]))
    return {"nav_items": items}
