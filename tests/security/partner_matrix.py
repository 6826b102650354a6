"""The pieces of the partner isolation matrix (test_partner_isolation.py): every URL pattern of a
tenant host, read from the URL resolver; the table that fills their kwargs with real ids; and
the world the matrix runs in (two partners of one tenant with orders, shipments, invoices,
payments, end customers, deal registrations and users, plus a partner of another tenant).

Fail-closed by construction: a URL whose kwargs the tables below cannot fill is reported, and the
matrix test that meets it fails, so a new endpoint cannot slip past the matrix."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

PORTAL_PREFIXES = ("/portal/", "/api/v1/portal/")
_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")

# Portal URLs anyone may open (sign-in, sign-out, password reset): no partner data behind them.
PORTAL_PUBLIC = {"portal:login", "portal:logout", "portal:password-reset", "portal:password-reset-done",
                 "portal:password-set", "portal:password-set-done", "portal-api:auth-token"}
# Staff URLs anonymous callers may open too (a partner's token there must get no more than that).
STAFF_PUBLIC = {"org:login", "org:logout", "org:password-reset", "org:password-reset-done",
                "org:password-reset-confirm", "org:password-reset-complete", "api-auth-token", "api-schema",
                "api-docs", "set-language", "org:support-access", "org:support-access-end"}
# Outside the portal, URLs a partner user's session still reaches: the language switch, and the
# operator's support access (entering needs the console's one-time token; ending ends only the
# caller's own support session).
PARTNER_SHARED = {"set-language", "org:support-access", "org:support-access-end"}

# kwarg of a portal URL -> the kind of partner-owned object it names (World.objects[kind]).
# A portal URL with a kwarg missing here fails the matrix: add the kind to the table and to
# World (own object, another partner's, and, for kinds a sales user sees only when they made them,
# one of the partner admin's).
PORTAL_KWARGS = {
    "order_id": "order",
    "end_customer_id": "end_customer",
    "deal_id": "deal",
    "member_id": "member",
    "invoice_id": "invoice",
    "payment_id": "payment",
    "shipment_id": "shipment",
}
# kwargs of the public password pages: filled with a real user's link (not an object of a partner)
PORTAL_PUBLIC_KWARGS = {"uidb64", "token"}
# kinds that partner sales see only when they made them (unless the admin lets them see all)
CREATOR_SCOPED = {"order", "end_customer", "deal"}
# kinds that only partner admins manage (sales get 404 whatever the id)
ADMIN_ONLY = {"member"}

# kwarg of a staff URL -> the model whose first row fills it (the partner gets 404 whatever the id).
STAFF_KWARGS = {
    "activity_id": "activities.Activity", "task_id": "activities.Task",
    "notification_id": "activities.Notification", "user_id": "org.User",
    "customer_id": "customers.Customer", "contact_id": "customers.Contact", "job_id": "customers.ImportJob",
    "merge_id": "customers.MergeRecord", "product_id": "catalog.Product", "category_id": "catalog.Category",
    "price_list_id": "catalog.PriceList", "item_id": "catalog.PriceListItem", "warehouse_id": "catalog.Warehouse",
    "movement_id": "catalog.StockMovement", "request_id": "approvals.ApprovalRequest",
    "delegation_id": "approvals.Delegation", "opportunity_id": "sales.Opportunity", "quote_id": "sales.Quote",
    "order_id": "orders.Order", "attachment_id": "orders.OrderAttachment", "invoice_id": "finance.Invoice",
    "payment_id": "finance.Payment", "endpoint_id": "integrations.WebhookEndpoint",
    "delivery_id": "integrations.WebhookDelivery", "client_id": "integrations.ErpClient",
    "partner_id": "partners.Partner", "tier_id": "partners.PartnerTier", "quota_id": "partners.PartnerQuota",
    "deal_id": "partners.DealRegistration", "end_customer_id": "partners.PartnerCustomer",
    "member_id": "partners.PartnerMember", "notice_id": "partners.PartnerNotice",
    "shipment_id": "orders.Shipment",
}
STAFF_LITERALS = {"action": "submit", "doc_type": "order", "table": "orders", "tab": "orders", "uidb64": "MQ",
                  "token": "x-y"}


@dataclass(frozen=True)
class Route:
    route: str                # the full route, e.g. "api/v1/portal/orders/<int:order_id>"
    name: str                 # namespaced name ("portal-api:order")
    params: tuple[str, ...]   # kwargs in the route

    @property
    def portal(self) -> bool:
        return ("/" + self.route).startswith(PORTAL_PREFIXES)

    @property
    def api(self) -> bool:
        return self.route.startswith("api/")

    @property
    def public(self) -> bool:
        return self.name in (PORTAL_PUBLIC if self.portal else STAFF_PUBLIC)

    def path(self, values: dict[str, object]) -> str:
        return "/" + _PARAM.sub(lambda m: str(values[m.group("name")]), self.route)

    def __str__(self) -> str:
        return f"/{self.route} ({self.name})"


def tenant_routes() -> list[Route]:
    """Every URL pattern of a tenant host (config.urls_tenant), in order."""
    from django.urls import URLResolver, get_resolver
    from django.urls.resolvers import RoutePattern

    routes: list[Route] = []

    def walk(patterns, prefix: str, namespace: str):
        for p in patterns:
            if not isinstance(p.pattern, RoutePattern) and str(p.pattern) not in ("", "^"):
                # a regex pattern: the matrix cannot fill it; keep it so that the test fails
                routes.append(Route(prefix + str(p.pattern), f"{namespace}{getattr(p, 'name', '')}", ("<regex>",)))
                continue
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            else:
                route = prefix + str(p.pattern)
                routes.append(Route(route, f"{namespace}{p.name or ''}",
                                    tuple(m.group("name") for m in _PARAM.finditer(route))))

    walk(get_resolver("config.urls_tenant").url_patterns, "", "")
    return routes


def portal_routes() -> list[Route]:
    return [r for r in tenant_routes() if r.portal]


def staff_routes() -> list[Route]:
    return [r for r in tenant_routes() if not r.portal]


def unfillable(route: Route) -> list[str]:
    """The kwargs of ``route`` that the tables cannot fill (empty when all are known)."""
    if route.portal:
        known = set(PORTAL_KWARGS) | (PORTAL_PUBLIC_KWARGS if route.public else set())
    else:
        known = set(STAFF_KWARGS) | set(STAFF_LITERALS)
    return [p for p in route.params if p not in known]


# -- the world -------------------------------------------------------------------------------------------
@dataclass
class World:
    tenant: object
    other_tenant: object
    staff: dict
    a_admin: object
    a_sales: object
    b_admin: object
    b_sales: object
    x_admin: object  # a partner admin of the other tenant
    # kind -> {"own": id of partner A's (made by A's admin), "sales_own": made by A's sales,
    #          "foreign": partner B's}
    objects: dict = field(default_factory=dict)
    foreign_markers: set = field(default_factory=set)      # partner B's: A never sees them
    admin_only_markers: set = field(default_factory=set)   # A's admin's: A's sales never see them
    internal_markers: set = field(default_factory=set)     # no partner ever sees them
    reset_link: dict = field(default_factory=dict)         # uidb64 / token of a partner user

    def portal_values(self, route: Route, which: str) -> dict:
        values = {}
        for p in route.params:
            if p in PORTAL_PUBLIC_KWARGS:
                values[p] = self.reset_link[p]
            else:
                values[p] = self.objects[PORTAL_KWARGS[p]][which]
        return values

    def staff_values(self, route: Route) -> dict:
        from django.apps import apps

        values = {}
        for p in route.params:
            if p in STAFF_LITERALS:
                values[p] = STAFF_LITERALS[p]
                continue
            label = STAFF_KWARGS[p]
            try:
                model = apps.get_model(label)
            except LookupError:
                values[p] = 1
                continue
            values[p] = model._default_manager.order_by("pk").values_list("pk", flat=True).first() or 1
        return values


def _approve_all(order, comments: list[str]) -> None:
    from crm.approvals.selectors import approval_request_detail, approval_request_pending_for
    from crm.approvals.services import approval_approve
    from crm.org.models import User

    for n in range(6):
        request = approval_request_pending_for(doc_type="partner_order", object_id=order.pk)
        if request is None:
            return
        request = approval_request_detail(request=request)
        step = next(s for s in request.steps.all() if s.position == request.current_position)
        approval_approve(actor=User.objects.get(pk=step.approver_ids[0]), request_id=request.pk,
                         comment=comments[min(n, len(comments) - 1)], step=step.position)
    raise AssertionError("the approval did not end")


def build_world(tenant, other_tenant, user_in) -> World:
    """Inside ``tenant``'s schema (the caller enters it): see the module doc."""
    from django.contrib.auth.tokens import default_token_generator
    from django.db import connection
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode
    from django_tenants.utils import schema_context

    from crm.catalog.selectors import tier_offer
    from crm.catalog.services import catalog_load_demo
    from crm.customers.services import customer_create
    from crm.finance.services import invoice_issue, payment_record
    from crm.orders.models import Shipment
    from crm.orders.partner import partner_order_create
    from crm.orders.services import shipment_create
    from crm.org.models import Region
    from crm.org.services import staff_create
    from crm.partners.deals import deal_register
    from crm.partners.end_customers import end_customer_register
    from crm.partners.models import PartnerMember
    from crm.partners.notices import notice_publish
    from tests.crm.partners.factories import member_make, partner_make

    staff = {}
    for key in ("admin", "exec", "manager", "sales", "secretary", "finance"):
        staff[key] = user_in(tenant, key)
    connection.set_tenant(tenant)
    root = Region.objects.filter(parent=None).first()
    staff["channel"] = staff_create(actor=None, email="channel.matrix@iso.test", full_name="渠道经理甲乙",
                                    role_codes=["channel_manager"], region_id=root.pk)
    staff["warehouse"] = staff_create(actor=None, email="warehouse.matrix@iso.test", full_name="仓管丙丁",
                                      role_codes=["warehouse"], region_id=root.pk)
    catalog_load_demo()
    admin, cm = staff["admin"], staff["channel"]
    a = partner_make(actor=admin, owner=cm, tier="gold", name="甲方渠道伙伴隔离测试有限公司")
    b = partner_make(actor=admin, owner=cm, tier="silver", name="乙方渠道伙伴隔离测试有限公司")
    a_admin = member_make(actor=cm, partner=a, role="admin").user
    a_sales = member_make(actor=cm, partner=a).user
    b_admin = member_make(actor=cm, partner=b, role="admin").user
    b_sales = member_make(actor=cm, partner=b).user
    world = World(tenant=tenant, other_tenant=other_tenant, staff=staff, a_admin=a_admin, a_sales=a_sales,
                  b_admin=b_admin, b_sales=b_sales, x_admin=None)

    def lines(partner, n=2):
        offer = sorted(tier_offer(tier_code=partner.tier.code).items())[:n]
        return [{"product_id": pid, "quantity": str(max(minimum, 1))} for pid, minimum in offer]

    internal = ["内部意见甲-毛利偏低-ZX91", "内部意见乙-账期核对-ZX92", "内部意见丙-财务复核-ZX93"]
    orders = {}
    for key, user, partner, submit in (("own", a_admin, a, True), ("sales_own", a_sales, a, False),
                                       ("foreign", b_admin, b, True)):
        order = partner_order_create(actor=user, data={"lines": lines(partner), "delivery_address": "测试路 1 号"},
                                     submit=submit)
        orders[key] = order
        if submit:
            _approve_all(order, internal)
    shipments, invoices, payments = {}, {}, {}
    for key in ("own", "foreign"):
        order = orders[key]
        shipment_create(actor=staff["warehouse"], order_id=order.pk,
                        data={"carrier": "顺丰速运", "tracking_number": f"SFISO{key.upper()}{order.pk}"})
        shipments[key] = Shipment.objects.filter(order_id=order.pk).values_list("pk", flat=True).first()
        invoice = invoice_issue(actor=staff["finance"], order_id=order.pk, data={"kind": "vat_special"})
        invoices[key] = invoice.pk
        payments[key] = payment_record(actor=staff["finance"], invoice_id=invoice.pk,
                                       data={"amount": "100.00", "method": "bank_transfer"}).pk
        if key == "foreign":
            world.foreign_markers |= {invoice.number, f"SFISO{key.upper()}{order.pk}"}
    ends, deals = {}, {}
    for key, user, prefix in (("own", a_admin, "甲方管理员"), ("sales_own", a_sales, "甲方销售"),
                              ("foreign", b_admin, "乙方")):
        ends[key], _match = end_customer_register(actor=user, data={"name": f"{prefix}终端客户隔离测试有限公司"})
        deals[key] = deal_register(actor=user, data={"customer_name": f"{prefix}报备客户隔离测试有限公司",
                                                     "title": f"{prefix}报备项目ISO", "amount": "50000"})
    members = {"own": PartnerMember.objects.get(user=a_sales).pk, "sales_own": PartnerMember.objects.get(user=a_admin).pk,
               "foreign": PartnerMember.objects.get(user=b_sales).pk}
    world.objects = {
        "order": {k: o.pk for k, o in orders.items()},
        "end_customer": {k: e.pk for k, e in ends.items()},
        "deal": {k: d.pk for k, d in deals.items()},
        "member": members,
        "invoice": {**invoices, "sales_own": invoices["own"]},
        "payment": {**payments, "sales_own": payments["own"]},
        "shipment": {**shipments, "sales_own": shipments["own"]},
    }
    world.foreign_markers |= {b.name, b.code, orders["foreign"].number, ends["foreign"].name, deals["foreign"].number,
                              deals["foreign"].title, b_admin.email, b_sales.email, b_admin.full_name,
                              b_sales.full_name}
    world.admin_only_markers |= {orders["own"].number, ends["own"].name, deals["own"].number, deals["own"].title}
    notice_publish(actor=cm, data={"title_zh": "银牌专属公告隔离测试", "tiers": ["silver"]})
    world.foreign_markers.add("银牌专属公告隔离测试")
    direct = customer_create(actor=staff["sales"], data={"name": "丙方直销客户隔离测试有限公司"},
                             duplicate_override=True)
    world.internal_markers |= {direct.name, *internal, staff["secretary"].full_name, staff["finance"].full_name}
    world.reset_link = {"uidb64": urlsafe_base64_encode(force_bytes(a_admin.pk)),
                        "token": default_token_generator.make_token(a_admin)}
    with schema_context(other_tenant.schema_name):
        x = partner_make(actor=user_in(other_tenant, "admin"), tier="gold")
        world.x_admin = member_make(actor=user_in(other_tenant, "admin"), partner=x, role="admin").user
    connection.set_tenant(tenant)
    return world


# -- responses --------------------------------------------------------------------------------------------
def body_text(response) -> str:
    """The response body as text, JSON re-dumped without escapes (so markers are found)."""
    content = getattr(response, "content", b"") or b""
    text = content.decode("utf-8", errors="replace")
    if "json" in response.get("Content-Type", ""):
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


FORBIDDEN_KEYS = ("cost", "margin", "approver", "internal", "tenant_match")


def json_keys(response) -> set[str]:
    if "json" not in response.get("Content-Type", ""):
        return set()
    try:
        data = json.loads(response.content or b"null")
    except ValueError:
        return set()
    keys: set[str] = set()

    def walk(value):
        if isinstance(value, dict):
            for k, v in value.items():
                keys.add(str(k))
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    return keys


def redirect_to_portal_login(response) -> bool:
    from urllib.parse import urlsplit

    location = urlsplit(response.get("Location", ""))
    return response.status_code in (301, 302, 303) and location.path == "/portal/login/"
