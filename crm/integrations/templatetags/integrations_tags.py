from django import template

from crm.integrations.enums import event_type_label

register = template.Library()


@register.filter
def event_label(value: str) -> str:
    return event_type_label(value)
