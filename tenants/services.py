"""Tenant lifecycle: slug rules, the template schema, provisioning by cloning it, business
modes, and status changes. Every step is recorded as a TenantEvent."""

from __future__ import annotations

import logging
import re
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context, schema_exists

from .enums import ALLOWED_TRANSITIONS, TenantEventKind, TenantStatus
from .models import Domain, Tenant, TenantEvent
from .modes import MODES, get_mode
from .schema_clone import schema_clone
from .selectors import tenant_cache_forget

log = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
RESERVED_SLUGS = frozenset({
    "www", "admin", "api", "console", "static", "media", "mail", "smtp", "ftp", "app", "portal",
    "public", "billing", "signup", "login", "help", "support", "status", "docs", "blog", "dev",
    "test", "staging", "assets", "cdn", "ns1", "ns2", "root", "system", "qiao", "template",
    "localhost", "healthz", "webhooks", "stripe",
})
TEMPLATE_SLUG = "__template__"


class ProvisioningError(Exception):
    pass


def _event(tenant: Tenant, kind: str, *, actor: str = "system", from_status: str = "",
           to_status: str = "", **detail) -> None:
    TenantEvent.objects.create(tenant=tenant, kind=kind, actor=actor, from_status=from_status,
                               to_status=to_status, detail=detail)


# -- validation ------------------------------------------------------------------------------
def _slug_error(message: str, code: str) -> ValidationError:
    return ValidationError({"slug": ValidationError(message, code=code)})


def tenant_slug_validate(slug: str) -> str:
    """DNS-safe, 3-40 characters, not reserved, not taken. Returns the normalised slug."""
    slug = (slug or "").strip().lower()
    if not 3 <= len(slug) <= 40:
        raise _slug_error(_("子域名长度须为 3 到 40 个字符。"), "length")
    if not SLUG_RE.match(slug):
        raise _slug_error(_("子域名只能包含小写字母、数字和连字符，且不能以连字符开头或结尾。"), "invalid")
    if "--" in slug:
        raise _slug_error(_("子域名不能包含连续的连字符。"), "invalid")
    if slug in RESERVED_SLUGS:
        raise _slug_error(_("“%(slug)s”是保留名称，请换一个。") % {"slug": slug}, "reserved")
    if Tenant.objects.filter(slug=slug).exists():
        raise _slug_error(_("子域名“%(slug)s”已被占用。") % {"slug": slug}, "taken")
    return slug


def _schema_for(slug: str) -> str:
    return "t_" + slug.replace("-", "_")


# -- public tenant and template ----------------------------------------------------------------
def tenant_public_ensure() -> Tenant:
    """The row for the public schema and the public host (BASE_DOMAIN)."""
    with schema_context(get_public_schema_name()):
        public, _created = Tenant.objects.get_or_create(
            schema_name=get_public_schema_name(),
            defaults={"name": "Qiao", "slug": "__public__", "status": TenantStatus.ACTIVE},
        )
        for host in {settings.BASE_DOMAIN}:
            Domain.objects.get_or_create(domain=host, defaults={"tenant": public, "is_primary": True})
        return public


def tenant_template_ensure(*, verbosity: int = 0) -> Tenant:
    """The data-free template schema every tenant is cloned from. It is a Tenant row, so
    `migrate_schemas` and `migrate_tenants` keep it migrated whenever migrations change;
    this also migrates it now if anything is pending."""
    schema = settings.TENANT_TEMPLATE_SCHEMA
    with schema_context(get_public_schema_name()):
        template, _created = Tenant.objects.get_or_create(
            schema_name=schema,
            defaults={"name": "Template", "slug": TEMPLATE_SLUG, "is_template": True,
                      "status": TenantStatus.ACTIVE},
        )
        if not schema_exists(schema):
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "{schema}"')
        from .migrations_runner import pending_migrations

        if pending_migrations(schema):
            call_command("migrate_schemas", schema_name=schema, tenant=True,
                         interactive=False, verbosity=verbosity)
        connection.set_schema_to_public()
        return template


