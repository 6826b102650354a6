"""Forms of the staff web pages of customers and contacts: they translate input into the
``data`` dicts the services take; the rules themselves live in the services."""

from __future__ import annotations

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from crm.org.selectors import region_tree, staff_in_scope_of, staff_list

from .enums import ContactRole, CustomerKind, CustomerLevel, CustomFieldType
from .models import CustomFieldDefinition

CUSTOM_PREFIX = "custom__"


def _split(text: str) -> list[str]:
    for sep in ("，", "、", ";", "；", "\n"):
        text = text.replace(sep, ",")
    return [part.strip() for part in text.split(",") if part.strip()]


def region_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(str(r.pk), "\u3000" * r.depth + r.name) for r in region_tree()]


class CustomerForm(forms.Form):
    kind = forms.ChoiceField(label=_("类型"), choices=CustomerKind.choices, initial=CustomerKind.COMPANY)
    name = forms.CharField(label=_("名称"), max_length=200)
    short_name = forms.CharField(label=_("简称"), max_length=100, required=False)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=40, required=False)
    phone = forms.CharField(label=_("电话"), max_length=40, required=False)
    email = forms.CharField(label=_("邮箱"), max_length=254, required=False)
    industry = forms.CharField(label=_("行业"), max_length=100, required=False)
    region = forms.ChoiceField(label=_("区域"), required=False)
    address = forms.CharField(label=_("地址"), max_length=300, required=False)
    source = forms.CharField(label=_("来源"), max_length=50, required=False)
    stage = forms.ChoiceField(label=_("阶段"))
    level = forms.ChoiceField(label=_("等级"), required=False,
                              choices=[("", "—"), *CustomerLevel.choices])
    tags = forms.CharField(label=_("标签"), required=False, help_text=_("用逗号分隔"))
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    duplicate_override = forms.BooleanField(label=_("不是重复，仍然保存"), required=False)
    override_reason = forms.CharField(label=_("原因"), max_length=200, required=False)

    def __init__(self, *args, stages: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = list(stages.items())
        self.fields["region"].choices = region_choices()
        english = (get_language() or "").startswith("en")
        self.custom_codes: list[str] = []
        for definition in CustomFieldDefinition.objects.filter(is_active=True):
            name = CUSTOM_PREFIX + definition.code
            label = definition.label("en" if english else "zh-hans")
            if definition.type == CustomFieldType.NUMBER:
                field = forms.DecimalField(label=label, required=definition.required)
            elif definition.type == CustomFieldType.DATE:
                field = forms.DateField(label=label, required=definition.required,
                                        widget=forms.DateInput(attrs={"type": "date"}))
            elif definition.type == CustomFieldType.CHOICE:
                field = forms.ChoiceField(label=label, required=definition.required,
                                          choices=[("", "—")] + [(c, c) for c in definition.choices])
            else:
                field = forms.CharField(label=label, required=definition.required, max_length=1000)
            self.fields[name] = field
            self.custom_codes.append(definition.code)

    @property
    def main_fields(self):
        skip = {"version", "duplicate_override", "override_reason"}
        return [self[n] for n in self.fields if n not in skip and not n.startswith(CUSTOM_PREFIX)]

    @property
    def custom_fields(self):
        return [self[CUSTOM_PREFIX + code] for code in self.custom_codes]

    @staticmethod
    def initial_for(customer) -> dict:
        initial = {name: getattr(customer, name) for name in (
            "kind", "name", "short_name", "credit_code", "phone", "email", "industry", "address",
            "source", "stage", "level", "notes", "version")}
        initial["credit_code"] = customer.credit_code or ""
        initial["region"] = str(customer.region_id or "")
        initial["tags"] = ", ".join(customer.tags)
        for code, value in (customer.custom or {}).items():
            initial[CUSTOM_PREFIX + code] = value
        return initial

    def service_data(self) -> dict:
        d = self.cleaned_data
        data = {name: d[name] for name in (
            "kind", "name", "short_name", "credit_code", "phone", "email", "industry", "address",
            "source", "stage", "level", "notes")}
        data["region"] = next((r for r in region_tree() if str(r.pk) == d.get("region")), None)
        data["tags"] = _split(d.get("tags") or "")
        custom = {}
        for code in self.custom_codes:
            value = d.get(CUSTOM_PREFIX + code)
            if value not in (None, ""):
                custom[code] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        data["custom"] = custom
        return data


class ContactForm(forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=100)
    title = forms.CharField(label=_("职务"), max_length=100, required=False)
    department = forms.CharField(label=_("部门"), max_length=100, required=False)
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", "—"), *ContactRole.choices])
    phones = forms.CharField(label=_("电话"), required=False, help_text=_("多个用逗号分隔"))
    emails = forms.CharField(label=_("邮箱"), required=False, help_text=_("多个用逗号分隔"))
    wechat = forms.CharField(label=_("微信"), max_length=64, required=False)
    birthday = forms.DateField(label=_("生日"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    is_active = forms.BooleanField(label=_("有效"), required=False, initial=True)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, customers=None, **kwargs):
        super().__init__(*args, **kwargs)
        if customers is not None:  # editing: the contact may move to another visible customer
            self.fields["customer"] = forms.ChoiceField(
                label=_("客户"), choices=[(str(c.pk), c.name) for c in customers],
                help_text=_("换到另一家客户时，两边都会保留其任职记录"))
            self.order_fields(["customer"])

    @staticmethod
    def initial_for(contact) -> dict:
        initial = {name: getattr(contact, name) for name in (
            "name", "title", "department", "role", "wechat", "birthday", "notes", "is_active", "version")}
        initial["customer"] = str(contact.customer_id)
        initial["phones"] = ", ".join(contact.phones)
        initial["emails"] = ", ".join(contact.emails)
        return initial

    def service_data(self) -> dict:
        d = self.cleaned_data
        data = {name: d[name] for name in ("name", "title", "department", "role", "wechat", "birthday",
                                           "notes", "is_active")}
        data["phones"] = _split(d.get("phones") or "")
        data["emails"] = _split(d.get("emails") or "")
        return data


class HandoverForm(forms.Form):
    from_owner = forms.ChoiceField(label=_("交出客户的人"))
    to_owners = forms.MultipleChoiceField(label=_("接收人（可多选，客户平均分配）"),
                                          widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("备注"), max_length=500, required=False)

    def __init__(self, *args, actor, **kwargs):
        super().__init__(*args, **kwargs)
        everyone = [(str(u.pk), u.full_name) for u in staff_in_scope_of(actor=actor).order_by("full_name")]
        # a leaver is usually deactivated already: they may still hand over
        leavers = [(str(u.pk), u.full_name + ("" if u.is_active else " ✕"))
                   for u in staff_list(actor=actor).order_by("-is_active", "full_name")]
        self.fields["from_owner"].choices = [("", "—")] + leavers
        self.fields["to_owners"].choices = everyone
