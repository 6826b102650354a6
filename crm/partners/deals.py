"""Deal registration (报备): a partner registers an opportunity with an end customer to get
protection for the tenant's ``PartnerSettings.deal_protection_days``; the partner's channel
manager (or anyone with partners.manage over the partner) approves or rejects it.

Registering looks for conflicts: another partner's registration that is pending or approved and
still protected, for the same normalised customer name or credit code, and the tenant's own open
opportunities (crm.sales) with a customer of that name or credit code. They are stored on the
registration for the channel manager; the partner sees only that a conflict was flagged.

Only tenants with complex (project) sales have deal registration (the "projects" module)."""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit.services import audit_record
from crm.customers.normalize import (
    company_name_normalize,
    credit_code_is_valid,
    credit_code_normalize,
)
from crm.inputs import clean_text, parse_decimal

from .enums import DEAL_TRANSITIONS, DealStatus, MemberRole
from .models import DealRegistration
from .permissions import can_manage_partners
from .selectors import partner_list_visible_to, partner_settings_get, portal_member_active

DEALS_MODULE = "projects"
MAX_AMOUNT = Decimal("99999999999999.99")


class DealsUnavailable(PermissionDenied):
    """The tenant's business mode has no deal registration."""


class DealTransitionRefused(ValidationError):
    """The registration's status does not allow the operation (a 409)."""

    def __init__(self, deal: DealRegistration, wanted: str):
        self.current, self.wanted = deal.status, wanted
        super().__init__(_("报备 %(number)s 当前状态为“%(current)s”，不能改为“%(wanted)s”。") % {
            "number": deal.number, "current": deal.get_status_display(), "wanted": DealStatus(wanted).label},
            code="transition_not_allowed")


def deals_enabled() -> bool:
    """Whether the tenant has deal registration (complex / project sales)."""
    from crm.org.selectors import tenant_config_get

    config = tenant_config_get()
    return DEALS_MODULE in (config.enabled_modules or []) or "project" in (config.modes or [])


def _require_enabled() -> None:
    if not deals_enabled():
        raise DealsUnavailable(_("项目报备仅适用于复杂项目销售模式的企业，本企业未启用。"))


def _member(actor):
    member = portal_member_active(actor)
    if member is None:
        raise PermissionDenied(_("只有在用的渠道伙伴用户可以报备项目。"))
    return member


