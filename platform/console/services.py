"""What operators do from the console (public schema). Each action validates its input, calls
the owning app's service, and records itself twice: in the operator log (who, when, why, from
where) and, when it concerns a tenant, as a TenantEvent in the tenant's history."""

from __future__ import annotations

import datetime
import re

import pyotp
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from tenants.enums import TenantEventKind, TenantStatus
from tenants.models import Domain, Tenant
from tenants.selectors import tenant_base_url, tenant_cache_forget

from .enums import OperatorAction, SupportEndReason
from .models import OperatorLogEntry, OperatorTOTP, SupportSession

TOTP_ISSUER = "Qiao Console"
TOTP_DRIFT_STEPS = 1  # accept the previous and the next 30-second code too (clock drift)
REASON_MAX = 500
TRIAL_EXTEND_MAX_DAYS = 90
SUPPORT_MAX_MINUTES = 60


# -- the operator log ----------------------------------------------------------------------------
def operator_log_write(*, operator, action: str, tenant: Tenant | None = None, reason: str = "",
                       detail: dict | None = None, ip: str | None = None,
                       operator_email: str = "") -> OperatorLogEntry:
    with schema_context(get_public_schema_name()):
        return OperatorLogEntry.objects.create(
            operator=operator if getattr(operator, "pk", None) else None,
            operator_email=(getattr(operator, "email", "") or operator_email)[:254],
            action=action, tenant=tenant, reason=(reason or "")[:REASON_MAX],
            detail=detail or {}, ip=ip or None)


def _tenant_event(tenant: Tenant, kind: str, *, actor: str, **detail) -> None:
    from tenants.services import tenant_event_record

    tenant_event_record(tenant_id=tenant.pk, kind=kind, actor=actor, **detail)


def _reason_required(reason: str, *, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请说明%(what)s的原因。") % {"what": what}})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": _("原因最多 %(n)s 个字。") % {"n": REASON_MAX}})
    return reason


def _tenant(tenant_id) -> Tenant:
    try:
        return Tenant.objects.real().get(pk=tenant_id)
    except (Tenant.DoesNotExist, ValueError, TypeError):
        raise ValidationError({"tenant": _("租户不存在。")}) from None


# -- the second factor ---------------------------------------------------------------------------
def totp_enrolment_get(*, operator) -> OperatorTOTP:
    """The operator's TOTP device; a new unconfirmed secret the first time. A confirmed device
    is returned as is (enrolment happens once)."""
    device, _created = OperatorTOTP.objects.get_or_create(
        operator=operator, defaults={"secret": pyotp.random_base32()})
    return device


