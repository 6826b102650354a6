"""Forms of the catalog pages: they translate input into what the services take; the rules
themselves live in the services (the forms only check types)."""

from __future__ import annotations

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from crm.org.selectors import region_tree

from .enums import PriceListKind

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _tree_choices(nodes, *, blank: str = "—") -> list[tuple[str, str]]:
    return [("", blank)] + [(str(n.pk), "\u3000" * n.depth + n.name) for n in nodes]


class ProductForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=64)
    name = forms.CharField(label=_("产品名称"), max_length=200)
    spec = forms.CharField(label=_("规格型号"), max_length=200, required=False)
    unit = forms.CharField(label=_("单位"), max_length=16, initial="台")
    category = forms.ChoiceField(label=_("分类"), required=False)
    list_price = forms.DecimalField(label=_("目录价（元）"), max_digits=16, decimal_places=4, min_value=0)
    tax_rate = forms.DecimalField(label=_("税率"), max_digits=6, decimal_places=6, initial="0.13",
                                  help_text=_("例如 0.13 表示 13%"))
    currency = forms.CharField(label=_("币种"), max_length=3, initial="CNY")
    description = forms.CharField(label=_("描述"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _tree_choices(categories)

    @property
    def main_fields(self):
        return [self[n] for n in self.fields if n != "version"]

    def service_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k not in ("version", "category")}
        data["category_id"] = self.cleaned_data.get("category") or None
        return data

    @staticmethod
    def initial_for(product) -> dict:
        return {"sku": product.sku, "name": product.name, "spec": product.spec, "unit": product.unit,
                "category": str(product.category_id or ""), "list_price": product.list_price,
                "tax_rate": product.tax_rate.normalize(), "currency": product.currency,
                "description": product.description, "version": product.version}


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("分类名称"), max_length=100)
    parent = forms.ChoiceField(label=_("上级分类"), required=False)

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = _tree_choices(categories, blank=_("（顶级分类）"))


class PriceListForm(forms.Form):
    name = forms.CharField(label=_("价格表名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=PriceListKind.choices)
    code = forms.CharField(label=_("适用等级/级别"), max_length=32, required=False,
                           help_text=_("客户等级价填 A、B、C 或 D；渠道级别价填级别代码，如 gold"))
    currency = forms.CharField(label=_("币种"), max_length=3, initial="CNY")
    valid_from = forms.DateField(label=_("生效日期"), required=False, widget=DATE)
    valid_to = forms.DateField(label=_("失效日期（含）"), required=False, widget=DATE)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    @property
    def main_fields(self):
        return [self[n] for n in self.fields if n != "version"]

    def service_data(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}

    @staticmethod
    def initial_for(price_list) -> dict:
        return {"name": price_list.name, "kind": price_list.kind, "code": price_list.code,
                "currency": price_list.currency, "valid_from": price_list.valid_from,
                "valid_to": price_list.valid_to, "version": price_list.version}


class ProductPickField(forms.CharField):
    """A product named by its SKU (the page suggests SKUs while the user types)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("产品 SKU"))
        kwargs.setdefault("max_length", 64)
        super().__init__(**kwargs)
        self.widget.attrs.update({
            "autocomplete": "off", "list": "product-suggestions", "hx-get": reverse_lazy("catalog:product-suggest"),
            "hx-trigger": "input changed delay:200ms", "hx-target": "#product-suggestions", "hx-swap": "innerHTML"})


class PriceListItemForm(forms.Form):
    product = ProductPickField()
    unit_price = forms.DecimalField(label=_("单价（元）"), max_digits=18, decimal_places=6)
    min_quantity = forms.DecimalField(label=_("起订量"), max_digits=18, decimal_places=6, initial=1)


class WarehouseForm(forms.Form):
    code = forms.CharField(label=_("仓库编码"), max_length=32)
    name = forms.CharField(label=_("仓库名称"), max_length=100)
    address = forms.CharField(label=_("地址"), max_length=300, required=False)
    region = forms.ChoiceField(label=_("区域"), required=False)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = _tree_choices(region_tree())

    @property
    def main_fields(self):
        return [self[n] for n in self.fields if n != "version"]

    def service_data(self) -> dict:
        return {"code": self.cleaned_data["code"], "name": self.cleaned_data["name"],
                "address": self.cleaned_data["address"], "region_id": self.cleaned_data.get("region") or None}

    @staticmethod
    def initial_for(warehouse) -> dict:
        return {"code": warehouse.code, "name": warehouse.name, "address": warehouse.address,
                "region": str(warehouse.region_id or ""), "version": warehouse.version}


class _StockForm(forms.Form):
    warehouse = forms.ChoiceField(label=_("仓库"))
    product = ProductPickField()

    def __init__(self, *args, warehouses, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].choices = [(str(w.pk), f"{w.code} {w.name}") for w in warehouses]


class StockReceiveForm(_StockForm):
    quantity = forms.DecimalField(label=_("入库数量"), max_digits=18, decimal_places=6)
    note = forms.CharField(label=_("备注"), max_length=500, required=False)


class StockAdjustForm(_StockForm):
    counted = forms.DecimalField(label=_("盘点数量"), max_digits=18, decimal_places=6)
    reason = forms.CharField(label=_("调整原因"), max_length=500)