# -- provisioning ------------------------------------------------------------------------------
@transaction.atomic
def tenant_request(*, name: str, slug: str, mode: str, admin_email: str, admin_name: str,
                   admin_password: str | None = None, language: str = "zh-hans",
                   time_zone: str = "Asia/Shanghai", currency: str = "CNY",
                   plan_code: str = "trial", demo: bool = False, actor: str = "system",
                   awaiting_payment: bool = False, extra: dict | None = None) -> Tenant:
    """Record a new tenant (status provisioning) and its domain. ``tenant_provision`` then
    builds its schema, in a Celery task from the web or directly from the command line.

    ``awaiting_payment``: a paid sign-up; the tenant waits (status awaiting_payment, no schema)
    until Stripe Checkout completes, then ``tenant_provision_start`` moves it on. ``extra`` is
    kept in the provisioning payload (e.g. the sign-up's plan interval)."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("公司名称不能为空。")
    if mode not in MODES:
        errors["mode"] = _("未知的业务模式：%(mode)s") % {"mode": mode}
    if language not in dict(settings.LANGUAGES):
        errors["language"] = _("不支持的语言：%(lang)s") % {"lang": language}
    if not admin_email or "@" not in admin_email:
        errors["admin_email"] = _("请输入有效的管理员邮箱。")
    try:
        slug = tenant_slug_validate(slug)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    status = TenantStatus.AWAITING_PAYMENT if awaiting_payment else TenantStatus.PROVISIONING
    tenant = Tenant(
        name=name, slug=slug, schema_name=_schema_for(slug), modes=[mode], language=language,
        time_zone=time_zone, currency=currency, plan_code=plan_code,
        status=status, admin_email=admin_email.strip().lower(),
        admin_name=(admin_name or "").strip(),
        provisioning_payload={
            **(extra or {}),
            "password_hash": make_password(admin_password) if admin_password else None,
            "demo": demo,
        },
    )
    tenant.save()
    Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=tenant, is_primary=True)
    _event(tenant, TenantEventKind.PROVISIONING_REQUESTED, actor=actor,
           to_status=status, mode=mode, plan=plan_code)
    return tenant


def tenant_provision_start(*, tenant_id: int, actor: str = "system") -> Tenant:
    """Queue the provisioning of a tenant that is awaiting payment (Checkout completed) or whose
    provisioning failed (a retry from the console). Idempotent: a tenant already provisioning
    or live is returned unchanged and nothing is queued twice."""
    from .tasks import tenant_provision_task

    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
        if tenant.status not in (TenantStatus.AWAITING_PAYMENT, TenantStatus.FAILED):
            return tenant
        before = tenant.status
        tenant.status = TenantStatus.PROVISIONING
        tenant.save(update_fields=["status", "updated_at"])
        kind = (TenantEventKind.PROVISIONING_RETRIED if before == TenantStatus.FAILED
                else TenantEventKind.STATUS_CHANGED)
        _event(tenant, kind, actor=actor, from_status=before, to_status=TenantStatus.PROVISIONING)
        transaction.on_commit(lambda: tenant_provision_task.delay(tenant.pk))
    tenant_cache_forget(tenant)
    return tenant


def _drop_schema(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def tenant_provision(*, tenant_id: int, demo_password: str | None = None) -> Tenant:
    """Build the tenant's schema: clone the template, apply the business mode, create the
    admin (and demo data if asked). All of it commits together or not at all, under a lock on
    the tenant row (a second worker waits, then finds the work done). On failure the schema
    is gone, the status is ``failed`` with the error recorded, and calling this again retries
    safely. Calling it for a tenant that is already live changes nothing."""
    from crm.org.services import org_load_demo, org_setup_tenant  # tenant-schema side

    connection.set_schema_to_public()
    template = settings.TENANT_TEMPLATE_SCHEMA
    started = time.perf_counter()
    tenant = Tenant.objects.get(pk=tenant_id)
    try:
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
            if tenant.status not in (TenantStatus.PROVISIONING, TenantStatus.FAILED):
                return tenant
            previous = tenant.status
            if not schema_exists(template):
                raise ProvisioningError(
                    f"template schema {template!r} is missing; run `manage.py qiao_setup`")
            _drop_schema(tenant.schema_name)  # remains of an attempt interrupted outside a transaction
            method = schema_clone(template, tenant.schema_name)
            mode = get_mode(tenant.primary_mode)
            payload = tenant.provisioning_payload or {}
            with schema_context(tenant.schema_name):
                org_setup_tenant(company_name=tenant.name, mode=mode,
                                 admin_email=tenant.admin_email, admin_name=tenant.admin_name,
                                 admin_password_hash=payload.get("password_hash"),
                                 language=tenant.language)
                if payload.get("demo"):
                    org_load_demo(mode=mode, email_domain=f"{tenant.slug}.example.com",
                                  password=demo_password or "Qiao@2026")
            connection.set_schema_to_public()
            tenant.status = TenantStatus.ACTIVE
            tenant.provisioned_at = timezone.now()
            tenant.provisioning_error = ""
            tenant.provisioning_payload = {}
            tenant.provisioning_attempts += 1
            tenant.save(update_fields=["status", "provisioned_at", "provisioning_error",
                                       "provisioning_payload", "provisioning_attempts", "updated_at"])
            _event(tenant, TenantEventKind.PROVISIONED, from_status=previous,
                   to_status=TenantStatus.ACTIVE, seconds=round(time.perf_counter() - started, 3),
                   clone=method)
            # Its subscription: a trial, the one Checkout paid for, or complimentary (demo).
            from billing.services import subscription_on_provisioned

            subscription_on_provisioned(tenant_id=tenant.pk, demo=bool(payload.get("demo")))
    except Exception as exc:
        # The transaction rolled back: the cloned schema and every row in it are gone.
        connection.set_schema_to_public()
        log.exception("provisioning of tenant %s failed", tenant.slug)
        error = f"{type(exc).__name__}: {exc}"
        with transaction.atomic():
            _drop_schema(tenant.schema_name)
            tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
            previous = tenant.status
            tenant.status = TenantStatus.FAILED
            tenant.provisioning_error = error[:4000]
            tenant.provisioning_attempts += 1
            tenant.save(update_fields=["status", "provisioning_error", "provisioning_attempts",
                                       "updated_at"])
            _event(tenant, TenantEventKind.PROVISIONING_FAILED, from_status=previous,
                   to_status=TenantStatus.FAILED, error=error[:1000])
    finally:
        connection.set_schema_to_public()
        tenant_cache_forget(tenant)
    return tenant


def tenant_create(**kwargs) -> Tenant:
    """Request and provision in one go (command line, demo data, tests)."""
    demo_password = kwargs.pop("demo_password", None)
    tenant = tenant_request(**kwargs)
    return tenant_provision(tenant_id=tenant.pk, demo_password=demo_password)


def tenant_create_async(**kwargs) -> Tenant:
    """Request now; provision in a Celery task once the request has committed."""
    from .tasks import tenant_provision_task

    tenant = tenant_request(**kwargs)
    transaction.on_commit(lambda: tenant_provision_task.delay(tenant.pk))
    return tenant


# -- modes and status -------------------------------------------------------------------------
@transaction.atomic
def tenant_enable_mode(*, tenant_id: int, mode: str, actor: str = "system", actor_user=None) -> Tenant:
    """Add a second (or further) business mode to a live tenant."""
    from crm.org.services import tenant_config_apply_mode

    mode_obj = get_mode(mode) if mode in MODES else None
    if mode_obj is None:
        raise ValidationError({"mode": _("未知的业务模式：%(mode)s") % {"mode": mode}})
    tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
    if mode in tenant.modes:
        return tenant
    with schema_context(tenant.schema_name):
        tenant_config_apply_mode(mode=mode_obj, actor=actor_user)
    tenant.modes = [*tenant.modes, mode]
    tenant.save(update_fields=["modes", "updated_at"])
    _event(tenant, TenantEventKind.MODE_ENABLED, actor=actor, mode=mode)
    transaction.on_commit(lambda: tenant_cache_forget(tenant))
    return tenant


@transaction.atomic
def tenant_set_status(*, tenant_id: int, status: str, reason: str = "", actor: str = "system",
                      source: str = "") -> Tenant:
    """``source`` names the part of the product that made the change ("billing" for the
    billing lifecycle), so that billing only ever lifts a suspension it made itself."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
    if tenant.status == status:
        return tenant
    if status not in ALLOWED_TRANSITIONS.get(tenant.status, set()):
        raise ValidationError({"status": _("不能从“%(a)s”变为“%(b)s”。") % {
            "a": TenantStatus(tenant.status).label, "b": TenantStatus(status).label}})
    before = tenant.status
    tenant.status = status
    tenant.status_reason = reason[:500]
    tenant.save(update_fields=["status", "status_reason", "updated_at"])
    _event(tenant, TenantEventKind.STATUS_CHANGED, actor=actor, from_status=before,
           to_status=status, reason=reason, **({"source": source} if source else {}))
    transaction.on_commit(lambda: tenant_cache_forget(tenant))
    return tenant