def totp_provisioning_uri(device: OperatorTOTP, *, email: str) -> str:
    return pyotp.TOTP(device.secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


def _matching_step(secret: str, code: str, now: datetime.datetime) -> int | None:
    code = re.sub(r"\s+", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return None
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in range(-TOTP_DRIFT_STEPS, TOTP_DRIFT_STEPS + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step + offset), code):
            return step + offset
    return None


@transaction.atomic
def totp_verify(*, operator, code: str, now: datetime.datetime | None = None) -> bool:
    """True when ``code`` is the operator's current code and was not used before (a code seen
    once, or an older one, is refused). The first valid code confirms an enrolment."""
    device = OperatorTOTP.objects.select_for_update().filter(operator=operator).first()
    if device is None:
        return False
    step = _matching_step(device.secret, code, now or timezone.now())
    if step is None or (device.last_used_step is not None and step <= device.last_used_step):
        return False
    device.last_used_step = step
    fields = ["last_used_step"]
    if device.confirmed_at is None:
        device.confirmed_at = timezone.now()
        fields.append("confirmed_at")
    device.save(update_fields=fields)
    return True


def totp_reset(*, operator) -> None:
    """Forget an operator's second factor (a lost phone): they enrol again at the next sign-in."""
    OperatorTOTP.objects.filter(operator=operator).delete()


def operator_totp_reset(*, actor, ip: str | None, operator_id, reason: str):
    """A superuser resets another operator's second factor (a lost phone), with a reason: the
    operator enrols a new authenticator at their next sign-in; their open console sessions end
    (sessions keep the verified mark, so every session of theirs is dropped). Logged."""
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.models import Session

    if not actor.is_superuser:
        raise ValidationError({"operator": _("只有超级管理员可以重置两步验证。")})
    target = (get_user_model().objects.filter(pk=operator_id, is_staff=True).first()
              if str(operator_id).isdigit() else None)
    if target is None:
        raise ValidationError({"operator": _("没有这个运营人员。")})
    if target.pk == actor.pk:
        raise ValidationError({"operator": _("不能重置自己的两步验证。")})
    reason = _reason_required(reason, what=_("重置两步验证"))
    with transaction.atomic():
        had = OperatorTOTP.objects.filter(operator=target).exists()
        totp_reset(operator=target)
        ended = 0
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
            if str(session.get_decoded().get("_auth_user_id")) == str(target.pk):
                session.delete()
                ended += 1
        operator_log_write(operator=actor, action=OperatorAction.OTP_RESET, reason=reason, ip=ip,
                           detail={"operator": target.email, "had_second_factor": had, "sessions_ended": ended})
    return target


# -- tenants -------------------------------------------------------------------------------------
def tenant_create(*, operator, ip: str | None, **fields) -> Tenant:
    from tenants.services import tenant_create_async

    with transaction.atomic():
        tenant = tenant_create_async(actor=operator.email, **fields)
        operator_log_write(operator=operator, action=OperatorAction.TENANT_CREATED, tenant=tenant, ip=ip,
                           detail={"slug": tenant.slug, "mode": fields.get("mode"),
                                   "plan": tenant.plan_code})
    return tenant


_STATUS_ACTIONS = {
    "suspend": (TenantStatus.SUSPENDED, OperatorAction.TENANT_SUSPENDED),
    "resume": (TenantStatus.ACTIVE, OperatorAction.TENANT_RESUMED),
    "close": (TenantStatus.CLOSED, OperatorAction.TENANT_CLOSED),
}


def tenant_status_act(*, operator, ip: str | None, tenant_id: int, action: str, reason: str = "",
                      confirm_slug: str = "") -> Tenant:
    """Suspend (read-only), resume or close a tenant. Suspending and closing need a reason;
    closing also needs the tenant's subdomain typed again."""
    from tenants.services import tenant_set_status

    if action not in _STATUS_ACTIONS:
        raise ValidationError({"action": _("未知的操作。")})
    status, logged = _STATUS_ACTIONS[action]
    tenant = _tenant(tenant_id)
    if action == "suspend":
        reason = _reason_required(reason, what=_("暂停"))
    elif action == "close":
        reason = _reason_required(reason, what=_("关闭"))
        if (confirm_slug or "").strip().lower() != tenant.slug:
            raise ValidationError({"confirm": _("请输入子域名“%(slug)s”以确认关闭。") % {"slug": tenant.slug}})
    else:
        reason = (reason or "").strip()[:REASON_MAX]
    if tenant.status == status:
        raise ValidationError({"status": _("租户已经是“%(s)s”状态。") % {"s": TenantStatus(status).label}})
    with transaction.atomic():
        before = tenant.status
        tenant = tenant_set_status(tenant_id=tenant.pk, status=status, reason=reason,
                                   actor=operator.email)
        if action == "close":
            from billing.services import subscription_end_now

            # no more charges for a closed tenant (Stripe unreachable: BillingError, and the
            # transaction leaves the tenant as it was)
            subscription_end_now(tenant=tenant, actor=operator.email, reason=reason)
        operator_log_write(operator=operator, action=logged, tenant=tenant, reason=reason, ip=ip,
                           detail={"from": before, "to": status})
    return tenant


def tenant_plan_change(*, operator, ip: str | None, tenant_id: int, plan_code: str, interval: str,
                       reason: str = "") -> Tenant:
    """Move a tenant to another plan (billing.services.plan_change: Stripe with proration for a
    paid subscription). A BillingError reaches the caller, which shows its message."""
    from billing import services as billing_services
    from billing.enums import Interval
    from billing.models import Plan

    tenant = _tenant(tenant_id)
    plan = Plan.objects.filter(code=plan_code, is_active=True).first()
    if plan is None:
        raise ValidationError({"plan": _("套餐不存在或已停用：%(code)s") % {"code": plan_code}})
    if interval not in Interval.values:
        raise ValidationError({"interval": _("计费周期只能是按月或按年。")})
    before = tenant.plan_code
    billing_services.plan_change(tenant=tenant, plan=plan, interval=interval, actor=operator.email)
    operator_log_write(operator=operator, action=OperatorAction.PLAN_CHANGED, tenant=tenant, ip=ip,
                       reason=(reason or "").strip(),
                       detail={"from": before, "to": plan.code, "interval": interval})
    tenant.refresh_from_db()
    return tenant


def tenant_trial_extend(*, operator, ip: str | None, tenant_id: int, days, reason: str = "") -> Tenant:
    from billing import services as billing_services

    tenant = _tenant(tenant_id)
    try:
        days = int(days)
    except (TypeError, ValueError):
        days = 0
    if not 1 <= days <= TRIAL_EXTEND_MAX_DAYS:
        raise ValidationError({"days": _("延长天数须在 1 到 %(n)s 之间。") % {"n": TRIAL_EXTEND_MAX_DAYS}})
    subscription = billing_services.trial_extend(tenant=tenant, days=days, actor=operator.email)
    operator_log_write(operator=operator, action=OperatorAction.TRIAL_EXTENDED, tenant=tenant, ip=ip,
                       reason=(reason or "").strip(),
                       detail={"days": days, "trial_ends_at": subscription.trial_ends_at.isoformat()
                               if getattr(subscription, "trial_ends_at", None) else None})
    return tenant


_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def domain_normalise(raw: str) -> str:
    """A custom domain as stored: lower-case, IDNA (punycode) for non-ASCII names, no trailing
    dot. Refuses URLs, ports, IP addresses, single labels and the platform's own domain."""
    host = (raw or "").strip().lower().rstrip(".")
    if not host:
        raise ValidationError({"domain": _("请输入域名。")})
    if any(c in host for c in "/:@?# \t"):
        raise ValidationError({"domain": _("只填写主机名，例如 crm.example.com（不带 http://、端口或路径）。")})
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValidationError({"domain": _("“%(d)s”不是有效的域名。") % {"d": raw}}) from None
    base = settings.BASE_DOMAIN.lower()
    if host == base or host.endswith("." + base):
        raise ValidationError({"domain": _("平台域名 %(base)s 下的地址由子域名分配，不能作为自定义域名。")
                               % {"base": base}})
    labels = host.split(".")
    if labels[-1].isdigit():
        raise ValidationError({"domain": _("不能使用 IP 地址，请填写域名。")})
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels):
        raise ValidationError({"domain": _("“%(d)s”不是有效的域名。") % {"d": raw}})
    return host


