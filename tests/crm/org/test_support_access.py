"""Support access: an operator acts as a tenant user for a limited time with a stated reason.
Logged on both sides (the console's operator log and the tenant's own audit trail), a banner
on every page, ended by the operator or at the expiry; the one-time token works once, within
60 seconds, and only on its own tenant's host."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from console.models import OperatorLogEntry, SupportSession
from crm.audit.models import AuditEntry
from crm.org import support_access
from crm.org.models import User
from tenants.models import TenantEvent
from tests.conftest import host_of
from tests.console.conftest import _fresh_login_counters  # noqa: F401  (autouse fixture)
from tests.console.helpers import signed_in_client

pytestmark = pytest.mark.django_db

REASON = "客户反馈报价单无法提交，排查问题"


@pytest.fixture
def operator_client(tenant_env, db):
    return signed_in_client()


def _grant(client, tenant, user, *, minutes="15", reason=REASON):
    return client.post(f"/console/tenants/{tenant.pk}/support/",
                       {"user_id": user.pk, "reason": reason, "minutes": minutes})


def _enter(tenant, url) -> tuple[Client, object]:
    parts = urlsplit(url)
    browser = Client(HTTP_HOST=host_of(tenant))
    return browser, browser.get(f"{parts.path}?{parts.query}")


def _trail(in_tenant, tenant, user, action):
    with in_tenant(tenant):
        return list(AuditEntry.objects.filter(object_id=str(user.pk), action=action,
                                              content_type__model="user").order_by("at", "id"))


def _log(tenant, action):
    return list(OperatorLogEntry.objects.filter(tenant=tenant, action=action).order_by("at", "id"))


def test_support_access_is_logged_on_both_sides_with_a_banner(operator_client, tenant_a, user_in, in_tenant):
    client, operator = operator_client
    sales = user_in(tenant_a, "sales")
    last_login = sales.last_login

    picker = client.get(f"/console/tenants/{tenant_a.pk}/support/").content.decode()
    assert sales.email in picker and "admin@alpha.test" in picker
    assert sales.email in client.get(f"/console/tenants/{tenant_a.pk}/support/?q=sales").content.decode()

    response = _grant(client, tenant_a, sales)
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"http://{host_of(tenant_a)}/support-access/?token=")
    session = SupportSession.objects.get(tenant=tenant_a)
    assert (session.operator_id, session.user_email, session.reason, session.minutes) == (
        operator.pk, sales.email, REASON, 15)
    assert abs((session.expires_at - timezone.now()).total_seconds() - 15 * 60) < 5
    [granted] = _log(tenant_a, "support_started")
    assert granted.reason == REASON and granted.detail["user"] == sales.email
    event = TenantEvent.objects.get(tenant=tenant_a, kind="support_access")
    assert event.actor == operator.email and event.detail["phase"] == "granted"

    browser, response = _enter(tenant_a, url)
    assert response.status_code == 302 and response["Location"] == "/"
    # the tenant's own audit trail says who entered as whom, why
    [start] = _trail(in_tenant, tenant_a, sales, "support_start")
    assert start.actor_id is None and operator.email in start.actor_label
    assert start.via == "operator" and start.note == REASON
    assert _log(tenant_a, "support_signed_in")[0].detail["user"] == sales.email
    # signing in as someone is not their sign-in
    with in_tenant(tenant_a):
        assert User.objects.get(pk=sales.pk).last_login == last_login

    # the banner on every page: who acts as whom, why, until when, and the button
    until = timezone.localtime(session.expires_at.replace(microsecond=0)).strftime("%Y-%m-%d %H:%M")
    for path in ["/", "/customers/", "/staff/"]:
        page = browser.get(path, follow=True).content.decode()
        assert 'data-testid="support-banner"' in page, path
        assert operator.email in page and sales.full_name in page and REASON in page
        assert until in page and 'data-testid="support-end"' in page
    pages = _log(tenant_a, "support_page")
    assert {e.detail["path"] for e in pages} >= {"/", "/customers/", "/staff/"}
    assert all(e.operator_email == operator.email and e.reason == REASON for e in pages)

    # what the operator changes meanwhile is tagged in the tenant's trail
    browser.post("/i18n/setlang/", {"language": "en", "next": "/"})
    with in_tenant(tenant_a):
        change = AuditEntry.objects.filter(object_id=str(sales.pk), action="update").latest("at")
    assert change.via == "operator" and change.changes["language"]["new"] == "en"

    # the console shows the session on the tenant page
    tenant_page = client.get(f"/console/tenants/{tenant_a.pk}/").content.decode()
    assert sales.email in tenant_page and REASON in tenant_page

    # ending it: logged on both sides, the browser is signed out
    response = browser.post("/support-access/end/")
    assert response.status_code == 200 and f"/console/tenants/{tenant_a.pk}/" in response.content.decode()
    assert browser.get("/staff/")["Location"].startswith("/login/")
    [end] = _trail(in_tenant, tenant_a, sales, "support_end")
    assert end.via == "operator" and end.changes["end"]["new"] == "ended"
    [ended] = _log(tenant_a, "support_ended")
    assert ended.detail["end_reason"] == "ended" and ended.operator_email == operator.email
    session.refresh_from_db()
    assert session.ended_at is not None and session.end_reason == "ended" and session.started_at is not None
    assert [e.detail["phase"] for e in TenantEvent.objects.filter(tenant=tenant_a, kind="support_access")
            .order_by("at", "id")] == ["granted", "ended"]


def test_a_session_ends_itself_at_the_expiry(operator_client, tenant_a, user_in, in_tenant):
    client, operator = operator_client
    sales = user_in(tenant_a, "sales")
    browser, _response = _enter(tenant_a, _grant(client, tenant_a, sales, minutes="5")["Location"])
    assert browser.get("/staff/").status_code == 200
    with in_tenant(tenant_a):  # five minutes later
        store = browser.session
        marker = store[support_access.SESSION_KEY]
        store[support_access.SESSION_KEY] = {**marker, "expires_at": int(time.time()) - 1}
        store.save()
    response = browser.get("/staff/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    page = browser.get("/login/").content.decode()
    assert "客服代登录已到期" in page and "support-banner" not in page
    assert browser.get("/staff/")["Location"].startswith("/login/")
    [end] = _trail(in_tenant, tenant_a, sales, "support_end")
    assert end.changes["end"]["new"] == "expired"
    assert _log(tenant_a, "support_ended")[0].detail["end_reason"] == "expired"
    assert SupportSession.objects.get(tenant=tenant_a).end_reason == "expired"


def test_signing_out_ends_the_support_session_on_the_record(operator_client, tenant_a, user_in, in_tenant):
    client, _operator = operator_client
    sales = user_in(tenant_a, "sales")
    browser, _response = _enter(tenant_a, _grant(client, tenant_a, sales)["Location"])
    browser.post("/logout/")
    assert _trail(in_tenant, tenant_a, sales, "support_end")[0].changes["end"]["new"] == "logged_out"
    assert _log(tenant_a, "support_ended")[0].detail["end_reason"] == "logged_out"


def test_the_session_cookie_does_not_outlive_the_grant(operator_client, tenant_a, user_in, in_tenant):
    client, _operator = operator_client
    browser, _response = _enter(tenant_a, _grant(client, tenant_a, user_in(tenant_a, "sales"), minutes="2")["Location"])
    with in_tenant(tenant_a):
        age = browser.session.get_expiry_age()
    assert 120 < age <= 120 + support_access.SESSION_GRACE_SECONDS + 1


# -- the token ---------------------------------------------------------------------------------
def test_the_token_works_once(operator_client, tenant_a, user_in, in_tenant):
    client, _operator = operator_client
    sales = user_in(tenant_a, "sales")
    url = _grant(client, tenant_a, sales)["Location"]
    _browser, first = _enter(tenant_a, url)
    assert first.status_code == 302
    other_browser, second = _enter(tenant_a, url)
    assert second.status_code == 403 and "只能使用一次" in second.content.decode()
    assert other_browser.get("/staff/")["Location"].startswith("/login/")
    assert len(_trail(in_tenant, tenant_a, sales, "support_start")) == 1
    assert len(_log(tenant_a, "support_signed_in")) == 1


def test_the_token_expires_after_60_seconds(operator_client, tenant_a, user_in, in_tenant, monkeypatch):
    client, _operator = operator_client
    sales = user_in(tenant_a, "sales")
    url = _grant(client, tenant_a, sales)["Location"]
    later = time.time() + support_access.TOKEN_MAX_AGE + 1
    monkeypatch.setattr(signing.time, "time", lambda: later)
    browser, response = _enter(tenant_a, url)
    monkeypatch.undo()
    assert response.status_code == 403 and "已过期" in response.content.decode()
    assert browser.get("/staff/")["Location"].startswith("/login/")
    assert not _trail(in_tenant, tenant_a, sales, "support_start")
    assert not _log(tenant_a, "support_signed_in")


def test_the_token_is_refused_on_another_tenants_host(operator_client, tenant_a, tenant_b, user_in, in_tenant):
    client, _operator = operator_client
    sales = user_in(tenant_a, "sales")
    url = _grant(client, tenant_a, sales)["Location"]
    parts = urlsplit(url)
    elsewhere = Client(HTTP_HOST=host_of(tenant_b))
    response = elsewhere.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 403 and "无效" in response.content.decode()
    assert elsewhere.get("/staff/")["Location"].startswith("/login/")
    with in_tenant(tenant_b):
        assert not AuditEntry.objects.filter(action="support_start").exists()
    assert not _log(tenant_b, "support_signed_in") and not _log(tenant_a, "support_signed_in")


@pytest.mark.parametrize("token", ["", "garbage", "tampered"])
def test_a_forged_token_is_refused(operator_client, tenant_a, user_in, token):
    client, _operator = operator_client
    if token == "tampered":
        url = _grant(client, tenant_a, user_in(tenant_a, "sales"))["Location"]
        real = urlsplit(url).query.split("token=", 1)[1]
        token = real[:-3] + ("AAA" if not real.endswith("AAA") else "BBB")
    forged = signing.dumps({"sid": 1, "schema": tenant_a.schema_name, "uid": 1, "op": "x@y.z",
                            "r": "x", "exp": int(time.time()) + 600, "n": "n"}, salt="another-salt")
    for value in (token, forged):
        browser = Client(HTTP_HOST=host_of(tenant_a))
        response = browser.get("/support-access/", {"token": value})
        assert response.status_code == 403
        assert browser.get("/staff/")["Location"].startswith("/login/")


# -- granting ----------------------------------------------------------------------------------
@pytest.mark.parametrize("data, message", [
    ({"reason": "", "minutes": "10"}, "请说明客服代登录的原因"),
    ({"reason": "x", "minutes": "61"}, "时长须在 1 到 60 分钟之间"),
    ({"reason": "x", "minutes": "0"}, "时长须在 1 到 60 分钟之间"),
    ({"reason": "x", "minutes": "abc"}, "时长须在 1 到 60 分钟之间"),
    ({"reason": "x", "minutes": "10", "user_id": "999999"}, "没有这个在职用户"),
    ({"reason": "x", "minutes": "10", "user_id": "abc"}, "没有这个在职用户"),
])
def test_granting_needs_a_reason_a_duration_and_a_user_of_that_tenant(operator_client, tenant_a, user_in, data,
                                                                       message):
    client, _operator = operator_client
    payload = {"user_id": user_in(tenant_a, "sales").pk, **data}
    response = client.post(f"/console/tenants/{tenant_a.pk}/support/", payload)
    assert response.status_code == 400 and message in response.content.decode()
    assert not SupportSession.objects.exists() and not _log(tenant_a, "support_started")


def test_an_inactive_user_or_a_closed_tenant_cannot_be_entered(operator_client, tenant_a, user_in, in_tenant):
    client, _operator = operator_client
    sales = user_in(tenant_a, "sales")
    with in_tenant(tenant_a):
        User.objects.filter(pk=sales.pk).update(is_active=False)
    response = _grant(client, tenant_a, sales)
    assert response.status_code == 400 and "没有这个在职用户" in response.content.decode()
    with in_tenant(tenant_a):
        User.objects.filter(pk=sales.pk).update(is_active=True)
    url = _grant(client, tenant_a, sales)["Location"]
    with in_tenant(tenant_a):  # deactivated between the grant and the redirect
        User.objects.filter(pk=sales.pk).update(is_active=False)
    _browser, response = _enter(tenant_a, url)
    assert response.status_code == 403 and "不存在或已停用" in response.content.decode()


def test_partner_users_can_be_entered_and_land_in_the_portal(operator_client, tenant_a, user_in, in_tenant):
    from tests.crm.partners.factories import member_make, partner_make

    client, operator = operator_client
    with in_tenant(tenant_a):
        admin = user_in(tenant_a, "admin")
        partner = partner_make(actor=admin, owner=user_in(tenant_a, "manager"))
        puser = member_make(actor=admin, partner=partner, role="admin").user
    assert puser.email in client.get(f"/console/tenants/{tenant_a.pk}/support/?q=partner.test").content.decode()
    browser, response = _enter(tenant_a, _grant(client, tenant_a, puser)["Location"])
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert browser.get("/portal/").status_code == 200
    assert _log(tenant_a, "support_page")[-1].detail["path"] == "/portal/"
    assert browser.get("/staff/").status_code == 404  # still only the portal
    page = browser.get("/portal/").content.decode()
    assert operator.email in page and puser.email in page  # the banner in the portal too
    # the banner's "end" URL lies outside the portal: the partner boundary lets it through
    assert browser.post("/support-access/end/").status_code == 200
    assert browser.get("/portal/").status_code == 302
    assert _trail(in_tenant, tenant_a, puser, "support_end")[0].changes["end"]["new"] == "ended"


def test_support_access_works_on_a_suspended_tenant_for_reading(operator_client, tenant_a, user_in,
                                                                django_capture_on_commit_callbacks):
    client, _operator = operator_client
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/console/tenants/{tenant_a.pk}/suspend/", {"reason": "欠费"})
    browser, response = _enter(tenant_a, _grant(client, tenant_a, user_in(tenant_a, "sales"))["Location"])
    assert response.status_code == 302
    page = browser.get("/staff/").content.decode()
    assert 'data-testid="support-banner"' in page and 'data-testid="tenant-banner"' in page


def test_the_console_revokes_a_running_support_session(operator_client, tenant_a, user_in, in_tenant,
                                                      django_capture_on_commit_callbacks):
    """An operator (any operator) ends a support session from the tenant page before its expiry:
    the tenant host signs the browser out at its next request, on the record on both sides."""
    client, operator = operator_client
    sales = user_in(tenant_a, "sales")
    browser, response = _enter(tenant_a, _grant(client, tenant_a, sales)["Location"])
    assert response.status_code == 302 and browser.get("/").status_code == 200
    session = SupportSession.objects.get(tenant=tenant_a)
    page = client.get(f"/console/tenants/{tenant_a.pk}/").content.decode()
    assert f'data-testid="support-revoke-{session.pk}"' in page

    other_operator, _ = signed_in_client()
    with django_capture_on_commit_callbacks(execute=True):
        revoked = other_operator.post(f"/console/tenants/{tenant_a.pk}/support-revoke/",
                                      {"session_id": session.pk, "reason": "客户要求立即结束"})
    assert revoked.status_code == 302
    session.refresh_from_db()
    assert session.end_reason == "revoked" and session.ended_at is not None
    [entry] = _log(tenant_a, "support_revoked")
    assert entry.reason == "客户要求立即结束" and entry.detail["operator"] == operator.email
    assert TenantEvent.objects.filter(tenant=tenant_a, kind="support_access", detail__phase="revoked").exists()

    # the browser acting as the salesperson is signed out at its next request, and it is recorded
    response = browser.get("/customers/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert browser.get("/customers/").status_code == 302  # no session left
    assert _trail(in_tenant, tenant_a, sales, "support_end")[-1].changes["end"]["new"] == "revoked"
    assert SupportSession.objects.get(pk=session.pk).end_reason == "revoked"  # not overwritten
    assert len(_log(tenant_a, "support_ended")) == 0  # the revocation is the one record of the end

    # revoking again, or another tenant's session, is a 400 naming the problem
    again = client.post(f"/console/tenants/{tenant_a.pk}/support-revoke/", {"session_id": session.pk})
    assert again.status_code == 400 and "已经结束" in again.content.decode()
    assert client.post(f"/console/tenants/{tenant_a.pk}/support-revoke/",
                       {"session_id": "999999"}).status_code == 400


def test_a_token_of_a_revoked_session_is_refused(operator_client, tenant_a, user_in,
                                                django_capture_on_commit_callbacks):
    client, _operator = operator_client
    url = _grant(client, tenant_a, user_in(tenant_a, "sales"))["Location"]
    session = SupportSession.objects.get(tenant=tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/console/tenants/{tenant_a.pk}/support-revoke/",
                           {"session_id": session.pk}).status_code == 302
    _browser, response = _enter(tenant_a, url)
    assert response.status_code == 403 and "已被运营控制台撤销" in response.content.decode()


def test_an_operator_acting_as_the_admin_cannot_take_data_or_make_lasting_credentials(
        operator_client, tenant_a, user_in):
    """Support access is for looking and fixing: no billing action, no data export, no
    integration secret or ERP key, no API token, no password change, no new account."""
    client, _operator = operator_client
    admin = user_in(tenant_a, "admin")
    browser, response = _enter(tenant_a, _grant(client, tenant_a, admin)["Location"])
    assert response.status_code == 302
    assert browser.get("/settings/billing/").status_code == 200  # reading is fine
    assert browser.get("/customers/").status_code == 200
    refused = [
        browser.post("/settings/billing/export/"),
        browser.get("/settings/billing/export/anything/"),
        browser.post("/settings/billing/cancel/"),
        browser.post("/settings/billing/portal/"),
        browser.post("/integrations/erp-clients/new", {"name": "x"}),
        browser.post("/staff/invite/", {"email": "new@alpha.cn"}),
        browser.post("/api/v1/auth/token", {"email": admin.email, "password": "x"}),
        browser.post("/api/v1/erp-clients/", {"name": "x"}),
        browser.post("/api/v1/webhook-endpoints/", {"url": "https://x.example.com"}),
        browser.post("/api/v1/staff/", {"email": "new2@alpha.cn"}),
        browser.get("/password-reset/"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert "客服代登录期间不能执行此操作" in refused[0].content.decode()
    assert refused[6].json()["code"] == "support_access_restricted"
    with schema_context(tenant_a.schema_name):
        assert not User.objects.filter(email__in=["new@alpha.cn", "new2@alpha.cn"]).exists()
    # the user's own session (no support marker) is not restricted
    from tests.conftest import PASSWORD

    own = Client(HTTP_HOST=host_of(tenant_a))
    assert own.post("/login/", {"username": admin.email, "password": PASSWORD}).status_code == 302
    assert own.get("/password-reset/").status_code == 200
