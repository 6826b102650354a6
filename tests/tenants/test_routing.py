import pytest
from django.test import Client

from tenants.services import tenant_set_status

pytestmark = pytest.mark.django_db


def test_unknown_host_gets_a_friendly_404_page():
    response = Client(HTTP_HOST="nosuchcompany.localhost").get("/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "nosuchcompany.localhost" in body and "<html" in body


def test_unknown_host_answers_json_under_api():
    response = Client(HTTP_HOST="nosuchcompany.localhost").get("/api/v1/auth/me")
    assert response.status_code == 404
    assert response.json()["code"] == "tenant_not_found"


def test_tenant_host_serves_its_login_page(tenant_a, web):
    response = web.get("/login/")
    assert response.status_code == 200
    assert tenant_a.name in response.content.decode()


def test_suspended_tenant_reads_work_writes_get_423_with_banner(tenant_a, web_as, user_in, api_for):
    admin = user_in(tenant_a, "admin")
    web = web_as(tenant_a, admin)
    tenant_set_status(tenant_id=tenant_a.pk, status="suspended", reason="欠费")
    page = web.get("/")
    assert page.status_code == 200
    assert "欠费" in page.content.decode()  # the banner says why
    api = api_for(tenant_a, admin)
    assert api.get("/api/v1/auth/me").status_code == 200
    refused = api.post("/api/v1/tasks/", {"title": "call back"}, format="json")
    assert refused.status_code == 423
    assert refused.json()["code"] == "tenant_suspended"
    assert web.post("/staff/invite/", {}).status_code == 423


def test_closed_tenant_answers_410(tenant_a, web):
    tenant_set_status(tenant_id=tenant_a.pk, status="closed", reason="")
    assert web.get("/").status_code == 410
    assert web.get("/api/v1/auth/me").status_code == 410


def test_admin_is_absent_on_tenant_hosts_and_present_on_public(web):
    assert web.get("/admin/").status_code == 404
    assert web.get("/admin/login/").status_code == 404
    public = Client(HTTP_HOST="localhost")
    response = public.get("/admin/login/")  # operators sign in through the console, with TOTP
    assert response.status_code == 302 and response["Location"] == "/console/login/?next=/admin/"
    response = public.post("/admin/login/", {"username": "x@y.cn", "password": "nope"})
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")
    assert public.get("/admin/").status_code == 302  # the console's guard, not the admin's form


def test_healthz_on_public_tenant_and_unknown_hosts(tenant_a, web):
    for client in (web, Client(HTTP_HOST="localhost"), Client(HTTP_HOST="nosuch.localhost")):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["checks"]["database"]["ok"] is True
        assert response.json()["checks"]["redis"]["ok"] is True


def test_business_modes_listed_on_public_host():
    data = Client(HTTP_HOST="localhost").get("/api/v1/business-modes").json()
    keys = [m["key"] for m in data["results"]]
    assert keys == ["standard", "promotion", "project", "membership", "keyaccount"]
    standard = data["results"][0]
    assert standard["name_zh"] == "标准产品" and standard["name_en"] == "Standard product"
    assert standard["pipeline_stages"] and standard["approval_policy"] and standard["navigation"]


def test_host_lookup_is_cached_under_the_public_schema_prefix(tenant_a, web):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web.get("/login/")  # warms the cache
    with CaptureQueriesContext(connection) as queries:
        assert web.get("/login/").status_code == 200
    assert not any("tenants_domain" in q["sql"] for q in queries.captured_queries)
    client = cache._cache.get_client(write=False)
    keys = [k.decode() for k in client.scan_iter(match="*tenant-by-host:alpha.localhost")]
    assert keys and all(k.startswith("public:") for k in keys)


def test_status_change_is_seen_at_once_despite_the_cache(tenant_a, web,
                                                        django_capture_on_commit_callbacks):
    assert web.get("/login/").status_code == 200  # cached as active
    with django_capture_on_commit_callbacks(execute=True):  # the cache is dropped on commit
        tenant_set_status(tenant_id=tenant_a.pk, status="closed")
    assert web.get("/login/").status_code == 410


def test_suspended_tenant_still_lets_staff_sign_in(tenant_a, web):
    tenant_set_status(tenant_id=tenant_a.pk, status="suspended", reason="逾期未付款")
    response = web.post("/login/", {"username": "admin@alpha.test", "password": "Test-pass-2026"})
    assert response.status_code == 302
    assert "逾期未付款" in web.get("/").content.decode()


def test_illegal_status_moves_are_refused(tenant_a):
    from django.core.exceptions import ValidationError

    tenant_set_status(tenant_id=tenant_a.pk, status="closed")
    with pytest.raises(ValidationError):
        tenant_set_status(tenant_id=tenant_a.pk, status="active")
