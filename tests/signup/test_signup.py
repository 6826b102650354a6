"""Sign-up with a trial plan, end to end, and every kind of bad input."""

from __future__ import annotations

import re

import pytest
from django.db import IntegrityError
from django.test import Client
from django_tenants.utils import schema_context

from signup import tokens
from tenants.models import Tenant, TenantEvent

from .conftest import PASSWORD, form_token_of

pytestmark = pytest.mark.django_db


def _post(public, data, **extra):
    return public.post("/signup/", data, **extra)


def _errors(response) -> str:
    return response.content.decode()


# -- the trial path ------------------------------------------------------------------------------
def test_trial_signup_provisions_the_tenant_and_its_admin_logs_in(
        public, signup_data, unique_slug, django_capture_on_commit_callbacks):
    slug = unique_slug("trial")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(public, signup_data(slug, mode="membership"))
    assert response.status_code == 302
    progress_url = response["Location"]
    assert progress_url.startswith("/signup/progress/")
    tenant = Tenant.objects.get(slug=slug)
    assert str(tenant.pk) not in progress_url.removeprefix("/signup/progress/").split(":")[0]  # not the id
    assert tenant.status == "active"
    assert tenant.plan_code == "trial" and tenant.modes == ["membership"] and tenant.language == "zh-hans"
    assert tenant.admin_email == f"boss@{slug}.cn" and tenant.admin_name == "王经理"
    assert tenant.provisioning_payload == {}  # the password hash is gone once provisioned
    requested = TenantEvent.objects.get(tenant=tenant, kind="provisioning_requested")
    assert requested.actor == f"boss@{slug}.cn" and requested.detail["plan"] == "trial"
    assert TenantEvent.objects.filter(tenant=tenant, kind="provisioned").exists()

    page = public.get(progress_url).content.decode()
    assert "开通完成" in page
    assert f'href="http://{slug}.localhost/login/"' in page
    assert f"boss@{slug}.cn" in page
    assert "hx-trigger" not in page  # done: no more polling

    tenant_web = Client(HTTP_HOST=f"{slug}.localhost")
    refused = tenant_web.post("/login/", {"username": f"boss@{slug}.cn", "password": "wrong-password"})
    assert refused.status_code == 200 and "_auth_user_id" not in tenant_web.session
    login = tenant_web.post("/login/", {"username": f"boss@{slug}.cn", "password": PASSWORD})
    assert login.status_code == 302
    today = tenant_web.get(login["Location"])
    assert today.status_code == 200 and "王经理" in today.content.decode()
    with schema_context(tenant.schema_name):
        from crm.org.models import User

        admin = User.objects.get(email=f"boss@{slug}.cn")
        assert admin.role_codes() == {"tenant_admin"}


def test_signing_up_in_english_gives_an_english_tenant(public, signup_data, unique_slug):
    public.cookies["qiao_language"] = "en"
    slug = unique_slug("en")
    assert _post(public, signup_data(slug)).status_code == 302
    assert Tenant.objects.get(slug=slug).language == "en"


