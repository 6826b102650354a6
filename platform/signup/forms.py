from django import forms
from django.utils.translation import gettext_lazy as _

from billing.enums import Interval
from billing.selectors import plan_list
from tenants.modes import MODES


def _plan_choices():
    return [(plan.code, plan.display_name) for plan in plan_list(public=True)]


def _mode_choices():
    return [(mode.key, mode.name()) for mode in MODES.values()]


class SignupForm(forms.Form):
    """Types and lengths only; the rules (subdomain, password strength, plan) are checked by
    ``signup.services.signup_validate``, so the form and any other entry point agree."""

    name = forms.CharField(label=_("公司名称"), max_length=200)
    slug = forms.CharField(label=_("子域名"), max_length=63,
                           help_text=_("3 到 40 个小写字母、数字或连字符，即你的专属网址"))
    mode = forms.ChoiceField(label=_("业务模式"), choices=_mode_choices, widget=forms.RadioSelect)
    admin_name = forms.CharField(label=_("管理员姓名"), max_length=150)
    admin_email = forms.EmailField(label=_("管理员邮箱"), max_length=254)
    password = forms.CharField(label=_("登录密码"), max_length=128, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    plan = forms.ChoiceField(label=_("套餐"), choices=_plan_choices, widget=forms.RadioSelect)
    interval = forms.ChoiceField(label=_("付费周期"), choices=Interval.choices, required=False,
                                 initial=Interval.MONTH, widget=forms.RadioSelect)
    form_token = forms.CharField(widget=forms.HiddenInput, max_length=200, required=False)
