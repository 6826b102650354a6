from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.enums import TenantStatus
from tenants.modes import mode_choices

from .enums import OperatorAction
from .selectors import ACTIVITY_CHOICES, SORTS


class TenantCreateForm(forms.Form):
    name = forms.CharField(label=_("公司名称"), max_length=200)
    slug = forms.CharField(label=_("子域名"), max_length=40,
                           help_text=_("3 到 40 个小写字母、数字或连字符"))
    mode = forms.ChoiceField(label=_("业务模式"), choices=mode_choices)
    language = forms.ChoiceField(label=_("默认语言"), choices=settings.LANGUAGES)
    admin_name = forms.CharField(label=_("管理员姓名"), max_length=150)
    admin_email = forms.EmailField(label=_("管理员邮箱"))
    admin_password = forms.CharField(label=_("管理员初始密码"), widget=forms.PasswordInput, min_length=8)


class LoginForm(forms.Form):
    email = forms.EmailField(label=_("邮箱"), max_length=254)
    password = forms.CharField(label=_("密码"), widget=forms.PasswordInput, max_length=200)


class CodeForm(forms.Form):
    code = forms.CharField(label=_("验证码"), max_length=12,
                           help_text=_("身份验证器应用中显示的 6 位数字"),
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                         "inputmode": "numeric"}))


def _blank(label):
    return [("", label)]


class TenantFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(required=False, choices=_blank(_("全部状态")) + list(TenantStatus.choices))
    mode = forms.ChoiceField(required=False, choices=())
    plan = forms.ChoiceField(required=False, choices=())
    created_from = forms.DateField(required=False, label=_("创建于（起）"))
    created_to = forms.DateField(required=False, label=_("创建于（止）"))
    activity = forms.ChoiceField(required=False, choices=ACTIVITY_CHOICES)
    sort = forms.ChoiceField(required=False, choices=[(k, k) for k in SORTS])

    def __init__(self, *args, plans=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = _blank(_("全部模式")) + list(mode_choices())
        self.fields["plan"].choices = _blank(_("全部套餐")) + [(p.code, p.display_name) for p in plans]

    def clean(self):
        data = super().clean()
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", _("结束日期不能早于开始日期。"))
        return data


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=500)


class LogFilterForm(forms.Form):
    operator = forms.CharField(required=False, max_length=254)
    action = forms.ChoiceField(required=False, choices=_blank(_("全部操作")) + list(OperatorAction.choices))
    tenant = forms.CharField(required=False, max_length=100)
    date_from = forms.DateField(required=False)
    date_to = forms.DateField(required=False)
