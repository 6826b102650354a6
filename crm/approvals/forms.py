"""Web forms of the approval pages. The policy editor's steps are plain rows of POST fields
(``steps-<n>-<field>``) so that adding, removing and reordering work without JavaScript."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.org.selectors import staff_list

from . import registry

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def doc_type_choices() -> list[tuple[str, str]]:
    return [(d.key, str(d.label)) for d in registry.all_types()]


class DelegationForm(forms.Form):
    to_user = forms.ModelChoiceField(label=_("代理人"), queryset=None)
    starts_at = forms.DateTimeField(label=_("开始时间"), input_formats=DATETIME_FORMATS, required=False,
                                    widget=DateTimeLocalInput(), help_text=_("留空表示立即开始"))
    ends_at = forms.DateTimeField(label=_("结束时间"), input_formats=DATETIME_FORMATS, widget=DateTimeLocalInput())
    doc_types = forms.MultipleChoiceField(label=_("单据类型"), required=False, widget=forms.CheckboxSelectMultiple,
                                          help_text=_("不选表示全部类型"))
    reason = forms.CharField(label=_("原因"), max_length=200, required=False)

    def __init__(self, *args, actor, admin: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        colleagues = staff_list(actor=actor, include_inactive=False)
        # an admin may name themselves as someone else's delegate
        self.fields["to_user"].queryset = colleagues if admin else colleagues.exclude(pk=actor.pk)
        self.fields["to_user"].label_from_instance = lambda u: u.full_name
        self.fields["doc_types"].choices = doc_type_choices()
        if admin:
            self.fields["from_user"] = forms.ModelChoiceField(
                label=_("委托人"), queryset=colleagues, required=False, empty_label=_("（我自己）"),
                help_text=_("管理员可以替休假的同事设置委托"))
            self.fields["from_user"].label_from_instance = lambda u: u.full_name
            self.order_fields(["from_user", "to_user", "starts_at", "ends_at", "doc_types", "reason"])
