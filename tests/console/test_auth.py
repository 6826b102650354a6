"""Console sign-in: password then TOTP (enrolled on the first sign-in), lockout after repeated
failures, nothing reachable without the second factor, and no way in for tenant users."""

from __future__ import annotations

import re

import pyotp
import pytest
from django.test import Client

from console.models import OperatorLogEntry, OperatorTOTP
from crm.org.models import User
from tenants.models import Domain, Tenant
from tests.conftest import PASSWORD as TENANT_PASSWORD
from tests.conftest import host_of
from tests.console.helpers import (
    PASSWORD,
    operator_make,
    public_client,
    sign_in,
    signed_in_client,
    totp_code,
)

pytestmark = pytest.mark.django_db


def _actions(operator=None, **filters):
    qs = OperatorLogEntry.objects.filter(**filters)
    if operator is not None:
        qs = qs.filter(operator_email=operator.email)
    return list(qs.order_by("at", "id").values_list("action", flat=True))


# -- signing in ---------------------------------------------------------------------------------
def test_first_sign_in_enrols_totp_with_qr_code_and_secret(tenant_env):
    operator = operator_make()
    client = public_client()
    response = client.post("/console/login/", {"email": operator.email.upper(), "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/console/login/code/"
    assert client.get("/console/").status_code == 302  # the password alone opens nothing
    page = client.get("/console/login/code/").content.decode()
    device = OperatorTOTP.objects.get(operator=operator)
    assert device.confirmed_at is None
    assert 'data-testid="totp-enrol"' in page and "<svg" in page
    shown = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    assert shown == device.secret
    # the page shows the same secret on a reload (the phone app has already scanned it)
    assert device.secret in client.get("/console/login/code/").content.decode().replace(" ", "")

    response = client.post("/console/login/code/", {"code": pyotp.TOTP(shown).now()})
    assert response.status_code == 302 and response["Location"] == "/console/"
    device.refresh_from_db()
    assert device.confirmed_at is not None
    assert client.get("/console/").status_code == 200
    assert _actions(operator) == ["otp_enrolled", "login"]
    # the secret is never written to the operator log
    assert not OperatorLogEntry.objects.filter(detail__icontains=device.secret).exists()
    assert device.secret not in repr(device)


def test_an_enrolled_operator_is_asked_for_the_code_not_shown_the_secret(tenant_env):
    client, operator = signed_in_client()
    client.post("/console/logout/")
    assert client.get("/console/").status_code == 302
    response = client.post("/console/login/", {"email": operator.email, "password": PASSWORD})
    page = client.get(response["Location"]).content.decode()
    secret = OperatorTOTP.objects.get(operator=operator).secret
    assert "totp-enrol" not in page and secret not in page.replace(" ", "") and "<svg" not in page
    response = client.post("/console/login/code/", {"code": totp_code(operator, step=1)})
    assert response.status_code == 302
    assert client.get("/console/").status_code == 200
    assert _actions(operator) == ["otp_enrolled", "login", "logout", "login"]


def test_a_code_works_once(tenant_env):
    client, operator = signed_in_client()
    client.post("/console/logout/")
    client.post("/console/login/", {"email": operator.email, "password": PASSWORD})
    response = client.post("/console/login/code/", {"code": totp_code(operator)})  # the code used above
    assert response.status_code == 400 and "已使用过" in response.content.decode()
    assert client.get("/console/").status_code == 302


@pytest.mark.parametrize("code", ["", "12345", "abcdef", "000000", "1234567"])
def test_a_wrong_code_is_refused(tenant_env, code):
    operator = operator_make()
    client = public_client()
    client.post("/console/login/", {"email": operator.email, "password": PASSWORD})
    client.get("/console/login/code/")
    if code == "000000" and totp_code(operator) == "000000":  # pragma: no cover (1 in a million)
        code = "000001"
    response = client.post("/console/login/code/", {"code": code})
    assert response.status_code == 400 and "验证码不正确" in response.content.decode()
    assert OperatorTOTP.objects.get(operator=operator).confirmed_at is None
    assert client.get("/console/").status_code == 302
    assert _actions(operator) == ["login_failed"]


def test_wrong_password_or_unknown_email_is_refused_with_one_message(tenant_env):
    operator = operator_make()
    client = public_client()
    for email, password in [(operator.email, "wrong-password"), ("nobody@qiao.cn", PASSWORD)]:
        response = client.post("/console/login/", {"email": email, "password": password})
        assert response.status_code == 400
        assert "邮箱或密码不正确" in response.content.decode()
    assert client.get("/console/login/code/").status_code == 302  # no pending step
    assert _actions(operator) == ["login_failed"]
    assert OperatorLogEntry.objects.filter(operator_email="nobody@qiao.cn", action="login_failed").exists()


def test_bad_form_input_is_a_400_not_a_500(tenant_env):
    client = public_client()
    for data in [{}, {"email": "not-an-email", "password": "x"}, {"email": "a@b.cn" * 60, "password": "x"}]:
        assert client.post("/console/login/", data).status_code == 400


def test_the_code_step_needs_the_password_step_first(tenant_env):
    operator_make()
    client = public_client()
    assert client.get("/console/login/code/")["Location"] == "/console/login/"
    assert client.post("/console/login/code/", {"code": "123456"})["Location"] == "/console/login/"


def test_sign_in_returns_to_the_page_asked_for_and_only_inside_the_console(tenant_env, tenant_a):
    operator = operator_make()
    client = public_client()
    response = client.get(f"/console/tenants/{tenant_a.pk}/")
    assert response.status_code == 302
    next_url = response["Location"]
    assert next_url == f"/console/login/?next=/console/tenants/{tenant_a.pk}/"
    client.post(next_url, {"email": operator.email, "password": PASSWORD})
    client.get("/console/login/code/")
    response = client.post("/console/login/code/", {"code": totp_code(operator)})
    assert response["Location"] == f"/console/tenants/{tenant_a.pk}/"

    other = public_client()
    operator2 = operator_make()
    other.post("/console/login/?next=https://evil.example.com/", {"email": operator2.email, "password": PASSWORD})
    other.get("/console/login/code/")
    response = other.post("/console/login/code/", {"code": totp_code(operator2)})
    assert response["Location"] == "/console/"


# -- lockout ------------------------------------------------------------------------------------
def test_repeated_wrong_passwords_lock_the_account_even_for_the_right_password(tenant_env):
    operator = operator_make()
    client = public_client()
    statuses = [client.post("/console/login/", {"email": operator.email, "password": f"bad-{i}"}).status_code
                for i in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    response = client.post("/console/login/", {"email": operator.email, "password": PASSWORD})
    assert response.status_code == 429 and "已暂时锁定" in response.content.decode()
    assert client.get("/console/login/code/").status_code == 302  # the right password got nothing
    # from another address too: the account is locked, not only the address
    other = public_client(REMOTE_ADDR="10.9.8.7")
    assert other.post("/console/login/", {"email": operator.email, "password": PASSWORD}).status_code == 429
    assert _actions(operator).count("locked_out") == 1
    # another operator is not affected
    client2, _op2 = signed_in_client()
    assert client2.get("/console/").status_code == 200


def test_repeated_wrong_codes_lock_the_account(tenant_env):
    operator = operator_make()
    client = public_client()
    client.post("/console/login/", {"email": operator.email, "password": PASSWORD})
    client.get("/console/login/code/")
    good = totp_code(operator)
    wrong = "111111" if good != "111111" else "222222"
    statuses = [client.post("/console/login/code/", {"code": wrong}).status_code for _ in range(5)]
    assert statuses == [400, 400, 400, 400, 429]
    # the pending sign-in is gone: the right code now leads back to the password, which is locked
    assert client.post("/console/login/code/", {"code": good})["Location"] == "/console/login/"
    assert client.post("/console/login/", {"email": operator.email, "password": PASSWORD}).status_code == 429
    assert client.get("/console/").status_code == 302
    assert "locked_out" in _actions(operator)


def test_many_failures_from_one_address_lock_that_address(tenant_env):
    client = public_client(REMOTE_ADDR="10.1.2.3")
    for i in range(20):
        client.post("/console/login/", {"email": f"guess{i}@qiao.cn", "password": "x"})
    operator = operator_make()
    assert client.post("/console/login/", {"email": operator.email, "password": PASSWORD}).status_code == 429
    elsewhere = public_client(REMOTE_ADDR="10.1.2.4")
    assert elsewhere.post("/console/login/", {"email": operator.email, "password": PASSWORD}).status_code == 302


# -- who can never get in -----------------------------------------------------------------------
def test_a_public_user_without_is_staff_is_refused(tenant_env):
    user = operator_make(staff=False)
    client = public_client()
    response = client.post("/console/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 400 and "不是运营人员" in response.content.decode()
    assert not OperatorTOTP.objects.filter(operator=user).exists()
    # signed in by other means (e.g. a session of the public site), the console still refuses
    client.force_login(user)
    assert client.get("/console/").status_code == 302
    assert client.post("/console/tenants/1/suspend/", {"reason": "x"}).status_code == 403


def test_an_operator_who_lost_is_staff_is_refused_at_once(tenant_env):
    client, operator = signed_in_client()
    User.objects.filter(pk=operator.pk).update(is_staff=False)
    assert client.get("/console/").status_code == 302
    assert client.post("/console/logout/").status_code == 302


def test_the_console_does_not_exist_on_tenant_hosts(tenant_env, web_as, user_in, tenant_a):
    admin = user_in(tenant_a, "admin")
    client = web_as(tenant_a, admin)
    for url in ["/console/", "/console/login/", "/console/tenants/", "/console/log/",
                f"/console/tenants/{tenant_a.pk}/"]:
        assert client.get(url).status_code == 404, url
    assert client.post("/console/login/", {"email": admin.email, "password": TENANT_PASSWORD}).status_code == 404
    assert client.post(f"/console/tenants/{tenant_a.pk}/suspend/", {"reason": "x"}).status_code == 404
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"


def test_a_tenant_users_session_means_nothing_on_the_public_host(tenant_env, web_as, user_in, in_tenant,
                                                                  tenant_a):
    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):  # even marked staff inside their tenant
        User.objects.filter(pk=admin.pk).update(is_staff=True, is_superuser=True)
    tenant_client = web_as(tenant_a, admin)
    assert tenant_client.get("/").status_code in (200, 302)
    session_cookie = tenant_client.cookies["qiao_session"].value
    public = public_client()
    public.cookies["qiao_session"] = session_cookie
    assert public.get("/console/").status_code == 302
    assert public.get("/console/login/code/")["Location"] == "/console/login/"
    assert public.post(f"/console/tenants/{tenant_a.pk}/suspend/", {"reason": "x"}).status_code == 403
    assert public.get("/admin/").status_code == 302
    # their tenant password is not a console password
    response = public.post("/console/login/", {"email": admin.email, "password": TENANT_PASSWORD})
    assert response.status_code == 400
    assert Tenant.objects.get(pk=tenant_a.pk).status == "active"


def test_a_public_user_with_a_tenant_users_email_but_no_is_staff_is_refused(tenant_env, user_in, tenant_a):
    admin = user_in(tenant_a, "admin")
    operator_make(staff=False, email=admin.email, password=TENANT_PASSWORD)
    response = public_client().post("/console/login/", {"email": admin.email, "password": TENANT_PASSWORD})
    assert response.status_code == 400


# -- nothing without the second factor ----------------------------------------------------------
def _every_page(tenant):
    return ["/console/", "/console/tenants/", "/console/tenants/new/", f"/console/tenants/{tenant.pk}/",
            f"/console/tenants/{tenant.pk}/support/", "/console/log/", "/console/tenants/?status=active",
            "/console/operators/"]


def _every_action(tenant):
    return [
        ("suspend", {"reason": "x"}), ("resume", {"reason": "x"}),
        ("close", {"reason": "x", "confirm": tenant.slug}), ("plan", {"plan": "professional", "interval": "month"}),
        ("trial", {"days": "7"}), ("domain-add", {"domain": "crm.nofactor.example"}),
        ("domain-remove", {"domain_id": "1"}), ("provision", {}),
    ]


@pytest.mark.parametrize("how", ["password_only", "admin_session", "pending_code"])
def test_an_operator_without_the_second_factor_can_neither_see_nor_act(tenant_env, tenant_a, how):
    plan_before = Tenant.objects.get(pk=tenant_a.pk).plan_code
    operator = operator_make()
    client = public_client()
    if how == "password_only":
        client.force_login(operator)  # e.g. signed in through the Django admin's form
    elif how == "admin_session":
        assert client.post("/admin/login/", {"username": operator.email, "password": PASSWORD,
                                                  "next": "/admin/"}).status_code == 302
    else:
        client.post("/console/login/", {"email": operator.email, "password": PASSWORD})
    for url in _every_page(tenant_a):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/console/login/"), url
    assert client.get(f"/console/tenants/{tenant_a.pk}/", HTTP_HX_REQUEST="true").status_code == 403
    for action, data in _every_action(tenant_a):
        response = client.post(f"/console/tenants/{tenant_a.pk}/{action}/", data)
        assert response.status_code == 403, action
        assert "两步验证" in response.content.decode()
    response = client.post(f"/console/tenants/{tenant_a.pk}/support/", {"user_id": "1", "reason": "x", "minutes": "5"})
    assert response.status_code == 403
    response = client.post("/console/tenants/new/", {"name": "x", "slug": "nofactorco", "mode": "standard",
                                                     "language": "zh-hans", "admin_name": "x",
                                                     "admin_email": "x@x.cn", "admin_password": "Boss-pass-2026"})
    assert response.status_code == 403
    tenant = Tenant.objects.get(pk=tenant_a.pk)
    assert tenant.status == "active" and tenant.plan_code == plan_before
    assert not Domain.objects.filter(domain="crm.nofactor.example").exists()
    assert not Tenant.objects.filter(slug="nofactorco").exists()
    assert not OperatorLogEntry.objects.filter(tenant=tenant_a).exists()
    # the Django admin is behind the same second factor
    assert client.get("/admin/")["Location"].startswith("/console/login/")
    assert client.get("/admin/tenants/tenant/")["Location"].startswith("/console/login/")


def test_the_admin_opens_after_the_console_sign_in(tenant_env):
    operator = User.objects.create_superuser(email="root@qiao.cn", password=PASSWORD, full_name="root")
    client = public_client()
    sign_in(client, operator)
    assert client.get("/admin/").status_code == 200
    device = OperatorTOTP.objects.get(operator=operator)
    page = client.get(f"/admin/console/operatortotp/{device.pk}/change/")
    assert page.status_code == 200 and device.secret not in page.content.decode()


def test_sign_out_ends_the_console_session(console):
    client, operator = console
    assert client.post("/console/logout/").status_code == 302
    assert client.get("/console/").status_code == 302
    assert client.get("/console/logout/").status_code == 405


def test_tenant_hosts_keep_their_own_sign_in(tenant_env, tenant_a):
    """The console's middleware leaves tenant hosts alone (their /admin/ does not exist)."""
    client = Client(HTTP_HOST=host_of(tenant_a))
    assert client.get("/admin/").status_code == 404
    assert client.get("/login/").status_code == 200
