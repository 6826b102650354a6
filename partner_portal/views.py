"""The portal's pages. Thin: request in, crm selectors and services out (crm.orders.partner,
crm.catalog.partner, crm.finance.partner, crm.partners.*). Every page is a PortalView."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crm.activities.selectors import notification_list_for
from crm.activities.services import notifications_mark_read
from crm.approvals.services import ApprovalConflict
from crm.catalog.partner import portal_catalog, portal_categories, portal_products
from crm.finance.partner import (
    partner_invoices_of_order,
    partner_invoices_visible_to,
    partner_payments_of_order,
    partner_payments_visible_to,
    partner_statement,
)
from crm.orders import partner as orders
from crm.orders.enums import OrderStatus
from crm.orders.idempotency import idempotency_claim, idempotency_store
from crm.orders.selectors import shipments_for_order
from crm.orders.services import StaleVersion, TransitionRefused
from crm.partners import services as partners
from crm.partners.enums import MemberRole
from crm.partners.selectors import members_of_partner, portal_member_active

from . import cart as carts
from .base import PortalView, deals_enabled, error_list, flash_errors
from .forms import OrderHeaderForm, PortalLoginForm

OPEN_STATUSES = (OrderStatus.DRAFT, OrderStatus.SUBMITTED, OrderStatus.IN_APPROVAL, OrderStatus.APPROVED,
                 OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED, OrderStatus.INVOICED)
FORM_TOKENS = "portal_form_tokens"


# -- sign-in ------------------------------------------------------------------------------------------------
class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = PortalLoginForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and portal_member_active(request.user) is not None:
            return redirect("portal:home")
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self):
        return reverse("portal:home")

    def get_redirect_url(self):
        url = super().get_redirect_url()
        return url if url.startswith("/portal/") else ""


class PortalLogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


class PartnerPasswordResetForm(PasswordResetForm):
    """Only partner users get a link from the portal (staff use the staff page)."""

    def get_users(self, email):
        return [u for u in super().get_users(email) if u.is_partner_user]


class PortalPasswordResetView(auth_views.PasswordResetView):
    template_name = "portal/password_reset.html"
    form_class = PartnerPasswordResetForm
    email_template_name = "portal/email/password_reset.txt"
    subject_template_name = "portal/email/password_reset_subject.txt"
    success_url = reverse_lazy("portal:password-reset-done")


class PortalPasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "portal/password_reset_done.html"


class PortalPasswordSetView(auth_views.PasswordResetConfirmView):
    """The invitation link (crm.partners.services.member_invite) and the reset link: set a password."""

    template_name = "portal/password_set.html"
    success_url = reverse_lazy("portal:password-set-done")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and user.is_partner_user else None


class PortalPasswordSetDoneView(auth_views.PasswordResetCompleteView):
    template_name = "portal/password_set_done.html"


# -- home --------------------------------------------------------------------------------------------------
class HomeView(PortalView):
    def get(self, request):
        from crm.partners.notices import notices_for_partner
        from crm.partners.quotas import quota_current_for_partner

        visible = orders.partner_order_list(actor=request.user)
        open_orders = list(visible.filter(status__in=OPEN_STATUSES)[:8])
        return self.render("portal/home.html", {
            "quotas": quota_current_for_partner(partner_id=self.partner.pk, customer_id=self.partner.customer_id),
            "open_orders": open_orders,
            "in_approval": visible.filter(status=OrderStatus.IN_APPROVAL).count(),
            "statement": partner_statement(actor=request.user, open_limit=5),
            "notices": notices_for_partner(partner=self.partner, language=get_language() or "zh-hans", limit=5),
        })


# -- catalog -----------------------------------------------------------------------------------------------
class CatalogView(PortalView):
    def get(self, request):
        q = request.GET.get("q", "").strip()
        category = request.GET.get("category", "").strip()
        try:
            qs = portal_catalog(actor=request.user, q=q, category_id=category or None)
        except ValidationError as exc:
            flash_errors(request, exc)
            qs = portal_catalog(actor=request.user)
            q, category = "", ""
        page = self.page_of(qs)
        return self.render("portal/catalog.html", {
            "page": page, "rows": portal_products(actor=request.user, products=page.object_list),
            "categories": portal_categories(actor=request.user), "q": q, "category": category})


# -- cart and order form ---------------------------------------------------------------------------------
def _form_token(request) -> str:
    token = uuid.uuid4().hex
    tokens = request.session.get(FORM_TOKENS) or []
    request.session[FORM_TOKENS] = (tokens + [token])[-20:]
    return token


def _display_rows(request, rows) -> list[dict]:
    """The form's rows with the product's name for those whose SKU exists."""
    from crm.catalog.partner import portal_products_by_sku

    products = portal_products_by_sku(actor=request.user, skus=[sku for sku, _q in rows])
    return [{"sku": sku, "quantity": qty, "product": products.get(sku.upper())} for sku, qty in rows]


def _preview(request, rows):
    """(priced order or None, errors) of the rows, without saving."""
    resolved = carts.resolve_rows(request.user, rows)
    if not rows:
        return None, []
    try:
        priced = orders.partner_order_preview(actor=request.user, data={"lines": resolved.lines})
    except ValidationError as exc:
        return None, resolved.errors + error_list(exc)
    return (priced if not resolved.errors else None), resolved.errors


class OrderFormMixin:
    """The cart (a new order) and the edit page of a draft share the form: rows of SKU and
    quantity, the delivery fields, live totals, and a one-time token against double submission."""

    def form_context(self, rows, header_form, *, errors=(), order=None, import_errors=()):
        priced, preview_errors = _preview(self.request, rows)
        return {"rows": _display_rows(self.request, rows), "blank_rows": range(3 if len(rows) < 197 else 0),
                "header": header_form, "priced": priced, "errors": list(errors) or preview_errors,
                "token": _form_token(self.request), "order": order, "import_errors": list(import_errors),
                "import_max_rows": carts.IMPORT_MAX_ROWS}

    def once(self, token: str, make):
        """Run ``make()`` (which returns an order) once per form token: a second post of the same
        form (a double click, the back button) gets the first order instead of a second one."""
        if not token or token not in (self.request.session.get(FORM_TOKENS) or []):
            return None, True
        with transaction.atomic():
            created, record = idempotency_claim(actor=self.request.user, key=f"portal-form:{token}",
                                                method_path=f"POST {self.request.path}", body_hash=token)
            if not created:
                order_id = (record.response_body or {}).get("order_id")
                return (orders.partner_order_get(actor=self.request.user, order_id=order_id) if order_id else None), True
            order = make()
            idempotency_store(record=record, response=SimpleNamespace(status_code=201, data={"order_id": order.pk}))
        return order, False


def _header_data(form) -> dict:
    data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    if "delivery_date" in data:
        data["delivery_date"] = data["delivery_date"].isoformat()
    return data


class CartView(OrderFormMixin, PortalView):
    def get(self, request):
        return self.render("portal/order_form.html", self.form_context(carts.cart_rows(request.session),
                                                                          OrderHeaderForm()))

    def post(self, request):
        action = request.POST.get("action", "save")
        if action == "import":
            result = carts.import_check_skus(request.user, carts.import_rows(request.FILES.get("file")))
            rows = carts.cart_rows(request.session) + result.rows
            carts.cart_save(request.session, rows)
            if result.rows:
                messages.success(request, _("已从文件导入 %(n)s 行。") % {"n": len(result.rows)})
            return self.render("portal/order_form.html", self.form_context(
                carts.cart_rows(request.session), OrderHeaderForm(), import_errors=result.errors),
                status=200 if result.rows or not result.errors else 400)
        if action == "clear":
            carts.cart_clear(request.session)
            messages.success(request, _("购物车已清空。"))
            return redirect("portal:cart")
        rows = carts.rows_from_post(request.POST)
        carts.cart_save(request.session, rows)
        header = OrderHeaderForm(request.POST)
        if action not in ("submit", "draft"):
            messages.success(request, _("购物车已更新。"))
            return redirect("portal:cart")
        if not header.is_valid():
            return self.render("portal/order_form.html", self.form_context(rows, header, errors=error_list(
                ValidationError(header.errors))), status=400)
        resolved = carts.resolve_rows(request.user, rows)
        if resolved.errors or not rows:
            errors = resolved.errors or [_("请至少添加一行产品。")]
            return self.render("portal/order_form.html", self.form_context(rows, header, errors=errors), status=400)
        try:
            order, repeated = self.once(request.POST.get("token", ""), lambda: orders.partner_order_create(
                actor=request.user, data={**_header_data(header), "lines": resolved.lines},
                submit=action == "submit"))
        except ValidationError as exc:
            return self.render("portal/order_form.html", self.form_context(rows, header, errors=error_list(exc)),
                               status=400)
        if order is None:
            messages.error(request, _("这个表单已经提交过或已过期，请检查订单列表，避免重复下单。"))
            return redirect("portal:orders")
        carts.cart_clear(request.session)
        if repeated:
            messages.info(request, _("订单 %(number)s 已经提交过，没有重复下单。") % {"number": order.number})
        elif order.status == OrderStatus.DRAFT:
            messages.success(request, _("订单 %(number)s 已保存为草稿。") % {"number": order.number})
        else:
            messages.success(request, _("订单 %(number)s 已提交，进入审批。") % {"number": order.number})
        return redirect("portal:order", order.pk)


class CartAddView(PortalView):
    def post(self, request):
        sku = request.POST.get("sku", "").strip()[:64]
        quantity = request.POST.get("quantity", "").strip()[:20] or "1"
        if not sku:
            messages.error(request, _("请选择产品。"))
        else:
            carts.cart_add(request.session, sku, quantity)
            messages.success(request, _("已加入购物车：%(sku)s × %(qty)s") % {"sku": sku, "qty": quantity})
        back = request.POST.get("next") or reverse("portal:catalog")
        return redirect(back if back.startswith("/portal/") else reverse("portal:catalog"))


class CartPreviewView(PortalView):
    """The live totals of the form's rows (htmx), also keeping the cart's rows."""

    def post(self, request):
        rows = carts.rows_from_post(request.POST)
        if request.POST.get("cart") == "1":
            carts.cart_save(request.session, rows)
        priced, errors = _preview(request, rows)
        return render(request, "portal/_totals.html", {"priced": priced, "errors": errors})


# -- orders ----------------------------------------------------------------------------------------------
class OrderListView(PortalView):
    def get(self, request):
        status = request.GET.get("status", "").strip()
        number = request.GET.get("number", "").strip()[:30]
        try:
            qs = orders.partner_order_list(actor=request.user, status=status, number=number)
        except ValidationError as exc:
            flash_errors(request, exc)
            qs, status = orders.partner_order_list(actor=request.user, number=number), ""
        page = self.page_of(qs.select_related("created_by"))
        return self.render("portal/order_list.html", {"page": page, "status": status, "number": number,
                                                      "statuses": OrderStatus.choices})


def order_page_data(actor, order) -> dict:
    """What the order page (and the API's detail) shows a partner."""
    return {
        "order": order,
        "lines": orders.partner_order_lines(order=order),
        "steps": orders.partner_order_steps(order=order, language=get_language() or "zh-hans"),
        "timeline": orders.partner_order_timeline(order=order),
        "shipments": shipments_for_order(order=order),
        "invoices": partner_invoices_of_order(order=order),
        "payments": partner_payments_of_order(order=order),
    }


def order_actions(actor, order) -> list[str]:
    actions = ["reorder"]
    if order.status == OrderStatus.DRAFT:
        actions += ["edit", "submit", "cancel"]
    if order.status == OrderStatus.IN_APPROVAL and order.submitted_by_id == actor.pk:
        actions.append("recall")
    return actions


class OrderDetailView(PortalView):
    def get(self, request, order_id: int):
        order = orders.partner_order_get(actor=request.user, order_id=order_id)
        data = order_page_data(request.user, order)
        data["actions"] = order_actions(request.user, order)
        if request.htmx and request.GET.get("part") == "progress":
            return render(request, "portal/_order_progress.html", data)
        return self.render("portal/order_detail.html", data)


class OrderEditView(OrderFormMixin, PortalView):
    def _order(self, order_id):
        order = orders.partner_order_get(actor=self.request.user, order_id=order_id)
        if order.status != OrderStatus.DRAFT:
            messages.error(self.request, _("订单 %(number)s 当前状态为“%(status)s”，只有草稿可以修改。") % {
                "number": order.number, "status": order.get_status_display()})
            return order, redirect("portal:order", order.pk)
        return order, None

    def get(self, request, order_id: int):
        order, bounce = self._order(order_id)
        if bounce:
            return bounce
        rows = [[line.sku, carts._text(line.quantity)] for line in orders.partner_order_lines(order=order)]
        header = OrderHeaderForm(initial={f: getattr(order, f) for f in OrderHeaderForm.base_fields})
        return self.render("portal/order_form.html", self.form_context(rows, header, order=order))

    def post(self, request, order_id: int):
        order, bounce = self._order(order_id)
        if bounce:
            return bounce
        rows = carts.rows_from_post(request.POST)
        header = OrderHeaderForm(request.POST)
        if not header.is_valid():
            return self.render("portal/order_form.html", self.form_context(
                rows, header, order=order, errors=error_list(ValidationError(header.errors))), status=400)
        resolved = carts.resolve_rows(request.user, rows)
        if resolved.errors or not rows:
            return self.render("portal/order_form.html", self.form_context(
                rows, header, order=order, errors=resolved.errors or [_("请至少添加一行产品。")]), status=400)
        data = {f: "" for f in OrderHeaderForm.base_fields}
        data.update(_header_data(header))
        data["lines"] = resolved.lines
        try:
            with transaction.atomic():
                order = orders.partner_order_update(actor=request.user, order_id=order.pk, data=data,
                                                    version=request.POST.get("version") or None)
                if request.POST.get("action") == "submit":
                    order = orders.partner_order_submit(actor=request.user, order_id=order.pk)
        except StaleVersion:
            messages.error(request, _("订单已被修改，请刷新后重试。"))
            return redirect("portal:order-edit", order.pk)
        except ValidationError as exc:
            return self.render("portal/order_form.html", self.form_context(
                rows, header, order=order, errors=error_list(exc)), status=400)
        if order.status == OrderStatus.DRAFT:
            messages.success(request, _("订单 %(number)s 已保存。") % {"number": order.number})
        else:
            messages.success(request, _("订单 %(number)s 已重新提交，进入审批。") % {"number": order.number})
        return redirect("portal:order", order.pk)


class OrderActionView(PortalView):
    """submit, recall, cancel a draft, or reorder (the order's lines into the cart)."""

    def post(self, request, order_id: int, action: str):
        order = orders.partner_order_get(actor=request.user, order_id=order_id)
        try:
            if action == "submit":
                order = orders.partner_order_submit(actor=request.user, order_id=order.pk)
                messages.success(request, _("订单 %(number)s 已提交，进入审批。") % {"number": order.number})
            elif action == "recall":
                order = orders.partner_order_recall(actor=request.user, order_id=order.pk)
                messages.success(request, _("订单 %(number)s 已撤回为草稿。") % {"number": order.number})
            elif action == "cancel":
                order = orders.partner_order_cancel(actor=request.user, order_id=order.pk,
                                                    reason=request.POST.get("reason", ""))
                messages.success(request, _("订单 %(number)s 已取消。") % {"number": order.number})
            elif action == "reorder":
                rows = [[line.sku, carts._text(line.quantity)] for line in orders.partner_order_lines(order=order)]
                carts.cart_save(request.session, rows)
                messages.success(request, _("已将订单 %(number)s 的产品放入购物车，请确认数量后提交。") % {
                    "number": order.number})
                return redirect("portal:cart")
            else:
                raise Http404("unknown action")
        except (ValidationError, TransitionRefused) as exc:
            flash_errors(request, exc)
        except (ApprovalConflict, PermissionDenied) as exc:
            messages.error(request, " ".join(str(m) for m in getattr(exc, "messages", [str(exc)])))
        return redirect("portal:order", order.pk)


# -- statements -------------------------------------------------------------------------------------------
class StatementsView(PortalView):
    def get(self, request):
        invoices = self.page_of(partner_invoices_visible_to(actor=request.user))
        payments = partner_payments_visible_to(actor=request.user)[:50]
        return self.render("portal/statements.html", {
            "statement": partner_statement(actor=request.user), "invoices": invoices, "payments": payments,
            "today": timezone.localdate()})


# -- end customers -------------------------------------------------------------------------------------
END_CUSTOMER_FIELDS = ("name", "credit_code", "contact_name", "phone", "email", "address", "notes")


class CustomersView(PortalView):
    def get(self, request, *, values=None, errors=None, status=200):
        from crm.partners.end_customers import end_customers_visible_to

        return self.render("portal/customers.html", {
            "page": self.page_of(end_customers_visible_to(actor=request.user)), "values": values or {},
            "errors": errors or {}}, status=status)

    def post(self, request):
        from crm.partners.end_customers import end_customer_register

        values = {k: request.POST.get(k, "") for k in END_CUSTOMER_FIELDS}
        try:
            row, possible_duplicate = end_customer_register(actor=request.user, data=values)
        except ValidationError as exc:
            return self.get(request, values=values, errors=exc.message_dict, status=400)
        messages.success(request, _("终端客户“%(name)s”已登记。") % {"name": row.name})
        if possible_duplicate:
            messages.warning(request, _("系统提示：这个客户可能与已有客户重复，已标记给渠道经理核实。"))
        return redirect("portal:customers")


# -- deal registration ----------------------------------------------------------------------------------
DEAL_FIELDS = ("customer_name", "end_customer_id", "credit_code", "title", "amount", "expected_close", "description")


class DealsView(PortalView):
    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not deals_enabled():
            raise Http404("no deal registration in this tenant")
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *, values=None, errors=None, status=200):
        from crm.partners.deals import deal_partner_view, deals_visible_to
        from crm.partners.end_customers import end_customers_visible_to

        page = self.page_of(deals_visible_to(actor=request.user).order_by("-created_at", "-id"))
        return self.render("portal/deals.html", {
            "page": page, "deals": [deal_partner_view(d) for d in page.object_list], "values": values or {},
            "errors": errors or {}, "end_customers": end_customers_visible_to(actor=request.user)[:200]},
            status=status)

    def post(self, request):
        from crm.partners.deals import deal_register

        values = {k: request.POST.get(k, "") for k in DEAL_FIELDS}
        try:
            deal = deal_register(actor=request.user, data=values)
        except ValidationError as exc:
            return self.get(request, values=values, errors=exc.message_dict, status=400)
        messages.success(request, _("项目报备 %(number)s 已提交，等待渠道经理审核。") % {"number": deal.number})
        if deal.conflicts:
            messages.warning(request, _("系统提示：这个项目可能与已有报备或商机冲突，已标记给渠道经理核实。"))
        return redirect("portal:deals")