def domain_add(*, operator, ip: str | None, tenant_id: int, domain: str) -> Domain:
    tenant = _tenant(tenant_id)
    host = domain_normalise(domain)
    taken = Domain.objects.select_related("tenant").filter(domain=host).first()
    if taken is not None:
        raise _domain_taken(host, taken.tenant, tenant)
    try:
        with transaction.atomic():
            row = Domain.objects.create(domain=host, tenant=tenant, is_primary=False)
            _tenant_event(tenant, TenantEventKind.DOMAIN_ADDED, actor=operator.email, domain=host)
            operator_log_write(operator=operator, action=OperatorAction.DOMAIN_ADDED, tenant=tenant,
                               ip=ip, detail={"domain": host})
    except IntegrityError:  # added by someone else a moment ago
        taken = Domain.objects.select_related("tenant").filter(domain=host).first()
        raise _domain_taken(host, taken.tenant if taken else None, tenant) from None
    tenant_cache_forget(tenant)  # a lookup of this host may have been cached as "unknown"
    return row


def _domain_taken(host: str, owner: Tenant | None, tenant: Tenant) -> ValidationError:
    if owner is not None and owner.pk == tenant.pk:
        return ValidationError({"domain": _("域名 %(d)s 已经属于这个租户。") % {"d": host}})
    return ValidationError({"domain": _("域名 %(d)s 已被其他租户或平台使用。") % {"d": host}})


