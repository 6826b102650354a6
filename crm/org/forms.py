from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .models import Department, Region, Role


class EmailLoginForm(AuthenticationForm):
    username = forms.EmailField(label=_("邮箱"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("邮箱或密码不正确。"),
        "inactive": _("此账号已停用。"),
        "partner": _("这是渠道伙伴账号，请从渠道门户登录（/portal/login/）。"),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user.is_partner_user:
            raise forms.ValidationError(self.error_messages["partner"], code="partner")


class StaffPasswordResetForm(PasswordResetForm):
    """The staff sign-in's password reset: staff accounts only (partner users reset theirs in
    the portal, whose link leads back to the portal)."""

    def get_users(self, email):
        return (user for user in super().get_users(email) if not user.is_partner_user)


class StaffForm(forms.Form):
    email = forms.EmailField(label=_("邮箱"))
    full_name = forms.CharField(label=_("姓名"), max_length=150)
    title = forms.CharField(label=_("职务"), max_length=100, required=False)
    phone = forms.CharField(label=_("手机"), max_length=32, required=False)
    department_id = forms.ModelChoiceField(label=_("部门"), queryset=Department.objects.none(), required=False)
    region_id = forms.ModelChoiceField(label=_("区域"), queryset=Region.objects.none(), required=False)
    role_codes = forms.ModelMultipleChoiceField(label=_("角色"), queryset=Role.objects.none(),
                                                to_field_name="code", widget=forms.CheckboxSelectMultiple)
    language = forms.ChoiceField(label=_("界面语言"), required=False,
                                 choices=[("", _("跟随公司默认")), ("zh-hans", "简体中文"), ("en", "English")])
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department_id"].queryset = Department.objects.filter(is_active=True).order_by("path")
        self.fields["region_id"].queryset = Region.objects.filter(is_active=True).order_by("path")
        self.fields["role_codes"].queryset = Role.objects.order_by("-is_system", "id")
        self.fields["role_codes"].label_from_instance = lambda r: r.name(get_language() or "")
        self.fields["department_id"].label_from_instance = lambda n: "　" * n.depth + n.name
        self.fields["region_id"].label_from_instance = lambda n: "　" * n.depth + n.name

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "email": d["email"], "full_name": d["full_name"], "title": d.get("title") or "",
            "phone": d.get("phone") or "", "language": d.get("language") or "",
            "department_id": d["department_id"].pk if d.get("department_id") else None,
            "region_id": d["region_id"].pk if d.get("region_id") else None,
            "role_codes": [r.code for r in d["role_codes"]],
        }
