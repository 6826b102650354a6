"""Writes of partners: tiers, partners (create, edit, status), and partner users (invite, role,
deactivate). Every write is audited. Quotas, deal registrations and end customers have their own
modules (quotas.py, deals.py, end_customers.py)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from billing.entitlements import partner_users_check
from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.customers.services import customer_create, stage_choices
from crm.inputs import clean_text, parse_decimal
from crm.org.enums import UserKind
from crm.org.models import User
from crm.org.selectors import staff_in_scope_of
from crm.org.services import StaleVersion

from .enums import PARTNER_TRANSITIONS, MemberRole, PartnerStatus
from .models import Partner, PartnerMember, PartnerTier
from .permissions import can_manage_partners, can_manage_tiers
from .selectors import member_of, partner_get_for_actor

PARTNER_FIELDS = ["code", "name", "short_name", "tier", "status", "owner", "department", "region", "credit_limit",
                  "payment_terms_days", "contract_start", "contract_end", "contact_name", "phone", "email",
                  "address", "sales_see_all"]
MAX_CREDIT = Decimal("99999999999999.99")

# The tiers a tenant starts with; their codes match the demo catalog's partner-tier price lists.
DEFAULT_TIERS = (("platinum", "白金", "Platinum"), ("gold", "金牌", "Gold"), ("silver", "银牌", "Silver"))


def _require_manager(actor) -> None:
    if not can_manage_partners(actor):
        raise PermissionDenied(_("你没有管理渠道伙伴的权限。"))


# -- tiers ----------------------------------------------------------------------------------------
def tiers_seed_defaults() -> list[PartnerTier]:
    """The default tiers (idempotent)."""
    have = set(PartnerTier.objects.values_list("code", flat=True))
    PartnerTier.objects.bulk_create([PartnerTier(code=c, name_zh=zh, name_en=en, position=n)
                                     for n, (c, zh, en) in enumerate(DEFAULT_TIERS) if c not in have])
    return list(PartnerTier.objects.all())


def tier_save(*, actor, data: dict, tier_id: int | None = None) -> PartnerTier:
    """Create or edit a tier: code (letters, digits, - and _; the partner-tier price list's code),
    name_zh, name_en, position, is_active."""
    if not can_manage_tiers(actor):
        raise PermissionDenied(_("只有可查看全部数据的渠道管理人员可以维护伙伴等级。"))
    errors: dict[str, str] = {}
    code = (data.get("code") or "").strip().lower()
    name_zh = (data.get("name_zh") or "").strip()
    if tier_id is None and not code:
        errors["code"] = _("请填写等级编码。")
    elif code and (len(code) > 32 or not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in code)):
        errors["code"] = _("等级编码只能包含字母、数字、- 和 _，最多 32 个字符。")
    if tier_id is None and not name_zh:
        errors["name_zh"] = _("请填写等级名称。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        tier = PartnerTier() if tier_id is None else PartnerTier.objects.select_for_update().get(pk=tier_id)
        before = audit_snapshot(tier, ["code", "name_zh", "name_en", "position", "is_active"]) if tier_id else {}
        if code:
            tier.code = code
        if name_zh:
            tier.name_zh = name_zh[:50]
        if "name_en" in data:
            tier.name_en = (data.get("name_en") or "").strip()[:50]
        if "position" in data:
            try:
                tier.position = max(0, min(int(data.get("position") or 0), 999))
            except (TypeError, ValueError):
                raise ValidationError({"position": _("排序应为整数。")}) from None
        if "is_active" in data:
            tier.is_active = bool(data.get("is_active"))
        try:
            with transaction.atomic():
                tier.save()
        except IntegrityError:
            raise ValidationError({"code": _("等级编码“%(code)s”已存在。") % {"code": tier.code}}) from None
        audit_record(actor=actor, instance=tier, action="update" if tier_id else "create",
                     changes=audit_diff(before, audit_snapshot(tier, ["code", "name_zh", "name_en", "position",
                                                                      "is_active"])))
    return tier


# -- partners -------------------------------------------------------------------------------------
def _next_code() -> str:
    last = Partner.objects.filter(code__startswith="P").order_by("-code").values_list("code", flat=True).first()
    n = int(last[1:]) + 1 if last and last[1:].isdigit() else 1
    return f"P{n:05d}"


def _date_or_error(value, field: str, label: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError({field: _("%(label)s应为日期，格式 YYYY-MM-DD。") % {"label": label}}) from None


def _clean_partner(actor, data: dict, *, creating: bool) -> dict:
    """The partner fields present in ``data``, checked; every problem at once."""
    clean: dict = {}
    errors: dict[str, list[str]] = {}

    def err(field, message):
        errors.setdefault(field, []).append(str(message))

    texts = [("name", _("伙伴名称"), 200), ("short_name", _("简称"), 60), ("contact_name", _("联系人"), 100),
             ("phone", _("电话"), 40), ("email", _("邮箱"), 254), ("address", _("地址"), 300), ("code", _("伙伴编号"), 20)]
    for field, label, length in texts:
        if field in data or (creating and field == "name"):
            try:
                clean[field] = clean_text(data.get(field), field=field, label=label, max_length=length,
                                          required=field == "name")
            except ValidationError as exc:
                err(field, exc.message_dict[field][0])
    if clean.get("email") and "@" not in clean["email"]:
        err("email", _("邮箱格式不正确。"))
    if clean.get("code"):
        clean["code"] = clean["code"].upper()
        if not clean["code"].replace("-", "").isascii() or not clean["code"].replace("-", "").isalnum():
            err("code", _("伙伴编号只能包含字母、数字和 -。"))
    elif "code" in clean:
        del clean["code"]
    if creating or "tier_id" in data or "tier" in data:
        raw = data.get("tier_id", data.get("tier"))
        tier = None
        if raw not in (None, ""):
            tier = (PartnerTier.objects.filter(pk=raw).first() if str(raw).isdigit()
                    else PartnerTier.objects.filter(code=str(raw).strip().lower()).first())
        if tier is None or not tier.is_active:
            err("tier_id", _("请选择一个启用中的伙伴等级。"))
        clean["tier"] = tier
    if "owner_id" in data and data.get("owner_id") not in (None, ""):
        owner = staff_in_scope_of(actor=actor).filter(pk=data.get("owner_id") if str(data.get("owner_id")).isdigit()
                                                       else 0).select_related("department", "region").first()
        if owner is None:
            err("owner_id", _("渠道经理不存在、已停用或不在你的管理范围内。"))
        clean["owner"] = owner
    if "credit_limit" in data:
        raw = data.get("credit_limit")
        if raw in (None, ""):
            clean["credit_limit"] = None
        else:
            try:
                clean["credit_limit"] = parse_decimal(raw, label=_("信用额度"), places=2, maximum=MAX_CREDIT)
            except ValueError as exc:
                err("credit_limit", str(exc))
    if "payment_terms_days" in data:
        try:
            days = int(str(data.get("payment_terms_days")).strip() or 30)
            if not 0 <= days <= 365:
                raise ValueError
            clean["payment_terms_days"] = days
        except ValueError:
            err("payment_terms_days", _("账期必须是 0 到 365 之间的整数天数。"))
    for field, label in (("contract_start", _("合同开始")), ("contract_end", _("合同结束"))):
        if field in data:
            try:
                clean[field] = _date_or_error(data.get(field), field, label)
            except ValidationError as exc:
                err(field, exc.message_dict[field][0])
    start = clean.get("contract_start")
    end = clean.get("contract_end")
    if start and end and end < start:
        err("contract_end", _("合同结束日期不能早于开始日期。"))
    if "sales_see_all" in data:
        clean["sales_see_all"] = bool(data.get("sales_see_all"))
    if "regions_served" in data:
        from crm.org.models import Region

        ids = data.get("regions_served") or []
        try:
            ids = [int(i) for i in ids]
        except (TypeError, ValueError):
            ids = None
        regions = list(Region.objects.filter(pk__in=ids or [], is_active=True)) if ids is not None else []
        if ids is None or len(regions) != len(set(ids)):
            err("regions_served", _("覆盖区域中有不存在或已停用的区域。"))
        clean["regions_served"] = regions
    if errors:
        raise ValidationError(errors)
    return clean


def partner_create(*, actor, data: dict, duplicate_override: bool = False, override_reason: str = "") -> Partner:
    """A new partner owned by a channel manager in the actor's scope (the actor by default), with
    its customer record: ``customer_id`` links an existing customer the actor may see, else one
    is created (its duplicate check applies: PossibleDuplicates unless overridden).
    ``data``: name, short_name, code (P00001... when empty), tier_id (or tier code), owner_id,
    region_id, regions_served [ids], credit_limit, payment_terms_days, contract_start/_end,
    contact_name, phone, email, address, sales_see_all."""
    _require_manager(actor)
    clean = _clean_partner(actor, data, creating=True)
    owner = clean.pop("owner", None) or actor
    regions = clean.pop("regions_served", [])
    from crm.customers.selectors import customer_get_for_actor

    with transaction.atomic():
        if data.get("customer_id") not in (None, ""):
            try:
                customer = customer_get_for_actor(actor=actor, customer_id=int(data["customer_id"]))
            except (ValueError, TypeError, ObjectDoesNotExist):
                raise ValidationError({"customer_id": _("客户不存在或不在你的可见范围内。")}) from None
            if Partner.objects.filter(customer=customer).exists():
                raise ValidationError({"customer_id": _("这个客户档案已经对应另一个渠道伙伴。")})
        else:
            profile = {"name": clean["name"], "short_name": clean.get("short_name", ""),
                       "phone": clean.get("phone", ""), "address": clean.get("address", ""), "source": _("渠道伙伴"),
                       "owner_id": owner.pk, "credit_code": data.get("credit_code") or ""}
            if "customer" in stage_choices():
                profile["stage"] = "customer"
            customer = customer_create(actor=actor, data=profile,
                duplicate_override=duplicate_override, override_reason=override_reason or _("渠道伙伴档案"))
        region_id = data.get("region_id") or owner.region_id or customer.region_id
        partner = Partner(code=clean.pop("code", "") or _next_code(), customer=customer, owner=owner,
                          department_id=owner.department_id, region_id=region_id, created_by=actor,
                          status_changed_at=timezone.now(), **clean)
        try:
            with transaction.atomic():
                partner.save()
        except IntegrityError:
            raise ValidationError({"code": _("伙伴编号“%(code)s”已存在。") % {"code": partner.code}}) from None
        if regions:
            partner.regions_served.set(regions)
        audit_record(actor=actor, instance=partner, action="create",
                     changes=audit_diff({}, audit_snapshot(partner, PARTNER_FIELDS)))
    return partner


def partner_update(*, actor, partner_id: int, data: dict, version: int | None = None) -> Partner:
    """Edit a partner in the actor's scope (the fields of partner_create but customer_id;
    status has its own service). ``version`` must be the one edited (else StaleVersion)."""
    _require_manager(actor)
    with transaction.atomic():
        partner = partner_get_for_actor(actor=actor, partner_id=partner_id)
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if version is not None and int(version) != partner.version:
            raise StaleVersion(current=partner.version)
        before = audit_snapshot(partner, PARTNER_FIELDS)
        clean = _clean_partner(actor, {k: v for k, v in data.items() if k not in ("status", "customer_id")},
                               creating=False)
        regions = clean.pop("regions_served", None)
        owner = clean.pop("owner", None)
        if owner is not None and owner.pk != partner.owner_id:
            partner.owner = owner
            partner.department_id = owner.department_id
        for name, value in clean.items():
            setattr(partner, name, value)
        if data.get("region_id") not in (None, ""):
            partner.region_id = int(data["region_id"])
        changes = audit_diff(before, audit_snapshot(partner, PARTNER_FIELDS))
        if regions is not None:
            partner.regions_served.set(regions)
            changes["regions_served"] = {"old": None, "new": [r.pk for r in regions]}
        if not changes:
            return partner
        partner.version += 1
        partner.save()
        audit_record(actor=actor, instance=partner, action="update", changes=changes)
    return partner


def partner_status_set(*, actor, partner_id: int, status: str, note: str = "") -> Partner:
    """active <-> suspended, either -> terminated (final). Suspending or terminating locks the
    partner's users out of the portal at once (checked on every request); their history stays."""
    _require_manager(actor)
    if status not in PartnerStatus.values:
        raise ValidationError({"status": _("状态只能是 active、suspended 或 terminated。")})
    note = clean_text(note, field="note", label=_("原因"), max_length=500)
    with transaction.atomic():
        partner = partner_get_for_actor(actor=actor, partner_id=partner_id)
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if partner.status == status:
            return partner
        if status not in PARTNER_TRANSITIONS[PartnerStatus(partner.status)]:
            raise ValidationError({"status": _("伙伴当前状态为“%(current)s”，不能改为“%(wanted)s”。") % {
                "current": partner.get_status_display(), "wanted": PartnerStatus(status).label}})
        if status != PartnerStatus.ACTIVE and not note:
            raise ValidationError({"note": _("暂停或终止合作时请填写原因。")})
        old = partner.status
        partner.status, partner.status_note, partner.status_changed_at = status, note, timezone.now()
        partner.version += 1
        partner.save(update_fields=["status", "status_note", "status_changed_at", "version", "updated_at"])
        audit_record(actor=actor, instance=partner, action="status",
                     changes={"status": {"old": old, "new": status}}, note=note)
    return partner


