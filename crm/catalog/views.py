"""Staff web pages of the catalog: products (list with as-you-type search, detail, forms),
categories, price lists, warehouses and stock. Every staff member reads them; the write
controls appear only to those who may use them, and the views check again (403)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.audit.selectors import audit_trail_for

from . import selectors, services
from .forms import (
    CategoryForm,
    PriceListForm,
    PriceListItemForm,
    ProductForm,
    StockAdjustForm,
    StockReceiveForm,
    WarehouseForm,
)
from .permissions import can_manage_catalog, can_manage_stock
from .search import sku_normalize

PAGE_SIZE = 50


# -- helpers ------------------------------------------------------------------------------------------
def _or_404(fn, **kwargs):
    try:
        return fn(**kwargs)
    except ObjectDoesNotExist:
        raise Http404 from None


def _need(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _form_errors(form, exc: ValidationError, aliases: dict[str, str] | None = None) -> None:
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            target = aliases.get(field, field)
            for message in errors:
                form.add_error(target if target in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _product_by_sku(actor, form, field: str = "product"):
    """The product a form names by SKU, or None with the error on the field."""
    sku = sku_normalize(form.cleaned_data.get(field, ""))
    product = selectors.product_list_visible_to(actor=actor).filter(sku=sku).first()
    if product is None:
        form.add_error(field, _("没有 SKU 为“%(sku)s”的产品。") % {"sku": sku})
    return product


def _flags(user) -> dict:
    return {"can_manage": can_manage_catalog(user), "can_manage_stock": can_manage_stock(user)}


# -- products -------------------------------------------------------------------------------------------
@login_required
def product_list(request):
    user = request.user
    q = request.GET.get("q", "").strip()[:100]
    active_flag = request.GET.get("active", "true")
    active = {"true": True, "false": False, "all": None}.get(active_flag, True)
    error = None
    try:
        qs = selectors.product_list(actor=user, q=q, category_id=request.GET.get("category") or None,
                                    active=active, sort="sku")
    except ValidationError as exc:
        error = " ".join(exc.messages)
        qs = selectors.product_list_visible_to(actor=user).none()
    after = request.GET.get("after", "")
    if after:
        qs = qs.filter(sku__gt=after)
    rows = list(qs[:PAGE_SIZE + 1])
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        params = request.GET.copy()
        params["after"] = rows[-1].sku
        next_url = "?" + params.urlencode()
    filtered = bool(q or request.GET.get("category") or active_flag != "true")
    context = {"products": rows, "next_url": next_url, "is_first_page": not after, "q": q,
               "f": request.GET, "active_flag": active_flag, "filtered": filtered, "filter_error": error,
               "categories": selectors.category_list_visible_to(actor=user), **_flags(user)}
    if getattr(request, "htmx", False) and request.htmx.target == "product-results":
        return render(request, "catalog/_product_rows.html", context)
    return render(request, "catalog/product_list.html", context)


@login_required
def product_suggest(request):
    """As-you-type suggestions for SKU inputs (``<option>`` rows of a datalist)."""
    q = next((v for v in request.GET.values() if v.strip()), "")  # the one input that asks
    products = selectors.product_search_as_you_type(actor=request.user, q=q.strip(), limit=10)
    return render(request, "catalog/_product_options.html", {"products": products})


@login_required
def product_detail(request, product_id: int):
    user = request.user
    product = _or_404(selectors.product_get, actor=user, product_id=product_id)
    stock = selectors.stock_for_product(actor=user, product_id=product.pk)
    return render(request, "catalog/product_detail.html", {
        "product": product, "prices": selectors.product_prices(actor=user, product=product),
        "stock": stock, "totals": {"on_hand": sum(s.on_hand for s in stock),
                                   "reserved": sum(s.reserved for s in stock),
                                   "available": sum(s.available for s in stock)},
        "movements": selectors.movement_list(actor=user, product_id=product.pk)[:20],
        "trail": audit_trail_for(instance=product), **_flags(user),
    })


@login_required
def product_create(request):
    _need(can_manage_catalog(request.user))
    categories = selectors.category_list_visible_to(actor=request.user)
    form = ProductForm(request.POST or None, categories=categories)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=request.user, data=form.service_data())
        except ValidationError as exc:
            _form_errors(form, exc, {"category_id": "category"})
        else:
            messages.success(request, _("已创建产品“%(name)s”。") % {"name": product.name})
            return redirect("catalog:product-detail", product_id=product.pk)
    return render(request, "catalog/product_form.html", {"form": form, "product": None})


@login_required
def product_edit(request, product_id: int):
    product = _or_404(selectors.product_get, actor=request.user, product_id=product_id)
    _need(can_manage_catalog(request.user))
    categories = list(selectors.category_list_visible_to(actor=request.user))
    if product.category_id and product.category not in categories:
        categories.append(product.category)  # an inactive category it still has
    form = ProductForm(request.POST or None, categories=categories, initial=ProductForm.initial_for(product))
    stale = False
    if request.method == "POST" and form.is_valid():
        try:
            services.product_update(actor=request.user, product_id=product.pk, data=form.service_data(),
                                    version=form.cleaned_data.get("version"))
        except services.StaleVersion:
            stale = True
            form.add_error(None, _("这个产品已被他人修改，请刷新页面查看最新内容后再保存。"))
        except ValidationError as exc:
            _form_errors(form, exc, {"category_id": "category"})
        else:
            messages.success(request, _("已保存。"))
            return redirect("catalog:product-detail", product_id=product.pk)
    return render(request, "catalog/product_form.html", {"form": form, "product": product, "stale": stale})


@login_required
@require_POST
def product_set_active(request, product_id: int, active: bool):
    product = _or_404(selectors.product_get, actor=request.user, product_id=product_id)
    _need(can_manage_catalog(request.user))
    try:
        if active:
            services.product_reactivate(actor=request.user, product_id=product.pk)
        else:
            services.product_deactivate(actor=request.user, product_id=product.pk)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已恢复在售。") if active else _("已停售。"))
    return redirect("catalog:product-detail", product_id=product.pk)


# -- categories -----------------------------------------------------------------------------------------------
@login_required
def category_list(request):
    user = request.user
    active = list(selectors.category_list_visible_to(actor=user))
    form = CategoryForm(request.POST or None, categories=active)
    if request.method == "POST":
        _need(can_manage_catalog(user))
        if form.is_valid():
            try:
                category = services.category_create(actor=user, name=form.cleaned_data["name"],
                                                    parent_id=form.cleaned_data.get("parent") or None)
            except ValidationError as exc:
                _form_errors(form, exc, {"parent_id": "parent"})
            else:
                messages.success(request, _("已创建分类“%(name)s”。") % {"name": category.name})
                return redirect("catalog:categories")
    return render(request, "catalog/categories.html", {
        "categories": selectors.category_list_visible_to(actor=user, include_inactive=True),
        "active_categories": active, "form": form, **_flags(user)})


@login_required
@require_POST
def category_change(request, category_id: int):
    """Rename, move, deactivate or reactivate one category (the ``op`` field says which)."""
    user = request.user
    category = _or_404(selectors.category_get, actor=user, category_id=category_id)
    _need(can_manage_catalog(user))
    op = request.POST.get("op", "")
    try:
        if op == "rename":
            services.category_update(actor=user, category_id=category.pk, name=request.POST.get("name", ""))
        elif op == "move":
            services.category_move(actor=user, category_id=category.pk,
                                   parent_id=request.POST.get("parent") or None)
        elif op == "deactivate":
            services.category_deactivate(actor=user, category_id=category.pk)
        elif op == "reactivate":
            services.category_reactivate(actor=user, category_id=category.pk)
        else:
            raise ValidationError(_("未知操作。"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已保存。"))
    return redirect("catalog:categories")


# -- price lists --------------------------------------------------------------------------------------------------
@login_required
def price_list_list(request):
    return render(request, "catalog/price_lists.html", {
        "price_lists": selectors.price_list_list(actor=request.user), **_flags(request.user)})


@login_required
def price_list_detail(request, price_list_id: int):
    user = request.user
    price_list = _or_404(selectors.price_list_get, actor=user, price_list_id=price_list_id)
    form = PriceListItemForm(request.POST or None)
    if request.method == "POST":
        _need(can_manage_catalog(user))
        if form.is_valid():
            product = _product_by_sku(user, form)
            if product is not None:
                try:
                    services.price_list_item_add(actor=user, price_list_id=price_list.pk, product_id=product.pk,
                                                 unit_price=form.cleaned_data["unit_price"],
                                                 min_quantity=form.cleaned_data["min_quantity"])
                except ValidationError as exc:
                    _form_errors(form, exc, {"product_id": "product"})
                else:
                    messages.success(request, _("已添加“%(name)s”的价格。") % {"name": product.name})
                    return redirect("catalog:price-list-detail", price_list_id=price_list.pk)
    return render(request, "catalog/price_list_detail.html", {
        "price_list": price_list, "items": selectors.price_list_items(price_list=price_list)[:1000],
        "form": form, "trail": audit_trail_for(instance=price_list), **_flags(user)})


@login_required
def price_list_edit(request, price_list_id: int | None = None):
    user = request.user
    price_list = None
    if price_list_id is not None:
        price_list = _or_404(selectors.price_list_get, actor=user, price_list_id=price_list_id)
    _need(can_manage_catalog(user))
    initial = PriceListForm.initial_for(price_list) if price_list else {"kind": "standard", "currency": "CNY"}
    form = PriceListForm(request.POST or None, initial=initial)
    stale = False
    if request.method == "POST" and form.is_valid():
        try:
            if price_list is None:
                saved = services.price_list_create(actor=user, data=form.service_data())
            else:
                saved = services.price_list_update(actor=user, price_list_id=price_list.pk,
                                                   data=form.service_data(), version=form.cleaned_data.get("version"))
        except services.StaleVersion:
            stale = True
            form.add_error(None, _("这个价格表已被他人修改，请刷新页面查看最新内容后再保存。"))
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("已保存价格表“%(name)s”。") % {"name": saved.name})
            return redirect("catalog:price-list-detail", price_list_id=saved.pk)
    return render(request, "catalog/price_list_form.html", {"form": form, "price_list": price_list, "stale": stale})


@login_required
@require_POST
def price_list_deactivate(request, price_list_id: int):
    price_list = _or_404(selectors.price_list_get, actor=request.user, price_list_id=price_list_id)
    _need(can_manage_catalog(request.user))
    services.price_list_deactivate(actor=request.user, price_list_id=price_list.pk)
    messages.success(request, _("价格表已停用。"))
    return redirect("catalog:price-list-detail", price_list_id=price_list.pk)


@login_required
@require_POST
def price_list_item_remove(request, price_list_id: int, item_id: int):
    price_list = _or_404(selectors.price_list_get, actor=request.user, price_list_id=price_list_id)
    _need(can_manage_catalog(request.user))
    _or_404(services.price_list_item_remove, actor=request.user, price_list_id=price_list.pk, item_id=item_id)
    messages.success(request, _("已删除价格。"))
    return redirect("catalog:price-list-detail", price_list_id=price_list.pk)


# -- warehouses ---------------------------------------------------------------------------------------------------
@login_required
def warehouse_list(request):
    user = request.user
    form = WarehouseForm(request.POST or None)
    if request.method == "POST":
        _need(can_manage_stock(user))
        if form.is_valid():
            try:
                warehouse = services.warehouse_create(actor=user, data=form.service_data())
            except ValidationError as exc:
                _form_errors(form, exc, {"region_id": "region"})
            else:
                messages.success(request, _("已创建仓库“%(name)s”。") % {"name": warehouse.name})
                return redirect("catalog:warehouses")
    return render(request, "catalog/warehouses.html", {
        "warehouses": selectors.warehouse_list(actor=user), "form": form,
        "settings_row": selectors.catalog_settings_get(), **_flags(user)})


@login_required
def warehouse_edit(request, warehouse_id: int):
    user = request.user
    warehouse = _or_404(selectors.warehouse_get, actor=user, warehouse_id=warehouse_id)
    _need(can_manage_stock(user))
    form = WarehouseForm(request.POST or None, initial=WarehouseForm.initial_for(warehouse))
    stale = False
    if request.method == "POST" and form.is_valid():
        try:
            services.warehouse_update(actor=user, warehouse_id=warehouse.pk, data=form.service_data(),
                                      version=form.cleaned_data.get("version"))
        except services.StaleVersion:
            stale = True
            form.add_error(None, _("这个仓库已被他人修改，请刷新页面查看最新内容后再保存。"))
        except ValidationError as exc:
            _form_errors(form, exc, {"region_id": "region"})
        else:
            messages.success(request, _("已保存。"))
            return redirect("catalog:warehouses")
    return render(request, "catalog/warehouse_form.html", {"form": form, "warehouse": warehouse, "stale": stale})


@login_required
@require_POST
def warehouse_change(request, warehouse_id: int):
    """Deactivate, reactivate or make default (the ``op`` field says which)."""
    user = request.user
    warehouse = _or_404(selectors.warehouse_get, actor=user, warehouse_id=warehouse_id)
    _need(can_manage_stock(user))
    op = request.POST.get("op", "")
    try:
        if op == "deactivate":
            services.warehouse_deactivate(actor=user, warehouse_id=warehouse.pk)
        elif op == "reactivate":
            services.warehouse_reactivate(actor=user, warehouse_id=warehouse.pk)
        elif op == "default":
            services.catalog_settings_update(actor=user, default_warehouse_id=warehouse.pk)
        else:
            raise ValidationError(_("未知操作。"))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已保存。"))
    return redirect("catalog:warehouses")


# -- stock -----------------------------------------------------------------------------------------------------------
@login_required
def stock(request):
    user = request.user
    warehouses = list(selectors.warehouse_list(actor=user, include_inactive=False))
    receive = StockReceiveForm(request.POST if request.POST.get("op") == "receive" else None, warehouses=warehouses,
                               prefix="receive")
    adjust = StockAdjustForm(request.POST if request.POST.get("op") == "adjust" else None, warehouses=warehouses,
                             prefix="adjust")
    if request.method == "POST":
        _need(can_manage_stock(user))
        form = receive if request.POST.get("op") == "receive" else adjust
        if form.is_bound and form.is_valid():
            product = _product_by_sku(user, form)
            if product is not None:
                try:
                    if form is receive:
                        services.stock_receive(actor=user, warehouse_id=int(form.cleaned_data["warehouse"]),
                                               product_id=product.pk, quantity=form.cleaned_data["quantity"],
                                               note=form.cleaned_data["note"])
                        message = _("已入库：%(name)s。") % {"name": product.name}
                    else:
                        services.stock_adjust(actor=user, warehouse_id=int(form.cleaned_data["warehouse"]),
                                              product_id=product.pk, counted=form.cleaned_data["counted"],
                                              reason=form.cleaned_data["reason"])
                        message = _("已按盘点调整：%(name)s。") % {"name": product.name}
                except ValidationError as exc:
                    _form_errors(form, exc, {"product_id": "product", "warehouse_id": "warehouse"})
                else:
                    messages.success(request, message)
                    return redirect(reverse("catalog:stock") + (f"?{request.GET.urlencode()}" if request.GET else ""))
    error = None
    try:
        levels = selectors.stock_list(actor=user, warehouse_id=request.GET.get("warehouse") or None,
                                      low=request.GET.get("low") == "1")
        q = request.GET.get("q", "").strip()[:100]
        if q:
            levels = levels.filter(Q(product__sku__startswith=sku_normalize(q)) | Q(product__name__icontains=q))
    except ValidationError as exc:
        error = " ".join(exc.messages)
        levels = selectors.stock_list(actor=user).none()
    return render(request, "catalog/stock.html", {
        "levels": levels[:500], "warehouses": warehouses, "f": request.GET, "filter_error": error,
        "receive": receive, "adjust": adjust,
        "movements": selectors.movement_list(actor=user)[:30], **_flags(user)})
