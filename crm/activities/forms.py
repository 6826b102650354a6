from django import forms
from django.utils.translation import gettext_lazy as _

from crm.customers import selectors as customer_selectors
from crm.org.selectors import staff_list

from .enums import ActivityKind

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def _staff_label(user) -> str:
    return user.full_name


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=ActivityKind.choices, initial=ActivityKind.VISIT)
    contact = forms.ModelChoiceField(label=_("联系人"), queryset=None, required=False,
                                     empty_label=_("（不指定）"))
    subject = forms.CharField(label=_("主题"), max_length=200, required=False,
                              help_text=_("留空则自动生成"))
    occurred_at = forms.DateTimeField(label=_("时间"), input_formats=DATETIME_FORMATS,
                                      widget=DateTimeLocalInput())
    duration_minutes = forms.IntegerField(label=_("时长（分钟）"), required=False, min_value=0, max_value=1440)
    body = forms.CharField(label=_("内容"), widget=forms.Textarea(attrs={"rows": 4}), required=False)
    outcome = forms.CharField(label=_("结果"), max_length=500, required=False)
    participants = forms.ModelMultipleChoiceField(label=_("参与同事"), queryset=None, required=False)
    next_step = forms.CharField(label=_("下一步"), max_length=300, required=False)
    next_step_at = forms.DateTimeField(label=_("下一步时间"), input_formats=DATETIME_FORMATS, required=False,
                                       widget=DateTimeLocalInput(),
                                       help_text=_("填写后会自动生成一条待办任务并按时提醒"))

    def __init__(self, *args, actor, customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = customer_selectors.contact_list_visible_to(actor=actor).filter(
            customer_id=customer.pk, is_active=True).order_by("name", "pk")
        self.fields["participants"].queryset = staff_list(actor=actor, include_inactive=False).exclude(pk=actor.pk)
        self.fields["participants"].label_from_instance = _staff_label


class PlanVisitForm(forms.Form):
    customer = forms.IntegerField(label=_("客户编号"), min_value=1)
    owner = forms.ModelChoiceField(label=_("拜访人"), queryset=None)
    planned_at = forms.DateTimeField(label=_("计划时间"), input_formats=DATETIME_FORMATS, widget=DateTimeLocalInput())
    subject = forms.CharField(label=_("主题"), max_length=200, required=False)
    body = forms.CharField(label=_("说明"), widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, actor, owners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        self.fields["owner"].label_from_instance = _staff_label
        self.fields["owner"].initial = actor.pk


def apply_errors(form: forms.Form, exc) -> None:
    """A service's ValidationError shown on the form, each message on its field."""
    aliases = {"participant_ids": "participants", "contact_id": "contact", "planned_at": "planned_at"}
    for field, messages in exc.message_dict.items():
        name = aliases.get(field, field)
        form.add_error(name if name in form.fields else None, messages)
