"""The demo channel of every demo tenant: partner tiers, a channel manager, four partners in
different regions (tiers matching the demo catalog's partner-tier price lists, crm.catalog
demo_data: gold and silver), each with a partner admin and partner sales users, quotas for the
current month, quarter and year, a notice, and (where the tenant has the catalog and orders)
partner orders in several states so that the portal is not empty.

Everything goes through the services (partners, quotas, notices, partner orders, approvals,
shipments, invoices), as a user would do it. Idempotent: a tenant that has partners gets nothing."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

# The channel manager who owns the demo partners (a staff user, role channel_manager).
CHANNEL_MANAGER = ("channel", "吴磊", "渠道经理")


@dataclass(frozen=True)
class DemoPartner:
    key: str            # emails: <key>@<domain> (the admin), <key>-sales<n>@<domain>
    name: str
    short_name: str
    tier: str           # a partner-tier price list's code in the demo catalog
    region: str         # a region name of the demo tenants (tenants.modes.REGIONS_CN)
    credit_limit: str
    sales_see_all: bool
    admin: str
    sales: tuple[str, ...]
    contact_phone: str
    address: str


PARTNERS: tuple[DemoPartner, ...] = (
    DemoPartner("partner1", "北京华通伟业商贸有限公司", "华通伟业", "gold", "北京", "800000.00", False,
                "马晓东", ("韩冰", "郭峰"), "010-6252 8800", "北京市海淀区中关村南大街 12 号"),
    DemoPartner("partner2", "上海申达供应链管理有限公司", "申达供应链", "gold", "上海", "600000.00", True,
                "沈佳怡", ("顾明",), "021-5489 6677", "上海市浦东新区张江路 368 号"),
    DemoPartner("partner3", "广州南越贸易有限公司", "南越贸易", "silver", "广东", "300000.00", False,
                "黄志坚", ("梁诗琪", "何俊"), "020-8755 3321", "广州市天河区天河北路 233 号"),
    DemoPartner("partner4", "成都蜀信商贸有限公司", "蜀信商贸", "silver", "四川", "200000.00", True,
                "罗娟", ("邓超",), "028-8612 4455", "成都市武侯区人民南路四段 19 号"),
)

# quotas for the current periods: (period, amount by tier)
QUOTAS = (("month", {"gold": "120000.00", "silver": "60000.00"}),
          ("quarter", {"gold": "360000.00", "silver": "180000.00"}),
          ("year", {"gold": "1500000.00", "silver": "720000.00"}))

# (partner index, who places it: "admin" or a sales index, [(sku, quantity)], outcome)
# outcomes: draft; in_approval (at the channel manager); at_secretary (the channel manager
# approved); rejected (by the channel manager, back in draft); approved; shipped; invoiced
ORDERS = (
    (0, "admin", (("HZ-G970II", "2"), ("ACC-BAT-3400", "10")), "invoiced"),
    (0, "admin", (("SN-NTS362R", "1"), ("ACC-PRISM-1", "2")), "approved"),
    (0, 0, (("UG-G138BD", "5"), ("ACC-CHG-2", "5")), "in_approval"),
    (0, 1, (("GM-GPSMAP65S", "3"),), "draft"),
    (1, "admin", (("HD-V200", "1"), ("ACC-POLE-25", "2")), "shipped"),
    (1, 0, (("TP-ATB4A", "4"), ("ACC-TRIPOD-AL", "4")), "at_secretary"),
    (2, "admin", (("SN-G6", "1"), ("ACC-ANT-601", "2")), "rejected"),
    (2, 0, (("SY-DSZ2", "3"),), "in_approval"),
    (3, "admin", (("LC-D810", "2"), ("ACC-BAT-3400", "4")), "approved"),
    (3, 0, (("UG-MG10", "1"),), "draft"),
)
REJECTION = "请按季度框架协议价重新下单，并补充收货联系人。"


def _email(key: str, domain: str) -> str:
    return f"{key}@{domain}"


def admin_email(domain: str) -> str:
    """The login of the first demo partner's admin (printed by `make run`)."""
    return _email(PARTNERS[0].key, domain)