def domain_remove(*, operator, ip: str | None, tenant_id: int, domain_id) -> None:
    tenant = _tenant(tenant_id)
    row = Domain.objects.filter(pk=domain_id, tenant=tenant).first() if str(domain_id).isdigit() else None
    if row is None:
        raise ValidationError({"domain": _("这个租户没有该域名。")})
    if row.is_primary:
        raise ValidationError({"domain": _("不能移除主域名 %(d)s。") % {"d": row.domain}})
    tenant_cache_forget(tenant)
    with transaction.atomic():
        host = row.domain
        row.delete()
        _tenant_event(tenant, TenantEventKind.DOMAIN_REMOVED, actor=operator.email, domain=host)
        operator_log_write(operator=operator, action=OperatorAction.DOMAIN_REMOVED, tenant=tenant,
                           ip=ip, detail={"domain": host})
    tenant_cache_forget(tenant)


def tenant_provision_retry(*, operator, ip: str | None, tenant_id: int) -> Tenant:
    """Queue a failed provisioning again (tenants.services.tenant_provision_start)."""
    from tenants.services import tenant_provision_start

    tenant = _tenant(tenant_id)
    if tenant.status != TenantStatus.FAILED:
        raise ValidationError({"status": _("只有开通失败的租户可以重新开通（当前：%(s)s）。")
                               % {"s": TenantStatus(tenant.status).label}})
    with transaction.atomic():
        error = tenant.provisioning_error[:300]
        tenant = tenant_provision_start(tenant_id=tenant.pk, actor=operator.email)
        operator_log_write(operator=operator, action=OperatorAction.PROVISIONING_RETRIED, tenant=tenant,
                           ip=ip, detail={"previous_error": error})
    return tenant


# -- support access ------------------------------------------------------------------------------
def support_session_start(*, operator, ip: str | None, tenant_id: int, user_id, reason: str,
                          minutes) -> tuple[SupportSession, str]:
    """Grant the operator support access to one user of a tenant: recorded here (operator log,
    TenantEvent), then entered on the tenant host with the returned one-time URL (valid 60 s)."""
    from crm.org.support_access import support_access_target, support_token_make

    tenant = _tenant(tenant_id)
    reason = _reason_required(reason, what=_("客服代登录"))
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        minutes = 0
    if not 1 <= minutes <= SUPPORT_MAX_MINUTES:
        raise ValidationError({"minutes": _("时长须在 1 到 %(n)s 分钟之间。") % {"n": SUPPORT_MAX_MINUTES}})
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        raise ValidationError({"tenant": _("只能进入正常或已暂停的租户（当前：%(s)s）。")
                               % {"s": TenantStatus(tenant.status).label}})
    with schema_context(tenant.schema_name):
        user = support_access_target(user_id=user_id)
        target = user and {"id": user.pk, "email": user.email, "name": user.full_name, "kind": user.kind}
    if not target:
        raise ValidationError({"user": _("该租户没有这个在职用户。")})
    now = timezone.now()
    with transaction.atomic():
        session = SupportSession.objects.create(
            operator=operator, operator_email=operator.email, tenant=tenant, user_id=target["id"],
            user_email=target["email"], user_name=target["name"], user_kind=target["kind"],
            reason=reason, minutes=minutes, created_at=now,
            expires_at=now + datetime.timedelta(minutes=minutes))
        detail = {"session": session.pk, "user": target["email"], "user_kind": target["kind"],
                  "minutes": minutes, "expires_at": session.expires_at.isoformat()}
        _tenant_event(tenant, TenantEventKind.SUPPORT_ACCESS, actor=operator.email, reason=reason,
                      phase="granted", **detail)
        operator_log_write(operator=operator, action=OperatorAction.SUPPORT_STARTED, tenant=tenant,
                           reason=reason, ip=ip, detail=detail)
    token = support_token_make(session_id=session.pk, schema_name=tenant.schema_name,
                               user_id=target["id"], operator_email=operator.email,
                               operator_name=operator.full_name, reason=reason,
                               expires_at=session.expires_at)
    return session, f"{tenant_base_url(tenant)}support-access/?token={token}"


