from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from tenants.modes import mode_choices


class TenantCreateForm(forms.Form):
    name = forms.CharField(label=_("公司名称"), max_length=200)
    slug = forms.CharField(label=_("子域名"), max_length=40,
                           help_text=_("3 到 40 个小写字母、数字或连字符"))
    mode = forms.ChoiceField(label=_("业务模式"), choices=mode_choices)
    language = forms.ChoiceField(label=_("默认语言"), choices=settings.LANGUAGES)
    admin_name = forms.CharField(label=_("管理员姓名"), max_length=150)
    admin_email = forms.EmailField(label=_("管理员邮箱"))
    admin_password = forms.CharField(label=_("管理员初始密码"), widget=forms.PasswordInput, min_length=8)
