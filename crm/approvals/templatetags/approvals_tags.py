"""Small helpers of the approval templates."""

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.approvals import registry

register = template.Library()

ACTION_LABELS = {
    "submit": _("提交审批"),
    "approve": _("同意"),
    "reject": _("驳回"),
    "recall": _("撤回"),
    "create": _("创建"),
    "update": _("修改"),
    "end": _("结束"),
}


@register.filter
def doc_label(doc_type: str) -> str:
    return registry.label_of(doc_type)


@register.filter
def step_name(step) -> str:
    return step.name(get_language() or "")


@register.filter
def get_item(mapping, key):
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def approval_action(action: str) -> str:
    return ACTION_LABELS.get(action, action)
