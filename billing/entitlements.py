"""What the current tenant's plan allows: staff seats, partner users, modules.

The plan comes from the tenant's ``Subscription`` (public schema), else from ``Plan`` by
``Tenant.plan_code``. It is cached per tenant schema in the Django cache (Redis; the key
function puts the schema name in every key); ``entitlements_forget(tenant_id)`` drops it after a
plan change. Checks raise ``EntitlementError`` (a ValidationError, code "plan_limit") whose
message names the limit, the plan and the way to upgrade. Inside the public schema (operators)
nothing is limited.

Counting and writing must not race: the checks take a transaction-scoped advisory lock per
tenant schema, so two invitations at the last free seat cannot both pass. Call them inside the
transaction that then creates or reactivates the user.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import NoReverseMatch, reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from .modules import CORE_MODULES, MODULES

log = logging.getLogger(__name__)

CACHE_KEY = "billing-entitlements"
CACHE_SECONDS = getattr(settings, "ENTITLEMENTS_CACHE_SECONDS", 300)
PLAN_LIMIT = "plan_limit"


class EntitlementError(ValidationError):
    """A plan limit was reached, or a module is not in the plan. ``field`` names what ran out
    ("staff_seats", "partner_users", "module"); views show the message, APIs answer 4xx."""

    def __init__(self, message: str, *, field: str, limit: int | None = None, used: int | None = None,
                 module: str = "", plan_code: str = ""):
        super().__init__({field: ValidationError(message, code=PLAN_LIMIT)})
        self.code = PLAN_LIMIT
        self.field = field
        self.message_text = message
        self.limit, self.used, self.module, self.plan_code = limit, used, module, plan_code

    def __str__(self) -> str:
        return self.message_text


@dataclass(frozen=True)
class Entitlements:
    plan_code: str
    plan_name: str
    plan_name_en: str
    staff_seats: int | None  # None: unlimited
    partner_users: int | None
    modules: frozenset[str]
    is_trial: bool = False

    @property
    def display_name(self) -> str:
        english = (get_language() or "").startswith("en")
        return self.plan_name_en if english and self.plan_name_en else self.plan_name

    def has_module(self, key: str) -> bool:
        return key in CORE_MODULES or key in self.modules

    def as_cache(self) -> dict:
        return {"plan_code": self.plan_code, "plan_name": self.plan_name, "plan_name_en": self.plan_name_en,
                "staff_seats": self.staff_seats, "partner_users": self.partner_users,
                "modules": sorted(self.modules), "is_trial": self.is_trial}

    @classmethod
    def from_cache(cls, data: dict) -> Entitlements:
        return cls(**{**data, "modules": frozenset(data["modules"])})

    @classmethod
    def from_plan(cls, plan) -> Entitlements:
        return cls(plan_code=plan.code, plan_name=plan.name, plan_name_en=plan.name_en,
                   staff_seats=plan.staff_seats, partner_users=plan.partner_users,
                   modules=frozenset(plan.modules), is_trial=plan.is_trial)


UNLIMITED = Entitlements(plan_code="", plan_name="", plan_name_en="", staff_seats=None, partner_users=None,
                         modules=frozenset(MODULES))


def _current_schema() -> str:
    return getattr(connection, "schema_name", None) or get_public_schema_name()


def _load(schema: str) -> Entitlements:
    """The plan of the tenant living in ``schema``, read from the public schema."""
    from tenants.models import Tenant

    from .models import Plan, Subscription

    with schema_context(get_public_schema_name()):
        sub = Subscription.objects.select_related("plan").filter(tenant__schema_name=schema).first()
        if sub is not None:
            return Entitlements.from_plan(sub.plan)
        code = Tenant.objects.filter(schema_name=schema).values_list("plan_code", flat=True).first()
        plan = Plan.objects.filter(code=code).first() if code else None
        if plan is None:
            plan = Plan.objects.filter(code="trial").first()
            log.warning("tenant schema %s has no subscription and no plan %r; using %s",
                        schema, code, plan.code if plan else "no limits")
    return Entitlements.from_plan(plan) if plan is not None else UNLIMITED


def entitlements_current() -> Entitlements:
    """What the plan of the tenant whose schema is active allows (cached)."""
    schema = _current_schema()
    if schema == get_public_schema_name():
        return UNLIMITED
    data = cache.get(CACHE_KEY)  # the key carries the schema name
    if data is not None:
        return Entitlements.from_cache(data)
    ent = _load(schema)
    cache.set(CACHE_KEY, ent.as_cache(), CACHE_SECONDS)
    return ent


def entitlements_for_tenant(tenant) -> Entitlements:
    with schema_context(tenant.schema_name):
        return entitlements_current()


def entitlements_forget(tenant_id: int) -> None:
    """Drop the cached plan of a tenant (after a plan change). Safe from any schema."""
    from tenants.models import Tenant

    with schema_context(get_public_schema_name()):
        schema = Tenant.objects.filter(pk=tenant_id).values_list("schema_name", flat=True).first()
    if schema:
        with schema_context(schema):
            cache.delete(CACHE_KEY)


# -- usage --------------------------------------------------------------------------------------
def staff_seats_used() -> int:
    from crm.org.enums import UserKind
    from crm.org.models import User

    return User.objects.filter(kind=UserKind.STAFF, is_active=True).count()


def partner_users_used() -> int:
    from crm.org.enums import UserKind
    from crm.org.models import User

    return User.objects.filter(kind=UserKind.PARTNER, is_active=True).count()


def _lock(name: str) -> None:
    """Serialise seat-consuming writes of this tenant until the transaction ends."""
    if connection.in_atomic_block:
        key = zlib.crc32(f"{_current_schema()}:{name}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x51A0, key - (1 << 31)])


# -- messages -----------------------------------------------------------------------------------
def billing_page_path() -> str:
    try:
        return reverse("org:billing")
    except NoReverseMatch:
        return ""


def upgrade_hint(actor=None) -> str:
    """How to lift the limit: the billing page for tenant admins, their administrator for others."""
    from crm.org.permissions import is_tenant_admin

    path = billing_page_path()
    if actor is not None and not getattr(actor, "is_partner_user", False) and is_tenant_admin(actor) and path:
        return _("请在「设置 › 套餐与账单」升级套餐：%(url)s") % {"url": path}
    return _("请联系系统管理员升级套餐。")


def _limit_error(*, field: str, what: str, ent: Entitlements, limit: int, used: int, actor) -> EntitlementError:
    message = _("当前套餐「%(plan)s」最多 %(limit)s 个%(what)s，已用 %(used)s 个。") % {
        "plan": ent.display_name, "limit": limit, "what": what, "used": used}
    return EntitlementError(f"{message}{upgrade_hint(actor)}", field=field, limit=limit, used=used,
                            plan_code=ent.plan_code)


# -- checks -------------------------------------------------------------------------------------
def staff_seats_check(extra: int = 1, *, actor=None) -> None:
    """Raise EntitlementError unless ``extra`` more active staff fit in the plan's seats.
    Only active staff count; partner users never use staff seats."""
    ent = entitlements_current()
    if ent.staff_seats is None or extra <= 0:
        return
    _lock("staff_seats")
    used = staff_seats_used()
    if used + extra > ent.staff_seats:
        raise _limit_error(field="staff_seats", what=_("员工账号"), ent=ent, limit=ent.staff_seats,
                           used=used, actor=actor)


def partner_users_check(extra: int = 1, *, actor=None) -> None:
    """Raise EntitlementError unless ``extra`` more active partner users fit in the plan."""
    ent = entitlements_current()
    if ent.partner_users is None or extra <= 0:
        return
    _lock("partner_users")
    used = partner_users_used()
    if used + extra > ent.partner_users:
        raise _limit_error(field="partner_users", what=_("渠道伙伴用户账号"), ent=ent,
                           limit=ent.partner_users, used=used, actor=actor)


def module_enabled(key: str) -> bool:
    """Whether the current tenant's plan includes module ``key`` (core modules always)."""
    return entitlements_current().has_module(key)