class DealWithdrawView(PortalView):
    def post(self, request, deal_id: int):
        from crm.partners.deals import deal_withdraw, deals_visible_to

        if not deals_enabled():
            raise Http404
        deal = deals_visible_to(actor=request.user).get(pk=deal_id)
        try:
            deal = deal_withdraw(actor=request.user, deal_id=deal.pk)
            messages.success(request, _("报备 %(number)s 已撤回。") % {"number": deal.number})
        except ValidationError as exc:
            flash_errors(request, exc)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        return redirect("portal:deals")


# -- users (partner admin) ------------------------------------------------------------------------------
class UsersView(PortalView):
    admin_only = True

    def get(self, request, *, values=None, errors=None, status=200):
        return self.render("portal/users.html", {
            "members": members_of_partner(partner_id=self.partner.pk), "values": values or {},
            "errors": errors or {}, "roles": MemberRole.choices}, status=status)

    def post(self, request):
        values = {k: request.POST.get(k, "").strip() for k in ("email", "full_name", "phone", "role", "language")}
        try:
            member = partners.member_invite(actor=request.user, partner_id=self.partner.pk, email=values["email"],
                                            full_name=values["full_name"], phone=values["phone"],
                                            role=values["role"] or MemberRole.SALES, language=values["language"],
                                            base_url=request.build_absolute_uri("/"))
        except ValidationError as exc:
            return self.get(request, values=values, errors=exc.message_dict, status=400)
        messages.success(request, _("已邀请 %(email)s，对方会收到设置密码的邮件。") % {"email": member.user.email})
        return redirect("portal:users")


