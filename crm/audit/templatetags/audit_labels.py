"""Human labels for audit rows: the action and the field names, in the reader's language."""

from django import template
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

register = template.Library()

ACTION_LABELS = {
    "create": _("创建"),
    "support_start": _("客服代登录开始"),
    "support_end": _("客服代登录结束"),
    "update": _("修改"),
    "delete": _("删除"),
    "bulk_update": _("批量修改"),
    "deactivate": _("停用"),
    "reactivate": _("恢复"),
    "complete": _("完成"),
    "move": _("移动"),
    "plan": _("计划"),
    "cancel": _("取消"),
    "done": _("完成"),
    "release": _("释放到公海"),
    "merge": _("合并"),
    "merged": _("被合并"),
    "merge_undone": _("撤销合并"),
    "submit": _("提交审批"),
    "approve": _("审批通过"),
    "reject": _("驳回"),
    "recall": _("撤回"),
    "end": _("结束"),
    "send": _("发送"),
    "accept": _("接受"),
    "expire": _("过期"),
    "convert": _("转为订单"),
    "won": _("赢单"),
    "lost": _("输单"),
    "reopen": _("重新打开"),
    "transfer": _("转移"),
    "handover": _("离职交接"),
    "claimed": _("从公海领取"),
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