# -- partner users ----------------------------------------------------------------------------------------
def _member_manager_for(actor, partner_id: int) -> Partner:
    """The partner whose users ``actor`` may manage: staff with partners.manage in scope, or that
    partner's own admin. Partner.DoesNotExist (404) otherwise."""
    member = member_of(actor)
    if member is not None:
        if not member.is_admin or member.partner_id != int(partner_id) or not actor.is_active:
            raise Partner.DoesNotExist
        return member.partner
    _require_manager(actor)
    return partner_get_for_actor(actor=actor, partner_id=partner_id)


def _send_invitation(*, user_id: int, base_url: str, inviter: str, partner_name: str) -> None:
    user = User.objects.get(pk=user_id, kind=UserKind.PARTNER)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{base_url.rstrip('/')}/portal/reset/{uid}/{token}/"
    with translation.override(user.language or translation.get_language()):
        subject = _("%(inviter)s 邀请你使用 %(partner)s 的渠道门户") % {"inviter": inviter, "partner": partner_name}
        body = render_to_string("partners/email/invitation.txt",
                                {"user": user, "link": link, "inviter": inviter, "partner": partner_name})
    send_mail(subject, body, None, [user.email])


def member_invite(*, actor, partner_id: int, email: str, full_name: str, role: str = MemberRole.SALES,
                  phone: str = "", language: str = "", base_url: str = "", password: str | None = None) -> PartnerMember:
    """Create a portal user of the partner (by its channel manager's side or its own admin) and,
    with ``base_url``, email them a link to set their password. ``password`` is for demo data
    and tests only."""
    partner = _member_manager_for(actor, partner_id)
    if partner.status == PartnerStatus.TERMINATED:
        raise ValidationError({"partner": _("已终止合作的伙伴不能再添加用户。")})
    errors = {}
    email = (email or "").strip().lower()
    full_name = (full_name or "").strip()
    if not email or "@" not in email or len(email) > 254:
        errors["email"] = _("请填写有效的邮箱。")
    if not full_name or len(full_name) > 150:
        errors["full_name"] = _("请填写姓名（最多 150 个字符）。")
    if len((phone or "").strip()) > 32:
        errors["phone"] = _("手机号码最多 32 个字符。")
    if role not in MemberRole.values:
        errors["role"] = _("角色只能是 admin（伙伴管理员）或 sales（伙伴销售）。")
    if language not in ("", "zh-hans", "en"):
        errors["language"] = _("界面语言只能是 zh-hans 或 en。")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise ValidationError({"email": _("邮箱 %(email)s 已被使用。") % {"email": email}})
        partner_users_check(1, actor=actor)
        user = User.objects.create_user(email=email, password=password, full_name=full_name,
                                        phone=(phone or "").strip(), language=language, kind=UserKind.PARTNER,
                                        invited_by=actor)
        member = PartnerMember.objects.create(user=user, partner=partner, role=role, invited_by=actor)
        audit_record(actor=actor, instance=partner, action="member_invite",
                     changes={"member": {"old": None, "new": {"user": user.pk, "email": email, "role": role}}})
        if base_url:
            transaction.on_commit(lambda: _send_invitation(user_id=user.pk, base_url=base_url,
                                                           inviter=actor.full_name, partner_name=partner.name))
    return member