class UserActionView(PortalView):
    admin_only = True

    def post(self, request, member_id: int, action: str):
        try:
            # another partner's member is 404 whatever the input (isolation matrix, tests/security)
            members_of_partner(partner_id=self.partner.pk).get(pk=member_id)
            if action == "role":
                partners.member_role_set(actor=request.user, partner_id=self.partner.pk, member_id=member_id,
                                         role=request.POST.get("role", ""))
                messages.success(request, _("角色已更新。"))
            elif action in ("deactivate", "reactivate"):
                partners.member_active_set(actor=request.user, partner_id=self.partner.pk, member_id=member_id,
                                           active=action == "reactivate")
                messages.success(request, _("用户已停用。") if action == "deactivate" else _("用户已恢复。"))
            else:
                raise Http404("unknown action")
        except ValidationError as exc:
            flash_errors(request, exc)
        except ObjectDoesNotExist:
            raise Http404 from None
        return redirect("portal:users")


class SalesVisibilityView(PortalView):
    admin_only = True

    def post(self, request):
        see_all = request.POST.get("sales_see_all") in ("1", "on", "true")
        partners.partner_sales_visibility_set(actor=request.user, partner_id=self.partner.pk, see_all=see_all)
        messages.success(request, _("已允许伙伴销售查看本公司全部订单、客户和报备。") if see_all
                         else _("伙伴销售现在只能查看自己创建的订单、客户和报备。"))
        return redirect("portal:users")


# -- notifications ---------------------------------------------------------------------------------------
class NotificationsView(PortalView):
    def get(self, request):
        return self.render("portal/notifications.html", {"page": self.page_of(notification_list_for(actor=request.user))})

    def post(self, request):
        notifications_mark_read(actor=request.user)
        messages.success(request, _("已全部标为已读。"))
        return redirect("portal:notifications")
