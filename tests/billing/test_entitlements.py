"""The plan's limits inside a tenant: staff seats, partner users and modules. Each limit at its
boundary, through the services, the staff pages, the staff API and the partner portal; a refusal
is a clear 4xx naming the limit, the plan and the way to upgrade, and nothing is written."""

from __future__ import annotations

import pytest
from django.core import mail
from django_tenants.utils import schema_context

from billing.entitlements import (
    EntitlementError,
    entitlements_current,
    entitlements_forget,
    module_for_path,
    staff_seats_check,
)
from billing.enums import BillingStatus
from billing.models import Plan, Subscription
from crm.audit.models import AuditEntry
from crm.org.enums import UserKind
from crm.org.models import User
from tests.crm.partners.factories import member_make, partner_make

pytestmark = pytest.mark.django_db

STANDARD_FULL = "当前套餐「标准版」最多 10 个员工账号，已用 10 个。"
ALL_MODULES = ["customers", "activities", "sales", "orders", "finance", "partners", "analytics", "integrations"]


@pytest.fixture(autouse=True)
def _fresh_plan_cache(tenant_env):
    """The plan is cached in Redis, which the test transaction does not roll back."""
    for tenant in tenant_env.values():
        entitlements_forget(tenant.pk)
    yield
    for tenant in tenant_env.values():
        entitlements_forget(tenant.pk)


@pytest.fixture
def put_on():
    """Move a tenant to a plan (a seeded code, or a new plan made from keyword arguments)."""
    def _put(tenant, code="standard", **plan_fields):
        with schema_context("public"):
            if plan_fields:
                plan = Plan.objects.create(code=code, name=plan_fields.pop("name", "测试套餐"),
                                           name_en="Test plan", modules=plan_fields.pop("modules", ALL_MODULES),
                                           **plan_fields)
            else:
                plan = Plan.objects.get(code=code)
            Subscription.objects.update_or_create(tenant=tenant, defaults={"plan": plan,
                                                                           "status": BillingStatus.ACTIVE})
        entitlements_forget(tenant.pk)
        return plan
    return _put


def _active_staff(tenant, in_tenant, keep: int) -> list[int]:
    """Leave exactly ``keep`` active staff (the admin and the demo people first, topped up if
    need be) and at least one deactivated; return the ids deactivated."""
    from crm.org.services import staff_create

    with in_tenant(tenant):
        admin = User.objects.get(email=f"admin@{tenant.slug}.test")
        for n in range(keep - User.staff.filter(is_active=True).count() + 1):
            staff_create(actor=None, email=f"extra{n}@{tenant.slug}.cn", full_name=f"补充{n}")
        others = list(User.staff.filter(is_active=True).exclude(pk=admin.pk).order_by("pk").values_list("pk", flat=True))
        off = others[keep - 1:]
        User.objects.filter(pk__in=off).update(is_active=False)
        assert User.staff.filter(is_active=True).count() == keep
        return off


def _invite(api, email):
    return api.post("/api/v1/staff/", {"email": email, "full_name": "新同事", "role_codes": ["salesperson"]},
                    format="json")


# -- staff seats ----------------------------------------------------------------------------------
def test_tenth_seat_is_fine_the_eleventh_is_refused_and_a_deactivation_frees_one(
        tenant_a, user_in, api_for, in_tenant, put_on, django_capture_on_commit_callbacks):
    put_on(tenant_a, "standard")
    _active_staff(tenant_a, in_tenant, keep=9)
    api = api_for(tenant_a, user_in(tenant_a, "admin"))

    with django_capture_on_commit_callbacks(execute=True):
        tenth = _invite(api, "tenth@alpha.cn")
    assert tenth.status_code == 201, tenth.json()
    assert len(mail.outbox) == 1

    with django_capture_on_commit_callbacks(execute=True):
        eleventh = _invite(api, "eleventh@alpha.cn")
    assert eleventh.status_code == 400
    assert eleventh.json()["code"] == "plan_limit" and eleventh.json()["limit"] == 10
    assert eleventh.json()["used"] == 10 and eleventh.json()["plan"] == "standard"
    message = eleventh.json()["staff_seats"][0]
    assert message.startswith(STANDARD_FULL)
    assert "/settings/billing/" in message  # the admin's upgrade path
    with in_tenant(tenant_a):
        assert not User.objects.filter(email="eleventh@alpha.cn").exists()
        assert not AuditEntry.objects.filter(object_repr__contains="eleventh@alpha.cn").exists()
        assert User.staff.filter(is_active=True).count() == 10
    assert len(mail.outbox) == 1  # no invitation for the refused one

    leaver = user_in(tenant_a, "sales")
    assert api.post(f"/api/v1/staff/{leaver.pk}/deactivate").status_code == 200
    again = _invite(api, "eleventh@alpha.cn")
    assert again.status_code == 201, again.json()