def _member_locked(actor, partner_id: int, member_id: int) -> tuple[Partner, PartnerMember]:
    partner = _member_manager_for(actor, partner_id)
    member = (PartnerMember.objects.select_for_update().select_related("user")
              .filter(pk=member_id, partner=partner).first())
    if member is None:
        raise PartnerMember.DoesNotExist
    return partner, member


def _admins_left(partner: Partner, *, without: PartnerMember) -> bool:
    return PartnerMember.objects.filter(partner=partner, role=MemberRole.ADMIN, user__is_active=True
                                        ).exclude(pk=without.pk).exists()


def member_role_set(*, actor, partner_id: int, member_id: int, role: str) -> PartnerMember:
    if role not in MemberRole.values:
        raise ValidationError({"role": _("角色只能是 admin（伙伴管理员）或 sales（伙伴销售）。")})
    with transaction.atomic():
        partner, member = _member_locked(actor, partner_id, member_id)
        if member.role == role:
            return member
        if member.role == MemberRole.ADMIN and not _admins_left(partner, without=member):
            raise ValidationError({"role": _("伙伴至少需要一位在用的伙伴管理员。")})
        old = member.role
        member.role = role
        member.save(update_fields=["role"])
        audit_record(actor=actor, instance=partner, action="member_role",
                     changes={"member": {"old": {"user": member.user_id, "role": old},
                                         "new": {"user": member.user_id, "role": role}}})
    return member