def _next_number(year: int) -> str:
    """DR2026-000001...: serialised by a transaction-level advisory lock (the unique number is
    the backstop)."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5152, year])
    prefix = f"DR{year}-"
    last = (DealRegistration.objects.filter(number__startswith=prefix).order_by("-number")
            .values_list("number", flat=True).first())
    n = int(last[len(prefix):]) + 1 if last and last[len(prefix):].isdigit() else 1
    return f"{prefix}{n:06d}"


def _parse_date(value, field: str, label: str) -> datetime.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError({field: _("%(label)s应为日期，格式 YYYY-MM-DD。") % {"label": label}}) from None


def _clean(actor, data: dict) -> dict:
    from .end_customers import end_customers_visible_to

    errors: dict[str, str] = {}
    clean: dict = {}
    end_customer = None
    if data.get("end_customer_id") not in (None, ""):
        try:
            end_customer = end_customers_visible_to(actor=actor).get(pk=int(data["end_customer_id"]))
        except (ObjectDoesNotExist, TypeError, ValueError):
            errors["end_customer_id"] = _("终端客户不存在。")
    clean["end_customer"] = end_customer
    for field, label, length, required in (("customer_name", _("客户名称"), 200, end_customer is None),
                                           ("title", _("项目名称"), 200, True),
                                           ("description", _("说明"), 4000, False),
                                           ("credit_code", _("统一社会信用代码"), 40, False)):
        try:
            clean[field] = clean_text(data.get(field), field=field, label=label, max_length=length, required=required)
        except ValidationError as exc:
            errors[field] = exc.message_dict[field][0]
    if end_customer is not None:
        clean["customer_name"] = clean.get("customer_name") or end_customer.name
        clean["credit_code"] = clean.get("credit_code") or end_customer.credit_code
    if clean.get("customer_name") and not company_name_normalize(clean["customer_name"]):
        errors["customer_name"] = _("客户名称至少要有一个文字或字母。")
    if clean.get("credit_code"):
        clean["credit_code"] = credit_code_normalize(clean["credit_code"])
        if not credit_code_is_valid(clean["credit_code"]):
            errors["credit_code"] = _("统一社会信用代码“%(code)s”无效（应为 18 位，且校验位正确）。") % {
                "code": clean["credit_code"]}
    try:
        clean["amount"] = parse_decimal(data.get("amount"), label=_("预计金额"), places=2, maximum=MAX_AMOUNT)
    except ValueError as exc:
        errors["amount"] = str(exc)
    try:
        clean["expected_close"] = _parse_date(data.get("expected_close"), "expected_close", _("预计成交日期"))
        if clean["expected_close"] and clean["expected_close"] < timezone.localdate():
            errors["expected_close"] = _("预计成交日期不能早于今天。")
    except ValidationError as exc:
        errors["expected_close"] = exc.message_dict["expected_close"][0]
    if errors:
        raise ValidationError(errors)
    return clean


def _live_q(today: datetime.date) -> Q:
    return Q(status=DealStatus.PENDING) | Q(status=DealStatus.APPROVED, protected_until__gte=today)


def deal_conflicts_find(*, partner_id: int, customer_name: str, credit_code: str = "",
                        exclude_id: int | None = None) -> list[dict]:
    """Another partner's live registration, or an open staff opportunity, for the same customer
    (normalised name or credit code). Staff-only detail: [{kind, id, label}]."""
    from crm.customers.models import Customer
    from crm.sales.enums import OpportunityStatus
    from crm.sales.models import Opportunity

    norm = company_name_normalize(customer_name)
    same = Q(customer_name_norm=norm) if norm else Q(pk__in=[])
    if credit_code:
        same |= Q(credit_code=credit_code)
    found: list[dict] = []
    deals = (DealRegistration.objects.filter(same).filter(_live_q(timezone.localdate()))
             .exclude(partner_id=partner_id).select_related("partner"))
    if exclude_id:
        deals = deals.exclude(pk=exclude_id)
    for d in deals.order_by("created_at", "id")[:20]:
        found.append({"kind": "deal", "id": d.pk, "label": f"{d.number} {d.partner.name}: {d.title}",
                      "partner_id": d.partner_id, "status": d.status})
    customers = Q(name_norm=norm) if norm else Q(pk__in=[])
    if credit_code:
        customers |= Q(credit_code=credit_code)
    customer_ids = Customer.objects.live().filter(customers).values("pk")
    for o in (Opportunity.objects.filter(customer_id__in=customer_ids, status=OpportunityStatus.OPEN)
              .select_related("owner", "customer").order_by("id")[:20]):
        found.append({"kind": "opportunity", "id": o.pk,
                      "label": f"{o.name} ({o.customer.name}, {o.owner.full_name})", "owner_id": o.owner_id})
    return found


def deal_register(*, actor, data: dict) -> DealRegistration:
    """Register a deal for the actor's partner: ``customer_name`` (or ``end_customer_id``),
    ``credit_code``, ``title``, ``amount``, ``expected_close``, ``description``. Conflicts are
    recorded, not refused; the partner's own live registration for the same customer is refused."""
    _require_enabled()
    member = _member(actor)
    clean = _clean(actor, data)
    norm = company_name_normalize(clean["customer_name"])[:200]
    today = timezone.localdate()
    with transaction.atomic():
        own = DealRegistration.objects.filter(partner_id=member.partner_id).filter(_live_q(today))
        own = own.filter(Q(customer_name_norm=norm) | (Q(credit_code=clean["credit_code"])
                                                       if clean.get("credit_code") else Q(pk__in=[])))
        existing = own.first()
        if existing is not None:
            raise ValidationError({"customer_name": _("你们已为这个客户报备过项目：%(number)s “%(title)s”（%(status)s）。") % {
                "number": existing.number, "title": existing.title, "status": existing.get_status_display()}},
                code="duplicate")
        conflicts = deal_conflicts_find(partner_id=member.partner_id, customer_name=clean["customer_name"],
                                        credit_code=clean.get("credit_code", ""))
        deal = DealRegistration.objects.create(
            number=_next_number(today.year), partner_id=member.partner_id, end_customer=clean["end_customer"],
            customer_name=clean["customer_name"], customer_name_norm=norm, credit_code=clean.get("credit_code", ""),
            title=clean["title"], amount=clean["amount"], expected_close=clean["expected_close"],
            description=clean.get("description", ""), conflicts=conflicts, created_by=actor)
        audit_record(actor=actor, instance=deal, action="create", changes={
            "deal": {"old": None, "new": {"number": deal.number, "customer": deal.customer_name,
                                           "amount": str(deal.amount), "conflicts": len(conflicts)}}})
        partner = member.partner
        transaction.on_commit(lambda: _notify_owner(deal.pk, partner.owner_id))
    return deal