def test_progress_page_polls_while_provisioning(public, signup_data, unique_slug):
    slug = unique_slug("wait")
    response = _post(public, signup_data(slug))  # on-commit callbacks not run: still provisioning
    assert Tenant.objects.get(slug=slug).status == "provisioning"
    page = public.get(response["Location"]).content.decode()
    assert "正在为你开通" in page and 'hx-trigger="every 1s"' in page
    assert "/login/" not in page
    partial = public.get(response["Location"], HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    body = partial.content.decode()
    assert "<html" not in body and 'id="signup-progress"' in body and "every 1s" in body


def test_progress_page_of_a_failed_provisioning_names_support(
        public, signup_data, unique_slug, monkeypatch, django_capture_on_commit_callbacks):
    import crm.org.services as org_services

    def broken(**kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(org_services, "org_setup_tenant", broken)
    slug = unique_slug("fail")
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(public, signup_data(slug))
    assert Tenant.objects.get(slug=slug).status == "failed"
    page = public.get(response["Location"]).content.decode()
    assert "开通失败" in page and "support@localhost" in page
    assert "disk on fire" not in page  # the internal error stays internal
    assert "/login/" not in page and "hx-trigger" not in page


@pytest.mark.parametrize("token", [
    "1", "abc", "x" * 400,
    tokens.progress_token_for(Tenant(pk=999_999_999)),  # signed, but no such tenant
])
def test_progress_page_needs_a_valid_token(public, token):
    assert public.get(f"/signup/progress/{token}/").status_code == 404


def test_a_tampered_progress_token_is_404(public, signup_data, unique_slug):
    response = _post(public, signup_data(unique_slug("tamper")))
    url = response["Location"]
    token = url.removeprefix("/signup/progress/").rstrip("/")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert public.get(f"/signup/progress/{tampered}/").status_code == 404
    assert public.get(url).status_code == 200


def test_progress_token_of_another_salt_is_refused(public, tenant_a):
    from django.core import signing

    forged = signing.dumps({"t": tenant_a.pk}, salt="something-else")
    assert public.get(f"/signup/progress/{forged}/").status_code == 404


# -- bad input -----------------------------------------------------------------------------------
def test_weak_password_shows_every_failed_rule_and_creates_nothing(public, signup_data, unique_slug):
    slug = unique_slug("weak")
    before = Tenant.objects.count()
    response = _post(public, signup_data(slug, password="1234567"))
    assert response.status_code == 400
    page = _errors(response)
    rules = re.search(r'id="id_password".*?<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', page, re.S).group(1)
    assert rules.count("<li>") == 3  # every rule it fails, not only the first
    assert "8" in rules and "太常见" in rules and "只包含数字" in rules
    assert Tenant.objects.count() == before
    assert PASSWORD not in page and 'value="1234567"' not in page  # never echoed back


def test_password_like_the_email_is_refused(public, signup_data, unique_slug):
    slug = unique_slug("similar")
    response = _post(public, signup_data(slug, admin_email=f"qiaoadmin@{slug}.cn", password="qiaoadmin"))
    assert response.status_code == 400 and "太相似" in _errors(response)
    assert not Tenant.objects.filter(slug=slug).exists()


def test_taken_subdomain(public, signup_data, tenant_a):
    before = Tenant.objects.count()
    response = _post(public, signup_data("ALPHA"))
    assert response.status_code == 400 and "子域名“alpha”已被占用" in _errors(response)
    assert Tenant.objects.count() == before


@pytest.mark.parametrize("slug, message", [("www", "保留名称"), ("console", "保留名称"), ("a_b", "只能包含"),
                                           ("ab", "3 到 40")])
def test_reserved_and_invalid_subdomains(public, signup_data, slug, message):
    before = Tenant.objects.count()
    response = _post(public, signup_data(slug))
    assert response.status_code == 400 and message in _errors(response)
    assert Tenant.objects.count() == before


def test_every_missing_field_is_named(public, signup_data):
    token = signup_data("x")["form_token"]
    response = _post(public, {"form_token": token})
    assert response.status_code == 400
    page = _errors(response)
    assert page.count("该字段是必填项") == 7  # name, slug, mode, admin name, email, password, plan


@pytest.mark.parametrize("field, value, message", [
    ("name", "公" * 5000, "不超过 200 字符"),
    ("admin_name", "名" * 1000, "不超过 150 字符"),
    ("admin_email", "not-an-email", "合法的邮件地址"),
    ("admin_email", "a" * 300 + "@x.cn", "不超过 254 字符"),
    ("slug", "a" * 5000, "不超过 63 字符"),
    ("slug", "abc\x00def", "空字符"),
    ("mode", "nope", "选择一个有效的选项"),
    ("plan", "platinum", "选择一个有效的选项"),
    ("interval", "weekly", "选择一个有效的选项"),
    ("password", "x" * 1000, "不超过 128 字符"),
    ("name", "   ", "必填"),
])
def test_huge_and_malformed_fields_are_form_errors(public, signup_data, unique_slug, field, value, message):
    slug = unique_slug("bad")
    response = _post(public, signup_data(slug, **{field: value}))
    assert response.status_code == 400
    assert message in _errors(response)
    assert not Tenant.objects.filter(slug=slug).exists()


def test_paid_plan_needs_an_interval(public, signup_data, unique_slug, fake_stripe):
    slug = unique_slug("nointerval")
    response = _post(public, signup_data(slug, plan="standard", interval=""))
    assert response.status_code == 400 and "请选择按月或按年付费" in _errors(response)
    assert not Tenant.objects.filter(slug=slug).exists()


def test_paid_plan_without_a_configured_price_is_refused_before_anything_is_written(
        public, signup_data, unique_slug, settings):
    settings.STRIPE_PRICE_IDS = {}
    slug = unique_slug("noprice")
    response = _post(public, signup_data(slug, plan="professional"))
    assert response.status_code == 400 and "暂不支持在线购买" in _errors(response)
    assert not Tenant.objects.filter(slug=slug).exists()


def test_oversized_request_body_is_a_400_not_a_500(public, signup_data, unique_slug):
    response = _post(public, signup_data(unique_slug("big"), name="x" * 3_000_000))
    assert response.status_code == 400


# -- double submits ------------------------------------------------------------------------------
def test_a_double_submit_creates_one_tenant_and_both_land_on_the_same_page(public, signup_data, unique_slug):
    slug = unique_slug("twice")
    data = signup_data(slug)
    first = _post(public, data)
    second = _post(public, data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Tenant.objects.filter(slug=slug).count() == 1
    assert TenantEvent.objects.filter(tenant__slug=slug, kind="provisioning_requested").count() == 1


def test_a_submit_while_the_first_is_still_running_is_told_to_wait(
        public, signup_data, unique_slug, monkeypatch):
    monkeypatch.setattr(tokens, "DOUBLE_SUBMIT_WAIT_SECONDS", 0.0)
    slug = unique_slug("racing")
    data = signup_data(slug)
    assert tokens.form_token_claim(tokens.form_token_nonce(data["form_token"]))  # the first one, in flight
    response = _post(public, data)
    assert response.status_code == 409 and "正在处理中" in _errors(response)
    assert not Tenant.objects.filter(slug=slug).exists()


def test_the_form_token_is_required_and_must_be_ours(public, signup_data, unique_slug):
    slug = unique_slug("notoken")
    for token in (None, "", "forged-token", "x" * 1000):
        response = _post(public, signup_data(slug, form_token=token))
        assert response.status_code == 400 and "表单已过期或无效" in _errors(response)
        assert form_token_of(_errors(response))  # a fresh one to try again with
    assert not Tenant.objects.filter(slug=slug).exists()


def test_a_refused_form_can_be_corrected_and_sent_again(public, signup_data, unique_slug):
    slug = unique_slug("again")
    data = signup_data(slug, password="123")
    assert _post(public, data).status_code == 400
    data["password"] = PASSWORD
    assert _post(public, data).status_code == 302
    assert Tenant.objects.filter(slug=slug).count() == 1


def test_two_forms_for_the_same_subdomain_give_one_tenant_and_a_clear_message(public, signup_data, unique_slug):
    slug = unique_slug("dup")
    one, two = signup_data(slug), signup_data(slug)
    assert _post(public, one).status_code == 302
    response = _post(public, two)
    assert response.status_code == 400 and f"子域名“{slug}”已被占用" in _errors(response)
    assert Tenant.objects.filter(slug=slug).count() == 1


def test_a_race_for_the_subdomain_lost_at_the_unique_index_is_a_clear_message(
        public, signup_data, unique_slug, monkeypatch):
    """Both requests passed the "is it free?" check; the database's unique index decides."""
    import signup.services as signup_services
    import tenants.services as tenant_services

    slug = unique_slug("race")
    assert _post(public, signup_data(slug)).status_code == 302
    monkeypatch.setattr(tenant_services, "tenant_slug_validate", lambda s: s.strip().lower())
    monkeypatch.setattr(signup_services, "tenant_slug_validate", lambda s: s.strip().lower())
    response = _post(public, signup_data(slug, name="第二家公司"))
    assert response.status_code == 400 and "已被占用" in _errors(response)
    assert Tenant.objects.filter(slug=slug).count() == 1
    assert not Tenant.objects.filter(name="第二家公司").exists()


def test_integrity_error_is_translated_by_the_service(monkeypatch):
    from django.core.exceptions import ValidationError

    import signup.services as signup_services

    monkeypatch.setattr(signup_services, "signup_validate", lambda **kw: type("P", (), {"is_trial": True, "code": "trial"}))

    def boom(**kwargs):
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(signup_services, "tenant_create_async", boom)
    with pytest.raises(ValidationError) as info:
        signup_services.signup_create(name="x", slug="Dup-Co", mode="standard", admin_name="a",
                                      admin_email="a@b.cn", password=PASSWORD, plan_code="trial")
    assert info.value.message_dict == {"slug": ["子域名“dup-co”已被占用。"]}


def test_one_round_trip_shows_form_and_rule_errors_together(public, signup_data, tenant_a):
    response = _post(public, signup_data("alpha", admin_email="not-an-email", password="12345678"))
    assert response.status_code == 400
    page = _errors(response)
    assert "合法的邮件地址" in page and "已被占用" in page and "只包含数字" in page


def test_signup_page_escapes_what_was_typed(public, signup_data, unique_slug):
    response = _post(public, signup_data(unique_slug("xss"), name="<script>alert(1)</script>", password="1"))
    assert response.status_code == 400
    page = _errors(response)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert re.search(r'name="form_token" value="[^"]+"', page)