def channel_manager_email(domain: str) -> str:
    return _email(CHANNEL_MANAGER[0], domain)


def _channel_manager(domain: str, password: str):
    from crm.org.enums import SystemRole
    from crm.org.models import User
    from crm.org.services import staff_create

    email = channel_manager_email(domain)
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user
    from crm.org.models import Department, Region

    department = (Department.objects.filter(name="销售部").first()
                  or Department.objects.filter(parent=None).order_by("pk").first())
    region = Region.objects.filter(parent=None).order_by("pk").first()
    key, name, title = CHANNEL_MANAGER
    return staff_create(actor=None, email=email, full_name=name, role_codes=[SystemRole.CHANNEL_MANAGER],
                        department_id=department.pk if department else None,
                        region_id=region.pk if region else None, title=title, password=password)


def _approve_current(order, comment: str) -> bool:
    """The current step's first approver approves; False when nothing is pending."""
    from crm.approvals.selectors import approval_request_detail, approval_request_pending_for
    from crm.approvals.services import approval_approve
    from crm.orders.selectors import doc_type_of
    from crm.org.models import User

    request = approval_request_pending_for(doc_type=doc_type_of(order), object_id=order.pk)
    if request is None:
        return False
    request = approval_request_detail(request=request)
    step = next(s for s in request.steps.all() if s.position == request.current_position)
    approver = User.objects.get(pk=step.approver_ids[0])
    approval_approve(actor=approver, request_id=request.pk, comment=comment, step=step.position)
    return True


def _reject_current(order, comment: str) -> None:
    from crm.approvals.selectors import approval_request_detail, approval_request_pending_for
    from crm.approvals.services import approval_reject
    from crm.orders.selectors import doc_type_of
    from crm.org.models import User

    request = approval_request_detail(request=approval_request_pending_for(doc_type=doc_type_of(order),
                                                                           object_id=order.pk))
    step = next(s for s in request.steps.all() if s.position == request.current_position)
    approval_reject(actor=User.objects.get(pk=step.approver_ids[0]), request_id=request.pk, comment=comment,
                    step=step.position)


def _demo_orders(members: list[dict], channel_manager) -> int:
    """The demo partner orders (only where the demo catalog and its tier price lists exist)."""
    from crm.catalog.selectors import tier_offer
    from crm.orders.partner import partner_order_create
    from crm.org.models import User

    from .enums import MemberRole

    offers = {tier: tier_offer(tier_code=tier) for tier in {p.tier for p in PARTNERS}}
    if not all(offers.values()):
        return 0
    from crm.catalog.models import Product

    products = dict(Product.objects.filter(sku__in={sku for *_x, lines, _o in ORDERS for sku, _q in lines},
                                           is_active=True).values_list("sku", "pk"))
    keepers = list(User.objects.filter(roles__code="warehouse", is_active=True).order_by("pk"))
    finance = list(User.objects.filter(roles__code="finance", is_active=True).order_by("pk"))
    made = 0
    for n, (index, who, lines, outcome) in enumerate(ORDERS):
        spec = PARTNERS[index]
        group = members[index]
        actor = group[MemberRole.ADMIN] if who == "admin" else group["sales"][who % len(group["sales"])]
        actor = User.objects.get(pk=actor.pk)
        wanted = [{"product_id": products[sku], "quantity": qty} for sku, qty in lines
                  if sku in products and products[sku] in offers[spec.tier]]
        if not wanted:
            continue
        data = {"lines": wanted, "delivery_address": spec.address, "delivery_contact": spec.admin,
                "delivery_phone": spec.contact_phone, "notes": "演示渠道订单",
                "delivery_date": (timezone.localdate() + datetime.timedelta(days=10 + n)).isoformat()}
        try:
            with transaction.atomic():
                order = partner_order_create(actor=actor, data=data, submit=outcome != "draft")
        except ValidationError:
            # the mode's staff cannot approve a partner order (e.g. no business secretary in the
            # promotion mode's demo): the partner keeps it as a draft
            order = partner_order_create(actor=actor, data=data, submit=False)
            made += 1
            continue
        made += 1
        if outcome in ("draft", "in_approval"):
            continue
        if outcome == "rejected":
            _reject_current(order, REJECTION)
            continue
        _approve_current(order, "渠道价格与信用额度核对无误")
        if outcome == "at_secretary":
            continue
        for _step in range(5):  # the secretary, and finance above its threshold
            if not _approve_current(order, "同意"):
                break
        if outcome in ("shipped", "invoiced") and keepers:
            from crm.orders.services import shipment_create

            try:
                shipment_create(actor=keepers[0], order_id=order.pk, data={
                    "carrier": "顺丰速运", "tracking_number": f"SF{2000000000 + order.pk}"})
            except ValidationError:  # the demo stock ran short: leave it approved
                continue
        if outcome == "invoiced" and finance:
            from crm.finance.services import invoice_issue

            try:
                invoice_issue(actor=finance[0], order_id=order.pk, data={"kind": "vat_special"})
            except ValidationError:
                pass
    return made


