"""A company signs up in a real browser: from the landing page to the sign-up form (the
subdomain checked live as it is typed), a trial plan, the progress page, then its own login
page on its own host, where the admin signs in with the password chosen. The tenant made here
is dropped afterwards (its rows and its schema)."""

from __future__ import annotations

import uuid

import pytest

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = pytest.mark.e2e

PASSWORD = "Qiao-E2E-signup-2026"


def _drop_tenants(slugs: list[str]) -> None:
    from django.core.cache import cache
    from django.db import connection

    from tenants.models import Tenant
    from tenants.selectors import tenant_cache_forget

    connection.set_schema_to_public()
    for tenant in Tenant.objects.filter(slug__in=slugs):
        tenant_cache_forget(tenant)
        schema = tenant.schema_name
        tenant.delete()  # domains, events, subscription go with it
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match="*signup-rate:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture
def made_slugs(off_loop):
    slugs: list[str] = []
    yield slugs
    off_loop(_drop_tenants, slugs)


@pytest.fixture
def public_url(e2e_server, settings):
    # Links to tenant hosts (the login URL on the progress page) carry the live server's port.
    settings.SITE_PORT = str(e2e_server.port)
    return lambda path="/": f"http://localhost:{e2e_server.port}{path}"


def test_a_company_signs_up_for_a_trial_and_its_admin_signs_in(
        public_url, new_context, made_slugs, off_loop, screenshot_dir):
    slug = f"e2e{uuid.uuid4().hex[:8]}"
    made_slugs.append(slug)
    email = f"founder@{slug}.cn"
    page = new_context().new_page()
    broken: list[str] = []
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.split("?")[0].endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: broken.append(f"pageerror: {e}"))

    page.goto(public_url("/"))
    expect(page.get_by_test_id("landing-hero")).to_be_visible()
    page.screenshot(path=str(screenshot_dir / "signup-landing.png"), full_page=True)
    page.get_by_test_id("cta-signup").click()
    expect(page.get_by_role("heading", name="注册 Qiao")).to_be_visible()

    page.get_by_label("公司名称").fill("浏览器注册测试有限公司")
    subdomain = page.get_by_label("子域名")
    subdomain.fill("alpha")  # taken
    expect(page.get_by_test_id("slug-check")).to_contain_text("已被占用")
    subdomain.fill("www")
    expect(page.get_by_test_id("slug-check")).to_contain_text("保留名称")
    subdomain.fill(slug)
    expect(page.get_by_test_id("slug-check")).to_contain_text(f"{slug}.localhost 可以使用")

    page.locator('label.choice[data-mode="project"]').click()
    expect(page.locator('input[name="mode"][value="project"]')).to_be_checked()
    page.get_by_label("管理员姓名").fill("赵创始")
    page.get_by_label("管理员邮箱").fill(email)
    page.get_by_label("登录密码").fill("12345678")  # too weak first
    expect(page.locator('input[name="plan"][value="trial"]')).to_be_checked()
    page.get_by_test_id("signup-submit").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(page.get_by_test_id("signup-form")).to_contain_text("只包含数字")
    broken[:] = [b for b in broken if not b.startswith("400 ")]  # the refused form answers 400
    page.get_by_label("登录密码").fill(PASSWORD)
    page.screenshot(path=str(screenshot_dir / "signup-form.png"), full_page=True)
    page.get_by_test_id("signup-submit").click()

    expect(page.get_by_test_id("signup-ready")).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("admin-email")).to_have_text(email)
    login_link = page.get_by_test_id("tenant-login-link")
    expect(login_link).to_have_attribute("href", public_url("/login/").replace("//localhost", f"//{slug}.localhost"))
    page.screenshot(path=str(screenshot_dir / "signup-ready.png"), full_page=True)
    login_link.click()

    expect(page.get_by_role("heading", name="登录 · 浏览器注册测试有限公司")).to_be_visible()
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("current-user")).to_have_text("赵创始")
    assert broken == [], broken

    def check():
        from tenants.models import Tenant

        tenant = Tenant.objects.get(slug=slug)
        return tenant.status, tenant.plan_code, tenant.modes, tenant.admin_email

    assert off_loop(check) == ("active", "trial", ["project"], email)


def test_the_public_site_switches_language(public_url, new_context, screenshot_dir):
    page = new_context(phone=True).new_page()
    page.goto(public_url("/pricing/"))
    expect(page.locator('[data-plan="standard"] h2')).to_have_text("标准版")
    page.screenshot(path=str(screenshot_dir / "signup-pricing-phone.png"), full_page=True)
    page.get_by_test_id("lang-en").click()
    expect(page.locator('[data-plan="standard"] h2')).to_have_text("Standard")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_test_id("lang-zh").click()
    expect(page.locator('[data-plan="standard"] h2')).to_have_text("标准版")