def test_reactivation_beyond_the_seats_is_refused_on_the_page_and_in_the_api(
        tenant_a, user_in, api_for, web_as, in_tenant, put_on):
    put_on(tenant_a, "standard")
    off = _active_staff(tenant_a, in_tenant, keep=10)
    admin = user_in(tenant_a, "admin")
    api = api_for(tenant_a, admin)

    response = api.post(f"/api/v1/staff/{off[0]}/reactivate")
    assert response.status_code == 400
    assert response.json()["staff_seats"][0].startswith(STANDARD_FULL)

    page = web_as(tenant_a, admin).post(f"/staff/{off[0]}/reactivate/", follow=True)
    assert page.status_code == 200
    assert STANDARD_FULL in page.content.decode()
    with in_tenant(tenant_a):
        assert not User.objects.get(pk=off[0]).is_active
        assert not AuditEntry.objects.filter(object_id=str(off[0]), action="reactivate").exists()


def test_invite_page_shows_the_limit_and_creates_no_one(tenant_a, user_in, web_as, in_tenant, put_on):
    put_on(tenant_a, "standard")
    _active_staff(tenant_a, in_tenant, keep=10)
    web = web_as(tenant_a, user_in(tenant_a, "admin"))
    page = web.post("/staff/invite/", {"email": "one.more@alpha.cn", "full_name": "多一个",
                                       "role_codes": ["salesperson"]})
    assert page.status_code == 200  # the form again, with the message
    body = page.content.decode()
    assert STANDARD_FULL in body and "/settings/billing/" in body
    with in_tenant(tenant_a):
        assert not User.objects.filter(email="one.more@alpha.cn").exists()


def test_someone_who_is_not_the_tenant_admin_is_told_to_ask_their_administrator(
        tenant_a, user_in, in_tenant, put_on):
    put_on(tenant_a, "standard")
    _active_staff(tenant_a, in_tenant, keep=10)
    with in_tenant(tenant_a):
        with pytest.raises(EntitlementError) as refused:
            staff_seats_check(1, actor=User.objects.get(email="sales@alpha.example.com"))
    assert refused.value.code == "plan_limit"
    assert str(refused.value) == STANDARD_FULL + "请联系系统管理员升级套餐。"
    assert "/settings/billing/" not in str(refused.value)


def test_the_system_setting_a_tenant_up_is_not_held_to_the_seats(tenant_a, in_tenant, put_on):
    from crm.org.services import staff_create

    put_on(tenant_a, "standard")
    _active_staff(tenant_a, in_tenant, keep=10)
    with in_tenant(tenant_a):
        staff_create(actor=None, email="system.made@alpha.cn", full_name="系统创建")
        assert User.staff.filter(is_active=True).count() == 11


