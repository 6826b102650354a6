"""The base of every portal page: who the partner user is, and the portal's own layout.

``PortalView`` lets in only an active member of an active partner (crm.partners.selectors.
portal_member_active). Anonymous visitors go to the portal's login page; a partner user whose
account or partner was deactivated, suspended or terminated is signed out at once with a message
saying so; staff get 404 (the portal is not theirs, as the staff pages are not the partners').
Subclasses read records only through crm selectors scoped to ``request.user`` (crm.orders.partner,
crm.catalog.partner, crm.finance.partner, crm.partners); an id outside the partner's scope is 404."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views import View

from crm.partners.selectors import member_of, portal_member_active

PAGE_SIZE = 25


def deals_enabled() -> bool:
    """Deal registration is for complex-sales (project mode) tenants."""
    try:
        from crm.partners.deals import deals_enabled as enabled
    except ImportError:  # pragma: no cover - until crm.partners.deals has the predicate
        from crm.org.selectors import tenant_config_get

        return "projects" in (tenant_config_get().enabled_modules or [])
    return enabled()


def portal_nav(request, member, *, deals: bool | None = None) -> list[dict]:
    from crm.activities.selectors import notification_unread_count

    items = [("home", _("首页"), "portal:home"), ("catalog", _("产品目录"), "portal:catalog"),
             ("cart", _("购物车 / 下单"), "portal:cart"), ("orders", _("我的订单"), "portal:orders"),
             ("statements", _("对账单"), "portal:statements"), ("customers", _("终端客户"), "portal:customers")]
    if deals if deals is not None else deals_enabled():
        items.append(("deals", _("项目报备"), "portal:deals"))
    if member.is_admin:
        items.append(("users", _("用户管理"), "portal:users"))
    unread = notification_unread_count(actor=request.user)
    items.append(("notifications", _("通知") + (f" ({unread})" if unread else ""), "portal:notifications"))
    out = []
    for key, label, name in items:
        url = reverse(name)
        active = request.path == url if key == "home" else request.path.startswith(url)
        out.append({"key": key, "label": label, "url": url, "active": active})
    return out


def login_url(request) -> str:
    return reverse("portal:login") + "?" + urlencode({"next": request.get_full_path()})


class PortalView(View):
    """A page of the portal, for an active member of an active partner."""

    admin_only = False

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect(login_url(request))
        if member_of(user) is None:
            if not getattr(user, "is_partner_user", False):
                raise Http404("not a partner user")
        member = portal_member_active(user)
        if member is None:
            logout(request)
            messages.error(request, _("你的账号已停用，或你所在的渠道伙伴已暂停或终止合作，无法使用渠道门户。"
                                      "如有疑问请联系你的渠道经理。"))
            return redirect("portal:login")
        if self.admin_only and not member.is_admin:
            raise Http404("partner admins only")
        self.member = member
        self.partner = member.partner
        request.portal_member = member
        try:
            return super().dispatch(request, *args, **kwargs)
        except ObjectDoesNotExist:  # outside the partner's scope, or no such record
            raise Http404 from None

    def render(self, template: str, context: dict | None = None, *, status: int = 200):
        deals = deals_enabled()
        ctx = {"member": self.member, "partner": self.partner,
               "portal_nav": portal_nav(self.request, self.member, deals=deals), "deals_enabled": deals}
        ctx.update(context or {})
        return render(self.request, template, ctx, status=status)

    def page_of(self, qs, *, size: int = PAGE_SIZE):
        paginator = Paginator(qs, size)
        try:
            return paginator.page(self.request.GET.get("page") or 1)
        except (EmptyPage, PageNotAnInteger):
            return paginator.page(1 if not str(self.request.GET.get("page", "")).isdigit() else paginator.num_pages)


def flash_errors(request, exc) -> None:
    """A ValidationError as messages, each naming its field's problem."""
    if hasattr(exc, "message_dict"):
        for messages_ in exc.message_dict.values():
            for message in messages_:
                messages.error(request, message)
    else:
        for message in exc.messages:
            messages.error(request, message)


def error_list(exc) -> list[str]:
    if hasattr(exc, "message_dict"):
        return [m for ms in exc.message_dict.values() for m in ms]
    return list(exc.messages)
