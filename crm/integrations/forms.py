"""Forms of the integrations pages: they translate input into what the services take; the
rules themselves live in the services (the forms only check types)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .enums import ALL_EVENTS, ErpScope, WebhookEventType


def event_choices() -> list[tuple[str, str]]:
    return [(ALL_EVENTS, _("全部事件（包括以后新增的）")), *WebhookEventType.choices]


class EndpointForm(forms.Form):
    url = forms.CharField(label=_("接收地址"), max_length=500,
                          widget=forms.URLInput(attrs={"placeholder": "https://erp.example.com/qiao/webhooks"}),
                          help_text=_("必须是 https 地址；Qiao 会向它 POST 签名的 JSON。"))
    description = forms.CharField(label=_("说明"), max_length=200, required=False)
    events = forms.MultipleChoiceField(label=_("订阅的事件"), choices=event_choices,
                                       widget=forms.CheckboxSelectMultiple)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    @property
    def main_fields(self):
        return [self[n] for n in self.fields if n != "version"]


class ErpClientForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": _("例如：用友 U8 生产环境")}))
    scopes = forms.MultipleChoiceField(label=_("权限范围"), choices=ErpScope.choices,
                                       widget=forms.CheckboxSelectMultiple,
                                       initial=[ErpScope.STOCK_LEVELS, ErpScope.SHIPMENTS, ErpScope.PAYMENTS])