def tenant_suspended_by(tenant_id: int) -> str | None:
    """Who made the tenant's current suspension: the ``source`` of the status change that
    suspended it ("billing"), "" for anyone else (an operator), None when not suspended."""
    tenant = Tenant.objects.get(pk=tenant_id)
    if tenant.status != TenantStatus.SUSPENDED:
        return None
    event = (TenantEvent.objects.filter(tenant_id=tenant_id, kind=TenantEventKind.STATUS_CHANGED,
                                        to_status=TenantStatus.SUSPENDED).order_by("-at", "-id").first())
    return (event.detail or {}).get("source", "") if event else ""


ABANDONED_SIGNUP_HOURS = 25  # Stripe Checkout sessions expire after 24 hours


def tenant_signups_abandoned_close(*, now=None) -> int:
    """Close the paid sign-ups that never paid (awaiting payment for longer than a Checkout
    session lives) and free their subdomain: the row is kept, with its history, under a slug
    and schema name no sign-up can ask for (sign-up slugs never hold "--"), and its domain goes.
    Returns how many were closed."""
    cutoff = (now or timezone.now()) - timedelta(hours=ABANDONED_SIGNUP_HOURS)
    closed = 0
    for pk in list(Tenant.objects.filter(status=TenantStatus.AWAITING_PAYMENT, created_at__lt=cutoff)
                   .values_list("pk", flat=True)):
        with transaction.atomic():
            tenant = Tenant.objects.select_for_update().get(pk=pk)
            if tenant.status != TenantStatus.AWAITING_PAYMENT:
                continue
            released = tenant.slug
            tenant.slug = f"{released}--unpaid-{tenant.pk}"[:63]
            tenant.schema_name = f"{tenant.schema_name}__unpaid_{tenant.pk}"[:63]
            tenant.status = TenantStatus.CLOSED
            tenant.status_reason = _("注册后未完成付款，已关闭")
            tenant.provisioning_payload = {}  # the admin's password hash is not kept
            tenant.save(update_fields=["slug", "schema_name", "status", "status_reason",
                                       "provisioning_payload", "updated_at"])
            hosts = list(tenant.domains.values_list("domain", flat=True))
            tenant_cache_forget(tenant)  # while its domains still name the cached hosts
            tenant.domains.all().delete()
            _event(tenant, TenantEventKind.STATUS_CHANGED, from_status=TenantStatus.AWAITING_PAYMENT,
                   to_status=TenantStatus.CLOSED, reason="unpaid sign-up", released_slug=released,
                   domains=hosts)
        closed += 1
    return closed