def test_unlimited_seats_and_english_messages(tenant_a, user_in, api_for, in_tenant, put_on):
    put_on(tenant_a, "t-unlimited", staff_seats=None, partner_users=None)
    _active_staff(tenant_a, in_tenant, keep=10)
    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    assert _invite(api, "many@alpha.cn").status_code == 201
    put_on(tenant_a, "t-two", name="两人版", staff_seats=2)
    english = api.post("/api/v1/staff/", {"email": "en@alpha.cn", "full_name": "x", "role_codes": ["salesperson"]},
                       format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 400
    assert "2" in english.json()["staff_seats"][0] and "11" in english.json()["staff_seats"][0]


# -- partner users --------------------------------------------------------------------------------
@pytest.fixture
def channel_at_limit(tenant_a, user_in, in_tenant, put_on):
    """A partner with an admin and one sales user; the plan allows exactly one more partner user."""
    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        partner = partner_make(actor=admin, owner=user_in(tenant_a, "manager"))
        padmin = member_make(actor=admin, partner=partner, role="admin").user
        psales = member_make(actor=admin, partner=partner).user
        used = User.objects.filter(kind=UserKind.PARTNER, is_active=True).count()
    put_on(tenant_a, "t-partners", name="渠道测试版", partner_users=used + 1, staff_seats=None)
    return {"partner": partner, "padmin": padmin, "psales": psales, "limit": used + 1, "admin": admin}


def _partner_full(limit: int) -> str:
    return f"当前套餐「渠道测试版」最多 {limit} 个渠道伙伴用户账号，已用 {limit} 个。"


def test_partner_users_at_the_boundary_through_the_staff_api(tenant_a, api_for, in_tenant, channel_at_limit):
    c = channel_at_limit
    api = api_for(tenant_a, c["admin"])
    url = f"/api/v1/partners/{c['partner'].pk}/users/"
    last = api.post(url, {"email": "last.one@partner.test", "full_name": "最后一位"}, format="json")
    assert last.status_code == 201, last.json()
    refused = api.post(url, {"email": "too.many@partner.test", "full_name": "多余"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["partner_users"][0].startswith(_partner_full(c["limit"]))
    with in_tenant(tenant_a):
        assert not User.objects.filter(email="too.many@partner.test").exists()
        assert not AuditEntry.objects.filter(action="member_invite", changes__member__new__email="too.many@partner.test").exists()

    # deactivating one frees the place; reactivating it while full is refused
    member = last.json()["id"]
    assert api.post(f"{url}{member}/active", {"active": False}, format="json").status_code == 200
    assert api.post(url, {"email": "too.many@partner.test", "full_name": "多余"}, format="json").status_code == 201
    again = api.post(f"{url}{member}/active", {"active": True}, format="json")
    assert again.status_code == 400 and again.json()["partner_users"][0].startswith(_partner_full(c["limit"]))
    with in_tenant(tenant_a):
        assert not User.objects.get(email="last.one@partner.test").is_active


def test_partner_admin_inviting_in_the_portal_is_refused_and_nothing_is_written(
        tenant_a, api_for, web_as, in_tenant, channel_at_limit):
    c = channel_at_limit
    portal_api = api_for(tenant_a, c["padmin"])
    ok = portal_api.post("/api/v1/portal/users", {"email": "portal.last@partner.test", "full_name": "门户最后"},
                         format="json")
    assert ok.status_code == 201, ok.json()
    refused = portal_api.post("/api/v1/portal/users", {"email": "portal.more@partner.test", "full_name": "门户多余"},
                              format="json")
    assert refused.status_code == 400
    message = refused.json()["partner_users"][0]
    assert message.startswith(_partner_full(c["limit"]))
    assert "请联系系统管理员升级套餐。" in message  # a partner admin is not the tenant's admin

    page = web_as(tenant_a, c["padmin"]).post("/portal/users/", {"email": "portal.page@partner.test",
                                                                 "full_name": "门户页面", "role": "sales"})
    assert page.status_code == 400
    assert _partner_full(c["limit"]) in page.content.decode()  # the portal page says why
    with in_tenant(tenant_a):
        assert not User.objects.filter(email__in=["portal.more@partner.test", "portal.page@partner.test"]).exists()


def test_partner_users_do_not_use_staff_seats_and_staff_do_not_use_partner_places(
        tenant_a, user_in, api_for, in_tenant, put_on):
    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        partner = partner_make(actor=admin, owner=user_in(tenant_a, "manager"))
        staff_now = User.staff.filter(is_active=True).count()
        partners_now = User.objects.filter(kind=UserKind.PARTNER, is_active=True).count()
    put_on(tenant_a, "t-exact", staff_seats=staff_now, partner_users=partners_now + 1)
    api = api_for(tenant_a, admin)
    # staff seats are all used, yet a partner user fits
    assert api.post(f"/api/v1/partners/{partner.pk}/users/", {"email": "fits@partner.test", "full_name": "可以"},
                    format="json").status_code == 201
    assert _invite(api, "no.seat@alpha.cn").status_code == 400
    # partner places are all used now, yet freeing a staff seat lets staff in
    assert api.post(f"/api/v1/staff/{user_in(tenant_a, 'sales2').pk}/deactivate").status_code == 200
    assert _invite(api, "seat.freed@alpha.cn").status_code == 201


# -- modules --------------------------------------------------------------------------------------
def test_modules_outside_the_plan_are_refused_on_pages_with_the_module_and_the_upgrade_path(
        tenant_a, user_in, web_as, put_on):
    put_on(tenant_a, "standard")  # no partners, analytics, integrations
    web = web_as(tenant_a, user_in(tenant_a, "admin"))
    for url, module in (("/partners/", "渠道伙伴与门户"), ("/analytics/", "经营分析"),
                        ("/integrations/", "集成（ERP、Webhook、API 令牌）")):
        page = web.get(url)
        assert page.status_code == 403, url
        body = page.content.decode()
        assert f"当前套餐「标准版」不包含「{module}」模块。" in body
        assert "/settings/billing/" in body
    for url in ("/customers/", "/", "/orders/", "/settings/billing/"):
        assert web.get(url).status_code == 200, url
    sales_page = web_as(tenant_a, user_in(tenant_a, "sales")).get("/partners/")
    assert sales_page.status_code == 403 and "请联系系统管理员升级套餐。" in sales_page.content.decode()


def test_modules_outside_the_plan_are_refused_in_the_api_as_json(tenant_a, user_in, api_for, put_on):
    put_on(tenant_a, "standard")
    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    for url, module in (("/api/v1/partners/", "partners"), ("/api/v1/dashboard/sales", "analytics"),
                        ("/api/v1/webhook-endpoints/", "integrations"), ("/api/v1/erp-clients/", "integrations")):
        response = api.get(url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "plan_limit" and response.json()["module"] == module
        assert "标准版" in response.json()["detail"]
    assert api.get("/api/v1/customers/").status_code == 200
    assert api.get("/api/v1/orders/").status_code == 200


def test_the_partner_portal_closes_when_partners_are_not_in_the_plan(tenant_a, api_for, web_as, in_tenant,
                                                                     user_in, put_on):
    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        padmin = member_make(actor=admin, partner=partner_make(actor=admin, owner=user_in(tenant_a, "manager")),
                             role="admin").user
    portal = web_as(tenant_a, padmin)
    portal_api = api_for(tenant_a, padmin)
    assert portal.get("/portal/").status_code == 200
    assert portal_api.get("/api/v1/portal/me").status_code == 200

    put_on(tenant_a, "standard")
    page = portal.get("/portal/")
    assert page.status_code == 403 and "「渠道伙伴与门户」" in page.content.decode()
    assert portal.get("/portal/login/").status_code == 403
    refused = portal_api.get("/api/v1/portal/me")
    assert refused.status_code == 403 and refused.json()["module"] == "partners"


def test_navigation_hides_modules_outside_the_plan(tenant_a, user_in, web_as, put_on):
    web = web_as(tenant_a, user_in(tenant_a, "admin"))
    put_on(tenant_a, "enterprise")
    full = web.get("/customers/").content.decode()
    assert 'data-nav="partners"' in full and 'data-nav="reports"' in full
    put_on(tenant_a, "standard")
    limited = web.get("/customers/").content.decode()
    assert 'data-nav="partners"' not in limited and 'data-nav="reports"' not in limited
    assert 'data-nav="customers"' in limited and 'data-nav="orders"' in limited
    assert 'data-nav="billing"' in limited  # the admin's way to upgrade
    sales_nav = web_as(tenant_a, user_in(tenant_a, "sales")).get("/customers/").content.decode()
    assert 'data-nav="billing"' not in sales_nav


def test_core_modules_stay_on_whatever_the_plan_lists(tenant_a, user_in, web_as, put_on):
    put_on(tenant_a, "t-bare", modules=[])
    web = web_as(tenant_a, user_in(tenant_a, "admin"))
    assert web.get("/customers/").status_code == 200
    assert web.get("/").status_code == 200
    assert web.get("/orders/").status_code == 403


# -- the cached plan --------------------------------------------------------------------------------
def test_the_plan_is_cached_per_tenant_until_forgotten(tenant_a, tenant_b, in_tenant, put_on):
    put_on(tenant_a, "standard")
    put_on(tenant_b, "enterprise")
    with in_tenant(tenant_a):
        assert entitlements_current().plan_code == "standard"
    with in_tenant(tenant_b):
        assert entitlements_current().plan_code == "enterprise"  # one tenant's plan is not another's
    with schema_context("public"):
        Subscription.objects.filter(tenant=tenant_a).update(plan=Plan.objects.get(code="professional"))
    with in_tenant(tenant_a):
        assert entitlements_current().plan_code == "standard"  # cached
    entitlements_forget(tenant_a.pk)  # from the public schema, as billing calls it
    with in_tenant(tenant_a):
        assert entitlements_current().plan_code == "professional"
        assert entitlements_current().partner_users == 200


def test_without_a_subscription_the_plan_comes_from_the_tenant_plan_code(tenant_a, in_tenant):
    with schema_context("public"):
        Subscription.objects.filter(tenant=tenant_a).delete()
        type(tenant_a).objects.filter(pk=tenant_a.pk).update(plan_code="professional")
    entitlements_forget(tenant_a.pk)
    with in_tenant(tenant_a):
        ent = entitlements_current()
    assert (ent.plan_code, ent.staff_seats, ent.has_module("partners"), ent.has_module("integrations")) == \
        ("professional", 50, True, False)


def test_the_public_schema_is_never_limited():
    with schema_context("public"):
        assert entitlements_current().staff_seats is None
        staff_seats_check(10_000)


@pytest.mark.parametrize(("path", "module"), [
    ("/partners/12/", "partners"), ("/portal/orders/", "partners"), ("/api/v1/portal/orders", "partners"),
    ("/api/v1/partners/deals/", "partners"), ("/analytics/", "analytics"), ("/api/v1/dashboard/sales", "analytics"),
    ("/integrations/", "integrations"), ("/api/v1/erp/me", "integrations"), ("/api/v1/inbound-messages/", "integrations"),
    ("/finance/receivables/", "finance"), ("/api/v1/payments/", "finance"), ("/sales/opportunities/", "sales"),
    ("/api/v1/quotes/", "sales"), ("/orders/", "orders"), ("/catalog/", "orders"), ("/api/v1/products/", "orders"),
    ("/api/v1/customers/7/credit", "orders"), ("/api/v1/customers/7/", "customers"), ("/", None),
    ("/staff/", None), ("/settings/billing/", None), ("/login/", None), ("/api/v1/auth/token", None),
    ("/api/v1/staff/", None), ("/i18n/setlang/", None),
])
def test_module_for_path(path, module):
    assert module_for_path(path) == module


def test_two_invitations_at_the_last_seat_are_serialised(tenant_a, user_in, in_tenant, put_on):
    """The check holds a per-tenant advisory lock until the transaction ends: while another
    transaction is between its count and its insert, a second check waits (here: times out)."""
    import zlib

    import psycopg
    from django.db import OperationalError, connection, transaction

    put_on(tenant_a, "standard")
    _active_staff(tenant_a, in_tenant, keep=9)
    key = zlib.crc32(f"{tenant_a.schema_name}:staff_seats".encode()) - (1 << 31)
    params = connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"}) as other:
        other.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x51A0, key])  # an invitation in flight
        with in_tenant(tenant_a):
            with pytest.raises(OperationalError), transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '300ms'")
                staff_seats_check(1, actor=user_in(tenant_a, "admin"))
        other.rollback()  # the other invitation ends
    with in_tenant(tenant_a), transaction.atomic():
        staff_seats_check(1, actor=user_in(tenant_a, "admin"))  # the seat is free again
