"""Notices the tenant publishes on the partner portal's home page: to every partner, or to the
partners of some tiers; shown from ``published_at`` until ``expires_at`` while active."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm.audit.services import audit_diff, audit_record, audit_snapshot
from crm.inputs import clean_text

from .models import PartnerNotice, PartnerTier
from .permissions import can_manage_partners

FIELDS = ["title_zh", "title_en", "body_zh", "body_en", "tiers", "published_at", "expires_at", "is_active"]


def _require(actor) -> None:
    if not can_manage_partners(actor):
        raise PermissionDenied(_("你没有管理渠道伙伴的权限。"))


def _when(value, field: str, label: str) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, datetime.date):
        moment = datetime.datetime.combine(value, datetime.time.min)
    else:
        text = str(value).strip()
        moment = parse_datetime(text.replace(" ", "T")) if "T" in text or " " in text or ":" in text else None
        if moment is None:
            try:
                moment = datetime.datetime.combine(datetime.date.fromisoformat(text), datetime.time.min)
            except ValueError:
                raise ValidationError({field: _("%(label)s应为日期时间，如 2026-05-01 09:00。") % {"label": label}}) from None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _clean(data: dict, *, creating: bool) -> dict:
    clean: dict = {}
    errors: dict[str, str] = {}
    for field, label, length, required in (("title_zh", _("标题"), 200, True), ("title_en", _("英文标题"), 200, False),
                                           ("body_zh", _("内容"), 10000, False),
                                           ("body_en", _("英文内容"), 10000, False)):
        if field in data or (creating and required):
            try:
                clean[field] = clean_text(data.get(field), field=field, label=label, max_length=length,
                                          required=required)
            except ValidationError as exc:
                errors[field] = exc.message_dict[field][0]
    if "tiers" in data:
        raw = data.get("tiers") or []
        if isinstance(raw, str):
            raw = [c for c in raw.replace("，", ",").split(",")]
        codes = sorted({str(c).strip().lower() for c in raw if str(c).strip()})
        known = set(PartnerTier.objects.filter(code__in=codes).values_list("code", flat=True))
        unknown = [c for c in codes if c not in known]
        if unknown:
            errors["tiers"] = _("没有这些伙伴等级：%(codes)s。") % {"codes": ", ".join(unknown)}
        clean["tiers"] = codes
    for field, label in (("published_at", _("发布时间")), ("expires_at", _("下线时间"))):
        if field in data:
            try:
                clean[field] = _when(data.get(field), field, label)
            except ValidationError as exc:
                errors[field] = exc.message_dict[field][0]
    if "is_active" in data:
        clean["is_active"] = bool(data.get("is_active"))
    if errors:
        raise ValidationError(errors)
    return clean


def notice_publish(*, actor, data: dict) -> PartnerNotice:
    """A new notice: title_zh (required), title_en, body_zh, body_en, tiers (codes; empty for
    every partner), published_at (now by default), expires_at (after published_at)."""
    _require(actor)
    clean = _clean(data, creating=True)
    clean["published_at"] = clean.get("published_at") or timezone.now()
    if clean.get("expires_at") and clean["expires_at"] <= clean["published_at"]:
        raise ValidationError({"expires_at": _("下线时间必须晚于发布时间。")})
    with transaction.atomic():
        notice = PartnerNotice.objects.create(created_by=actor, **clean)
        audit_record(actor=actor, instance=notice, action="create",
                     changes=audit_diff({}, audit_snapshot(notice, FIELDS)))
    return notice


def notice_update(*, actor, notice_id: int, data: dict) -> PartnerNotice:
    _require(actor)
    clean = _clean(data, creating=False)
    with transaction.atomic():
        notice = PartnerNotice.objects.select_for_update().get(pk=notice_id)
        before = audit_snapshot(notice, FIELDS)
        for name, value in clean.items():
            if name == "published_at" and value is None:
                continue
            setattr(notice, name, value)
        if notice.expires_at and notice.expires_at <= notice.published_at:
            raise ValidationError({"expires_at": _("下线时间必须晚于发布时间。")})
        changes = audit_diff(before, audit_snapshot(notice, FIELDS))
        if changes:
            notice.save()
            audit_record(actor=actor, instance=notice, action="update", changes=changes)
    return notice


def notice_unpublish(*, actor, notice_id: int) -> PartnerNotice:
    """Take a notice off the portal (idempotent)."""
    _require(actor)
    with transaction.atomic():
        notice = PartnerNotice.objects.select_for_update().get(pk=notice_id)
        if not notice.is_active:
            return notice
        notice.is_active = False
        notice.save(update_fields=["is_active"])
        audit_record(actor=actor, instance=notice, action="unpublish",
                     changes={"is_active": {"old": True, "new": False}})
    return notice


def notice_list_for_staff(*, actor) -> QuerySet[PartnerNotice]:
    if actor is None or getattr(actor, "is_partner_user", True):
        return PartnerNotice.objects.none()
    return PartnerNotice.objects.select_related("created_by").order_by("-published_at", "-id")


def notices_for_partner(*, partner, language: str = "zh-hans", now: datetime.datetime | None = None,
                        limit: int = 20) -> list[PartnerNotice]:
    """The notices a partner sees now (active, published, not expired, for all tiers or the
    partner's), newest first; each with ``title`` and ``body`` in ``language`` (the Chinese text
    when there is no English one)."""
    now = now or timezone.now()
    tier_code = partner.tier.code if partner.tier_id else ""
    rows = list(PartnerNotice.objects.filter(is_active=True, published_at__lte=now)
                .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
                .filter(Q(tiers=[]) | Q(tiers__contains=[tier_code]))
                .order_by("-published_at", "-id")[:limit])
    english = (language or "").startswith("en")
    for row in rows:
        row.title = (row.title_en or row.title_zh) if english else row.title_zh
        row.body = (row.body_en or row.body_zh) if english else row.body_zh
    return rows