def support_session_revoke(*, operator, ip: str | None, tenant_id: int, session_id, reason: str = "") -> SupportSession:
    """End a support session from the console before its expiry (another operator's too): the
    tenant host signs the browser out at its next request, and a token not yet used is refused."""
    from crm.org.support_access import support_session_revoked_set

    tenant = _tenant(tenant_id)
    session = (SupportSession.objects.filter(tenant=tenant, pk=session_id).first()
               if str(session_id).isdigit() else None)
    if session is None:
        raise ValidationError({"session": _("这个租户没有这次客服代登录。")})
    if not session.is_open():
        raise ValidationError({"session": _("这次客服代登录已经结束。")})
    with transaction.atomic():
        updated = SupportSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
            ended_at=timezone.now(), end_reason=SupportEndReason.REVOKED)
        if not updated:
            raise ValidationError({"session": _("这次客服代登录已经结束。")})
        detail = {"session": session.pk, "user": session.user_email, "operator": session.operator_email}
        _tenant_event(tenant, TenantEventKind.SUPPORT_ACCESS, actor=operator.email, phase="revoked",
                      reason=reason.strip()[:500], **detail)
        operator_log_write(operator=operator, action=OperatorAction.SUPPORT_REVOKED, tenant=tenant,
                           reason=reason.strip()[:500], ip=ip, detail=detail)
        transaction.on_commit(lambda: support_session_revoked_set(session_id=session.pk,
                                                                  schema_name=tenant.schema_name))
    session.refresh_from_db()
    return session


def support_event_record(*, event: str, session_id, ip: str | None = None, path: str = "",
                         method: str = "", end_reason: str = "", **_ignored) -> None:
    """What the tenant host reports about a support session (crm.org.support_access's signal):
    entered, each page, ended. Written to the operator log in the public schema."""
    with schema_context(get_public_schema_name()):
        session = SupportSession.objects.select_related("tenant").filter(pk=session_id).first()
        if session is None:
            return
        common = {"operator": session.operator_id and _operator_ref(session), "tenant": session.tenant,
                  "ip": ip, "operator_email": session.operator_email}
        if event == "page":
            SupportSession.objects.filter(pk=session.pk).update(pages=F("pages") + 1)
            operator_log_write(action=OperatorAction.SUPPORT_PAGE, reason=session.reason,
                               detail={"session": session.pk, "user": session.user_email,
                                       "path": path, "method": method}, **common)
        elif event == "signed_in":
            SupportSession.objects.filter(pk=session.pk, started_at__isnull=True).update(
                started_at=timezone.now())
            operator_log_write(action=OperatorAction.SUPPORT_SIGNED_IN, reason=session.reason,
                               detail={"session": session.pk, "user": session.user_email}, **common)
        elif event == "ended":
            end = end_reason if end_reason in SupportEndReason.values else SupportEndReason.ENDED
            with transaction.atomic():
                updated = SupportSession.objects.filter(pk=session.pk, ended_at__isnull=True).update(
                    ended_at=timezone.now(), end_reason=end)
                if updated:
                    _tenant_event(session.tenant, TenantEventKind.SUPPORT_ACCESS,
                                  actor=session.operator_email, phase="ended", session=session.pk,
                                  user=session.user_email, end_reason=end)
                    operator_log_write(action=OperatorAction.SUPPORT_ENDED, reason=session.reason,
                                       detail={"session": session.pk, "user": session.user_email,
                                               "end_reason": end, "pages": session.pages}, **common)


def _operator_ref(session: SupportSession):
    """The operator as a bare reference (no query): the log needs only the id and email."""
    from django.contrib.auth import get_user_model

    ref = get_user_model()(pk=session.operator_id, email=session.operator_email)
    ref._state.adding = False
    return ref
