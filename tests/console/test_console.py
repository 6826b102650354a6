import pytest
from django.test import Client

from crm.org.models import User
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(tenant_env):
    return User.objects.create_superuser(email="ops@qiao.cn", password="Ops-pass-2026", full_name="运维")


@pytest.fixture
def console(operator):
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator)
    return client


def test_console_needs_an_operator(tenant_env):
    response = Client(HTTP_HOST="localhost").get("/console/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_console_is_not_on_tenant_hosts(web):
    assert web.get("/console/").status_code == 404


def test_console_lists_and_filters_tenants(console, tenant_a, tenant_b):
    page = console.get("/console/").content.decode()
    assert tenant_a.name in page and tenant_b.name in page and "Template" not in page
    filtered = console.get("/console/?mode=project").content.decode()
    assert tenant_b.name in filtered and tenant_a.name not in filtered
    assert tenant_a.name in console.get("/console/?q=alpha").content.decode()


def test_operator_provisions_a_tenant_from_the_web_in_a_task(console, unique_slug,
                                                               django_capture_on_commit_callbacks):
    slug = unique_slug("web")
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post("/console/tenants/new/", {
            "name": "网页开通公司", "slug": slug, "mode": "keyaccount", "language": "en",
            "admin_name": "Boss", "admin_email": "boss@web.cn", "admin_password": "Boss-pass-2026"})
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug=slug)
    assert tenant.status == "active" and tenant.language == "en"
    panel = console.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="active"' in panel and f"{slug}.localhost" in panel


def test_console_form_reports_a_taken_slug(console, tenant_a):
    response = console.post("/console/tenants/new/", {
        "name": "重名", "slug": "alpha", "mode": "standard", "language": "zh-hans",
        "admin_name": "x", "admin_email": "x@x.cn", "admin_password": "Boss-pass-2026"})
    assert response.status_code == 200 and "已被占用" in response.content.decode()
