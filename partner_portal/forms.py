from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from crm.partners.selectors import portal_member_active


class PortalLoginForm(AuthenticationForm):
    """Email and password of a partner user. Staff accounts are refused with a pointer to the
    staff login; users of a suspended or terminated partner are told so."""

    username = forms.EmailField(label=_("邮箱"), max_length=254,
                                widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}))
    error_messages = {
        "invalid_login": _("邮箱或密码不正确。"),
        "inactive": _("此账号已停用。"),
        "staff": _("这是员工账号，请从员工登录页（/login/）登录；渠道门户只供渠道伙伴使用。"),
        "locked": _("你所在的渠道伙伴已暂停或终止合作，暂时无法登录渠道门户。如有疑问请联系你的渠道经理。"),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_partner_user:
            raise forms.ValidationError(self.error_messages["staff"], code="staff")
        if portal_member_active(user) is None:
            raise forms.ValidationError(self.error_messages["locked"], code="locked")


class OrderHeaderForm(forms.Form):
    """The delivery fields of a partner order (the service checks them again)."""

    delivery_address = forms.CharField(label=_("收货地址"), max_length=300, required=False)
    delivery_contact = forms.CharField(label=_("收货人"), max_length=100, required=False)
    delivery_phone = forms.CharField(label=_("收货电话"), max_length=40, required=False)
    delivery_date = forms.DateField(label=_("交货日期"), required=False,
                                    widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("备注"), required=False, max_length=2000,
                            widget=forms.Textarea(attrs={"rows": 2}))