def member_active_set(*, actor, partner_id: int, member_id: int, active: bool) -> PartnerMember:
    """Deactivate (locks the user out at once; their records stay) or reactivate a partner user."""
    with transaction.atomic():
        partner, member = _member_locked(actor, partner_id, member_id)
        user = User.objects.select_for_update().get(pk=member.user_id)
        if user.is_active == bool(active):
            return member
        if not active and user.pk == actor.pk:
            raise ValidationError({"is_active": _("不能停用你自己的账号。")})
        if active:
            partner_users_check(1, actor=actor)
        if not active and member.role == MemberRole.ADMIN and not _admins_left(partner, without=member) \
                and member_of(actor) is not None:
            raise ValidationError({"member": _("不能停用最后一位伙伴管理员。")})
        user.is_active = bool(active)
        user.deactivated_at = None if active else timezone.now()
        user.version += 1
        user.save(update_fields=["is_active", "deactivated_at", "version"])
        if not active:
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user=user).delete()
        audit_record(actor=actor, instance=partner, action="member_activate" if active else "member_deactivate",
                     changes={"member": {"old": {"user": user.pk, "active": not active},
                                         "new": {"user": user.pk, "active": bool(active)}}})
    member.user = user
    return member


def partner_sales_visibility_set(*, actor, partner_id: int, see_all: bool) -> Partner:
    """The partner admin (or staff) decides whether partner sales see all of the partner's data."""
    with transaction.atomic():
        partner = _member_manager_for(actor, partner_id)
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        if partner.sales_see_all == bool(see_all):
            return partner
        partner.sales_see_all = bool(see_all)
        partner.version += 1
        partner.save(update_fields=["sales_see_all", "version", "updated_at"])
        audit_record(actor=actor, instance=partner, action="update",
                     changes={"sales_see_all": {"old": not see_all, "new": bool(see_all)}})
    return partner