def tenant_event_record(*, tenant_id: int, kind: str, actor: str = "system", from_status: str = "",
                        to_status: str = "", **detail) -> TenantEvent:
    """Record one event in a tenant's history (billing and the console record theirs here)."""
    return TenantEvent.objects.create(tenant_id=tenant_id, kind=kind, actor=actor[:200],
                                      from_status=from_status, to_status=to_status, detail=detail)


@transaction.atomic
def tenant_plan_code_set(*, tenant_id: int, plan_code: str) -> Tenant:
    """Keep ``Tenant.plan_code`` equal to the subscription's plan (billing calls this; the plan
    change itself is recorded by billing as a plan_changed event)."""
    tenant = Tenant.objects.select_for_update().get(pk=tenant_id)
    if tenant.plan_code != plan_code:
        tenant.plan_code = plan_code
        tenant.save(update_fields=["plan_code", "updated_at"])
        transaction.on_commit(lambda: tenant_cache_forget(tenant))
    return tenant


def tenant_usage_record(*, schema_name: str, usage: dict, last_activity_at=None) -> None:
    """Store the figures a tenant's periodic usage task computed (public schema)."""
    with schema_context(get_public_schema_name()):
        fields = {"usage": {**usage, "reported_at": timezone.now().isoformat()}}
        if last_activity_at is not None:
            fields["last_activity_at"] = last_activity_at
        Tenant.objects.filter(schema_name=schema_name).update(**fields)