def _notify_owner(deal_id: int, owner_id: int) -> None:
    from crm.activities.enums import NotificationKind
    from crm.activities.services import notification_create
    from crm.org.models import User

    deal = DealRegistration.objects.select_related("partner").get(pk=deal_id)
    owner = User.staff.filter(pk=owner_id, is_active=True).first()
    if owner is None:
        return
    flag = _("（有冲突）") if deal.conflicts else ""
    notification_create(recipient=owner, kind=NotificationKind.APPROVAL_PENDING,
                        title=_("%(partner)s 报备了项目 %(number)s%(flag)s") % {
                            "partner": deal.partner.name, "number": deal.number, "flag": flag},
                        body=f"{deal.customer_name}: {deal.title}, {deal.amount} {deal.currency}",
                        url=f"/partners/{deal.partner_id}/deals/", dedup_key=f"deal-new:{deal.pk}")


def _notify_registrant(deal_id: int) -> None:
    from crm.activities.enums import NotificationKind
    from crm.activities.services import notification_create

    deal = DealRegistration.objects.select_related("created_by").get(pk=deal_id)
    user = deal.created_by
    if user is None or not user.is_active:
        return
    from django.utils import translation

    with translation.override(user.language or translation.get_language()):
        if deal.status == DealStatus.APPROVED:
            title = _("项目报备 %(number)s 已批准，保护期至 %(day)s") % {
                "number": deal.number, "day": deal.protected_until.isoformat()}
        else:
            title = _("项目报备 %(number)s 已被驳回") % {"number": deal.number}
        notification_create(recipient=user, kind=NotificationKind.APPROVAL_RESULT, title=title,
                            body=deal.decision_note, url=f"/portal/deals/{deal.pk}/",
                            dedup_key=f"deal-decided:{deal.pk}", email=True)


def deals_visible_to(*, actor) -> QuerySet[DealRegistration]:
    """A partner user's registrations: the partner admin all of the partner's, partner sales
    their own unless the partner lets them see all."""
    member = portal_member_active(actor)
    if member is None:
        return DealRegistration.objects.none()
    qs = DealRegistration.objects.filter(partner_id=member.partner_id)
    if member.role != MemberRole.ADMIN and not member.partner.sales_see_all:
        qs = qs.filter(created_by=actor)
    return qs.select_related("end_customer", "created_by")


def deals_for_staff(*, actor, status: str | None = None, partner_id: int | None = None) -> QuerySet[DealRegistration]:
    """Registrations of the partners in the staff actor's scope, newest first."""
    if status and status not in DealStatus.values:
        raise ValidationError({"status": _("状态只能是：%(values)s。") % {"values": ", ".join(DealStatus.values)}})
    qs = DealRegistration.objects.filter(partner__in=partner_list_visible_to(actor=actor).values("pk"))
    if status:
        qs = qs.filter(status=status)
    if partner_id is not None:
        qs = qs.filter(partner_id=partner_id)
    return qs.select_related("partner", "created_by", "decided_by", "end_customer").order_by("-created_at", "-id")


def deal_get_for_staff(*, actor, deal_id) -> DealRegistration:
    return deals_for_staff(actor=actor).get(pk=deal_id)


def can_decide_deal(actor, deal: DealRegistration) -> bool:
    if actor is None or not actor.is_active or getattr(actor, "is_partner_user", True):
        return False
    if deal.partner.owner_id == actor.pk:
        return True
    return can_manage_partners(actor)


