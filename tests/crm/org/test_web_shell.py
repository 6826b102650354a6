import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_login(web):
    response = web.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_with_email_lands_on_today(web):
    response = web.post("/login/", {"username": "ADMIN@alpha.test", "password": "Test-pass-2026"})
    assert response.status_code == 302 and response["Location"] == "/"
    page = web.get("/").content.decode()
    assert "今日工作" in page and 'data-testid="today-empty"' in page


def test_wrong_password_shows_the_form_again_with_a_message(web):
    response = web.post("/login/", {"username": "admin@alpha.test", "password": "nope"})
    assert response.status_code == 200 and "邮箱或密码不正确" in response.content.decode()


def test_navigation_follows_the_tenant_modes(tenant_a, user_in, web_as, in_tenant):
    from crm.org.models import TenantConfig

    web = web_as(tenant_a, user_in(tenant_a, "admin"))
    page = web.get("/").content.decode()
    assert 'data-nav="today"' in page and 'data-nav="staff"' in page and 'data-nav="settings"' in page
    # entries of modules not installed yet are hidden, not dead links
    assert 'data-nav="orders"' in page and 'data-nav="service"' not in page
    with in_tenant(tenant_a):
        config = TenantConfig.objects.get()
        config.navigation = [*config.navigation, {"key": "team", "name_zh": "团队", "name_en": "Team",
                                                  "url_name": "org:staff-list", "module": "org"}]
        config.save()
    assert 'data-nav="team"' in web.get("/").content.decode()
    sales_page = web_as(tenant_a, user_in(tenant_a, "sales")).get("/").content.decode()
    assert 'data-nav="settings"' not in sales_page


def test_today_lists_my_open_tasks(tenant_a, user_in, web_as, in_tenant):
    from django.utils import timezone

    from crm.activities.services import task_create

    sales = user_in(tenant_a, "sales")
    with in_tenant(tenant_a):
        task_create(actor=sales, title="回访华润", due_at=timezone.now())
        task_create(actor=user_in(tenant_a, "sales2"), title="别人的任务", due_at=timezone.now())
    page = web_as(tenant_a, sales).get("/").content.decode()
    assert "回访华润" in page and "别人的任务" not in page


def test_pages_carry_the_viewport_and_local_htmx(web_as, tenant_a, user_in):
    page = web_as(tenant_a, user_in(tenant_a, "admin")).get("/").content.decode()
    assert 'name="viewport"' in page
    assert "/static/django_htmx/htmx" in page and "https://" not in page


def test_settings_page_for_admin(tenant_a, user_in, web_as):
    admin_page = web_as(tenant_a, user_in(tenant_a, "admin")).get("/settings/")
    assert admin_page.status_code == 200 and "标准产品" in admin_page.content.decode()
    html = admin_page.content.decode()
    # the settings of other modules, for those allowed to change them
    assert 'data-testid="admin-links"' in html
    assert 'href="/approvals/policies/"' in html and 'href="/catalog/"' in html and 'href="/integrations/"' in html
    assert web_as(tenant_a, user_in(tenant_a, "sales")).get("/settings/").status_code == 403


def test_api_docs_and_schema_on_tenant_hosts(web):
    assert web.get("/api/docs/").status_code == 200
    schema = web.get("/api/schema/?format=json")
    assert schema.status_code == 200 and "/api/v1/auth/token" in schema.json()["paths"]


def test_tenant_admin_enables_a_second_mode_from_settings(tenant_a, user_in, web_as, in_tenant,
                                                          django_capture_on_commit_callbacks):
    from tenants.models import Tenant

    admin_web = web_as(tenant_a, user_in(tenant_a, "admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_web.post("/settings/modes/enable/", {"mode": "membership"})
    assert response.status_code == 302
    assert Tenant.objects.get(pk=tenant_a.pk).modes == ["standard", "membership"]
    assert "会员制" in admin_web.get("/settings/").content.decode()
    from crm.audit.models import AuditEntry

    with in_tenant(tenant_a):
        entry = AuditEntry.objects.filter(note="business mode membership").get()
        assert entry.actor.email == "admin@alpha.test"
        assert entry.changes["modes"] == {"old": ["standard"], "new": ["standard", "membership"]}
    bogus = admin_web.post("/settings/modes/enable/", {"mode": "bogus"}, follow=True)
    assert "未知的业务模式" in bogus.content.decode()
    sales_web = web_as(tenant_a, user_in(tenant_a, "sales"))
    assert sales_web.post("/settings/modes/enable/", {"mode": "project"}).status_code == 403
    assert Tenant.objects.get(pk=tenant_a.pk).modes == ["standard", "membership"]
