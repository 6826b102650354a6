"""Human labels for audit rows: the action and the field names, in the reader's language."""

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

register = template.Library()

ACTION_LABELS = {
    "create": _("创建"),
    "update": _("修改"),
    "delete": _("删除"),
    "bulk_update": _("批量修改"),
    "deactivate": _("停用"),
    "reactivate": _("恢复"),
    "complete": _("完成"),
}


@register.filter
def audit_action(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@register.filter
def audit_field(entry, field: str) -> str:
    model = entry.content_type.model_class() if entry.content_type_id else None
    if model is None:
        return field
    try:
        return str(model._meta.get_field(field).verbose_name)
    except FieldDoesNotExist:
        return field
