"""Forms of the sales pages: they translate input into what the services take; the rules
themselves (scope, stages, prices, transitions) live in the services (the forms check types)."""

from __future__ import annotations

import datetime

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class OpportunityForm(forms.Form):
    """Create (with ``stages``) or edit (without: the stage moves through its own forms)."""

    name = forms.CharField(label=_("商机名称"), max_length=200)
    customer = forms.IntegerField(label=_("客户"), min_value=1, widget=forms.HiddenInput,
                                  error_messages={"required": _("请选择客户。")})
    contact = forms.ChoiceField(label=_("联系人"), required=False)
    stage = forms.ChoiceField(label=_("阶段"), required=False)
    amount = forms.DecimalField(label=_("金额"), max_digits=20, decimal_places=6, min_value=0, required=False)
    currency = forms.CharField(label=_("币种"), max_length=3, initial="CNY")
    expected_close_date = forms.DateField(label=_("预计成交日期"), widget=DATE)
    probability = forms.IntegerField(label=_("赢率（%）"), min_value=0, max_value=100, required=False,
                                     help_text=_("留空则按阶段的默认赢率"))
    owner = forms.ChoiceField(label=_("负责人"), required=False)
    source = forms.CharField(label=_("来源"), max_length=50, required=False)
    next_step = forms.CharField(label=_("下一步"), max_length=300, required=False)
    lost_reason = forms.CharField(label=_("输单原因"), max_length=500, required=False,
                                  help_text=_("阶段为输单时必填"))
    notes = forms.CharField(label=_("备注"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, stages=None, contacts=(), owners=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.creating = stages is not None
        if self.creating:
            self.fields["stage"].choices = list(stages)
        else:
            del self.fields["stage"]
            del self.fields["lost_reason"]
        self.fields["contact"].choices = [("", "—")] + [(str(c.pk), c.name) for c in contacts]
        if owners:
            self.fields["owner"].choices = [("", _("我自己"))] + [(str(u.pk), u.full_name) for u in owners]
        else:
            del self.fields["owner"]

    @property
    def main_fields(self):
        return [self[n] for n in self.fields if n not in ("version", "customer")]

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        values = {
            "name": data["name"], "contact_id": data.get("contact") or None,
            "amount": data.get("amount") if data.get("amount") is not None else "0",
            "currency": data["currency"], "expected_close_date": data["expected_close_date"],
            "probability": data.get("probability"), "source": data.get("source", ""),
            "next_step": data.get("next_step", ""), "notes": data.get("notes", ""),
        }
        if "owner" in self.fields and data.get("owner"):
            values["owner_id"] = data["owner"]
        if self.creating:
            values.update(customer_id=data["customer"], stage=data.get("stage") or None,
                          lost_reason=data.get("lost_reason", ""))
        return values

    @staticmethod
    def initial_for(opportunity) -> dict:
        return {"name": opportunity.name, "customer": opportunity.customer_id,
                "contact": str(opportunity.contact_id or ""), "amount": opportunity.amount,
                "currency": opportunity.currency, "expected_close_date": opportunity.expected_close_date,
                "probability": opportunity.probability, "owner": str(opportunity.owner_id),
                "source": opportunity.source, "next_step": opportunity.next_step, "notes": opportunity.notes,
                "version": opportunity.version}


class QuoteHeaderForm(forms.Form):
    """The header of the quote editor (the lines are rows of their own, see views)."""

    customer = forms.IntegerField(label=_("客户"), min_value=1, widget=forms.HiddenInput,
                                  error_messages={"required": _("请选择客户。")})
    opportunity = forms.ChoiceField(label=_("商机"), required=False)
    contact = forms.ChoiceField(label=_("联系人"), required=False)
    currency = forms.CharField(label=_("币种"), max_length=3, initial="CNY")
    valid_until = forms.DateField(label=_("有效期至"), widget=DATE)
    notes = forms.CharField(label=_("备注与条款"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, opportunities=(), contacts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["opportunity"].choices = [("", "—")] + [(str(o.pk), o.name) for o in opportunities]
        self.fields["contact"].choices = [("", "—")] + [(str(c.pk), c.name) for c in contacts]
        if not self.is_bound and not self.initial.get("valid_until"):
            self.initial["valid_until"] = timezone.localdate() + datetime.timedelta(days=30)

    @property
    def main_fields(self):
        return [self[n] for n in ("opportunity", "contact", "currency", "valid_until")]


class LostForm(forms.Form):
    lost_reason = forms.CharField(label=_("输单原因"), max_length=500)