# -- channel settings (appended for the staff pages: tiers and channel settings) -----------------
def partner_settings_update(*, actor, data: dict):
    """The tenant's channel settings: stock_display (level | exact), low_stock_threshold (>= 0),
    deal_protection_days (1-730). Company-wide: partners.manage with the "all" scope."""
    from .enums import StockDisplay
    from .selectors import partner_settings_get

    if not can_manage_tiers(actor):
        raise PermissionDenied(_("只有可查看全部数据的渠道管理人员可以修改渠道设置。"))
    errors: dict[str, str] = {}
    clean: dict = {}
    if "stock_display" in data:
        if data.get("stock_display") not in StockDisplay.values:
            errors["stock_display"] = _("库存显示只能是 level（有货/紧张/缺货）或 exact（可用数量）。")
        clean["stock_display"] = data.get("stock_display")
    if "low_stock_threshold" in data:
        try:
            clean["low_stock_threshold"] = parse_decimal(data.get("low_stock_threshold"), label=_("库存紧张阈值"),
                                                         places=3, maximum=Decimal("99999999999"))
        except ValueError as exc:
            errors["low_stock_threshold"] = str(exc)
    if "deal_protection_days" in data:
        try:
            days = int(str(data.get("deal_protection_days")).strip())
            if not 1 <= days <= 730:
                raise ValueError
            clean["deal_protection_days"] = days
        except (TypeError, ValueError):
            errors["deal_protection_days"] = _("报备保护期必须是 1 到 730 之间的整数天数。")
    if errors:
        raise ValidationError(errors)
    fields = ["stock_display", "low_stock_threshold", "deal_protection_days"]
    with transaction.atomic():
        row = partner_settings_get()
        row = type(row).objects.select_for_update().get(pk=row.pk)
        before = audit_snapshot(row, fields)
        for name, value in clean.items():
            setattr(row, name, value)
        changes = audit_diff(before, audit_snapshot(row, fields))
        if changes:
            row.save()
            audit_record(actor=actor, instance=row, action="update", changes=changes)
    return row