def module_label(key: str) -> str:
    return str(MODULES.get(key, key))


def module_check(key: str, *, actor=None) -> None:
    ent = entitlements_current()
    if ent.has_module(key):
        return
    message = _("当前套餐「%(plan)s」不包含「%(module)s」模块。") % {
        "plan": ent.display_name, "module": module_label(key)}
    raise EntitlementError(f"{message}{upgrade_hint(actor)}", field="module", module=key,
                           plan_code=ent.plan_code)


# -- which module a URL of the tenant host belongs to ---------------------------------------------
# Longest prefix wins. Paths not listed (sign-in, "today", staff, settings, billing, language,
# API docs) are core and always open.
MODULE_PREFIXES: tuple[tuple[str, str], ...] = (
    # staff pages
    ("/customers/", "customers"),
    ("/sales/", "sales"),
    ("/orders/", "orders"),
    ("/catalog/", "orders"),
    ("/approvals/", "orders"),
    ("/finance/", "finance"),
    ("/analytics/", "analytics"),
    ("/integrations/", "integrations"),
    ("/partners/", "partners"),
    # the partner portal, its pages and its API
    ("/portal/", "partners"),
    ("/api/v1/portal/", "partners"),
    # the staff API
    ("/api/v1/customers/", "customers"),
    ("/api/v1/contacts/", "customers"),
    ("/api/v1/opportunities/", "sales"),
    ("/api/v1/quotes/", "sales"),
    ("/api/v1/forecast", "sales"),
    ("/api/v1/orders/", "orders"),
    ("/api/v1/categories/", "orders"),
    ("/api/v1/products/", "orders"),
    ("/api/v1/price-lists/", "orders"),
    ("/api/v1/prices/", "orders"),
    ("/api/v1/stock", "orders"),
    ("/api/v1/warehouses/", "orders"),
    ("/api/v1/approval-policies/", "orders"),
    ("/api/v1/approvals/", "orders"),
    ("/api/v1/delegations/", "orders"),
    ("/api/v1/invoices/", "finance"),
    ("/api/v1/payments/", "finance"),
    ("/api/v1/receivables/", "finance"),
    ("/api/v1/dashboard/", "analytics"),
    ("/api/v1/erp", "integrations"),  # erp/ and erp-clients/
    ("/api/v1/webhook-", "integrations"),
    ("/api/v1/inbound-messages/", "integrations"),
    ("/api/v1/partners/", "partners"),
)
_PREFIXES = tuple(sorted(MODULE_PREFIXES, key=lambda p: len(p[0]), reverse=True))


def module_for_path(path: str) -> str | None:
    """The billing module a tenant-host URL belongs to, or None for the always-open core."""
    if path.startswith("/api/v1/customers/") and path.rstrip("/").endswith("/credit"):
        return "orders"  # a customer's credit limit belongs to orders
    for prefix, key in _PREFIXES:
        if path.startswith(prefix):
            return key
    return None