def deal_decide(*, actor, deal_id: int, decision: str, note: str = "") -> DealRegistration:
    """Approve (protected until today + the tenant's protection days) or reject (with a reason)
    a pending registration of a partner in the actor's scope. Idempotent."""
    if decision not in ("approve", "reject"):
        raise ValidationError({"decision": _("决定只能是 approve（批准）或 reject（驳回）。")})
    note = clean_text(note, field="note", label=_("审核意见"), max_length=1000)
    if decision == "reject" and not note:
        raise ValidationError({"note": _("驳回报备时请填写原因。")})
    wanted = DealStatus.APPROVED if decision == "approve" else DealStatus.REJECTED
    with transaction.atomic():
        deal = deal_get_for_staff(actor=actor, deal_id=deal_id)
        if not can_decide_deal(actor, deal):
            raise PermissionDenied(_("只有该伙伴的渠道经理或渠道管理人员可以审核报备。"))
        deal = DealRegistration.objects.select_for_update().select_related("partner").get(pk=deal.pk)
        if deal.status == wanted:
            return deal
        if wanted not in DEAL_TRANSITIONS[DealStatus(deal.status)] or deal.status != DealStatus.PENDING:
            raise DealTransitionRefused(deal, wanted)
        old = deal.status
        deal.status, deal.decided_by, deal.decided_at, deal.decision_note = wanted, actor, timezone.now(), note
        if wanted == DealStatus.APPROVED:
            deal.protected_until = timezone.localdate() + datetime.timedelta(
                days=partner_settings_get().deal_protection_days)
        deal.version += 1
        deal.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "protected_until",
                                 "version", "updated_at"])
        audit_record(actor=actor, instance=deal, action="decide", note=note, changes={
            "status": {"old": old, "new": wanted},
            "protected_until": {"old": None, "new": deal.protected_until.isoformat() if deal.protected_until else None}})
        transaction.on_commit(lambda: _notify_registrant(deal.pk))
    return deal


def deal_withdraw(*, actor, deal_id: int) -> DealRegistration:
    """The registering partner user (or the partner admin) withdraws a pending or approved
    registration. Idempotent."""
    _require_enabled()
    member = _member(actor)
    with transaction.atomic():
        deal = deals_visible_to(actor=actor).get(pk=deal_id)
        if deal.created_by_id != actor.pk and member.role != MemberRole.ADMIN:
            raise PermissionDenied(_("只有报备人或伙伴管理员可以撤回报备。"))
        deal = DealRegistration.objects.select_for_update().get(pk=deal.pk)
        if deal.status == DealStatus.WITHDRAWN:
            return deal
        if DealStatus.WITHDRAWN not in DEAL_TRANSITIONS[DealStatus(deal.status)]:
            raise DealTransitionRefused(deal, DealStatus.WITHDRAWN)
        old = deal.status
        deal.status = DealStatus.WITHDRAWN
        deal.version += 1
        deal.save(update_fields=["status", "version", "updated_at"])
        audit_record(actor=actor, instance=deal, action="withdraw",
                     changes={"status": {"old": old, "new": DealStatus.WITHDRAWN}})
    return deal


def deals_expire(*, today: datetime.date | None = None) -> int:
    """Approved registrations whose protection ended before ``today`` become expired (the
    periodic task). Returns how many."""
    today = today or timezone.localdate()
    count = 0
    with transaction.atomic():
        due = list(DealRegistration.objects.select_for_update(skip_locked=True)
                   .filter(status=DealStatus.APPROVED, protected_until__lt=today)[:1000])
        for deal in due:
            deal.status = DealStatus.EXPIRED
            deal.version += 1
            deal.save(update_fields=["status", "version", "updated_at"])
            audit_record(actor=None, instance=deal, action="expire",
                         changes={"status": {"old": DealStatus.APPROVED, "new": DealStatus.EXPIRED}})
            count += 1
    return count


def deal_partner_view(deal: DealRegistration) -> dict:
    """What a partner user may know about a registration: no conflict details, no reviewer."""
    return {"id": deal.pk, "number": deal.number, "customer_name": deal.customer_name,
            "credit_code": deal.credit_code, "end_customer_id": deal.end_customer_id, "title": deal.title,
            "amount": deal.amount, "currency": deal.currency, "expected_close": deal.expected_close,
            "description": deal.description, "status": deal.status, "status_label": deal.get_status_display(),
            "conflict_flagged": bool(deal.conflicts), "protected_until": deal.protected_until,
            "decision_note": deal.decision_note if deal.status in (DealStatus.REJECTED, DealStatus.APPROVED) else "",
            "created_at": deal.created_at, "decided_at": deal.decided_at}