def partners_load_demo(*, domain: str, password: str) -> int:
    """The demo channel (see the module doc); users' emails end in ``@domain``. Returns the
    number of partners created (0 when the tenant has partners already)."""
    from .enums import MemberRole
    from .models import Partner
    from .notices import notice_publish
    from .quotas import period_start_of, quota_set
    from .services import member_invite, partner_create, tiers_seed_defaults

    if Partner.objects.exists():
        return 0
    from crm.org.models import Region

    with transaction.atomic():
        tiers_seed_defaults()
        manager = _channel_manager(domain, password)
        today = timezone.localdate()
        members: list[dict] = []
        for spec in PARTNERS:
            region = Region.objects.filter(name=spec.region).first()
            partner = partner_create(actor=manager, duplicate_override=True, override_reason="演示数据", data={
                "name": spec.name, "short_name": spec.short_name, "tier_id": spec.tier,
                "region_id": region.pk if region else None, "regions_served": [region.pk] if region else [],
                "credit_limit": spec.credit_limit, "payment_terms_days": 30, "contact_name": spec.admin,
                "phone": spec.contact_phone, "email": _email(spec.key, domain), "address": spec.address,
                "contract_start": today.replace(month=1, day=1).isoformat(),
                "contract_end": today.replace(month=12, day=31).isoformat(),
                "sales_see_all": spec.sales_see_all})
            group: dict = {"sales": []}
            group[MemberRole.ADMIN] = member_invite(actor=manager, partner_id=partner.pk, email=_email(spec.key, domain),
                                                    full_name=spec.admin, role=MemberRole.ADMIN,
                                                    password=password).user
            for n, name in enumerate(spec.sales, start=1):
                group["sales"].append(member_invite(actor=manager, partner_id=partner.pk,
                                                    email=_email(f"{spec.key}-sales{n}", domain), full_name=name,
                                                    role=MemberRole.SALES, password=password).user)
            members.append(group)
            for period, amounts in QUOTAS:
                quota_set(actor=manager, partner_id=partner.pk, period=period,
                          period_start=period_start_of(period, today), amount=Decimal(amounts[spec.tier]))
        notice_publish(actor=manager, data={
            "title_zh": "欢迎使用渠道门户", "title_en": "Welcome to the partner portal",
            "body_zh": "在门户中可以查看价格、下单、跟踪审批与发货，并查看对账单。",
            "body_en": "Check your prices, place orders, follow approvals and shipments, and see your statements."})
        notice_publish(actor=manager, data={
            "title_zh": "金牌伙伴季度返利政策", "title_en": "Gold partners: quarterly rebate",
            "body_zh": "本季度达成率超过 100% 的金牌伙伴可获得 2% 返利。",
            "body_en": "Gold partners above 100% of their quarterly quota earn a 2% rebate.", "tiers": ["gold"]})
        _demo_orders(members, manager)
    return len(PARTNERS)
