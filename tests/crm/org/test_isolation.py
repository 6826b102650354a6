"""One tenant never sees another's users, sessions or tokens."""

import pytest

pytestmark = pytest.mark.django_db


def test_token_of_tenant_a_is_refused_on_tenant_b(tenant_a, tenant_b, user_in, api_for):
    admin_a = user_in(tenant_a, "admin")
    client = api_for(tenant_a, admin_a)
    assert client.get("/api/v1/auth/me").status_code == 200
    token_header = client._credentials["HTTP_AUTHORIZATION"]
    other = api_for(tenant_b)
    other.credentials(HTTP_AUTHORIZATION=token_header)
    response = other.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert other.get("/api/v1/staff/").status_code == 401


def test_credentials_of_tenant_a_do_not_open_tenant_b(tenant_a, tenant_b, api_for):
    response = api_for(tenant_b).post("/api/v1/auth/token",
                                      {"email": "admin@alpha.test", "password": "Test-pass-2026"},
                                      format="json")
    assert response.status_code == 400
    assert "token" not in response.json()


def test_session_of_tenant_a_means_nothing_on_tenant_b(tenant_a, tenant_b, user_in, web_as):
    from django.test import Client

    client_a = web_as(tenant_a, user_in(tenant_a, "admin"))
    assert client_a.get("/").status_code == 200
    client_b = Client(HTTP_HOST="beta.localhost")
    client_b.cookies = client_a.cookies  # the same browser cookie jar
    response = client_b.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_b.get("/api/v1/auth/me").status_code in (401, 403)


def test_staff_ids_of_another_tenant_are_404(tenant_a, tenant_b, user_in, api_for):
    sales_b = user_in(tenant_b, "sales")
    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    # ids overlap between schemas; what tenant A sees under an id is its own row
    response = api.get(f"/api/v1/staff/{sales_b.pk}/")
    if response.status_code == 200:
        assert not response.json()["email"].endswith("beta.example.com")
    assert api.get("/api/v1/staff/999999/").status_code == 404
    emails = [s["email"] for s in api.get("/api/v1/staff/?limit=200").json()["results"]]
    assert emails and not any(e.endswith("beta.example.com") or e.endswith("beta.test") for e in emails)


def test_same_email_lives_independently_in_two_tenants(tenant_a, tenant_b, user_in, in_tenant):
    from crm.org.services import staff_create

    with in_tenant(tenant_a):
        a = staff_create(actor=None, email="same@person.cn", full_name="甲", password="Pw-123456789")
    with in_tenant(tenant_b):
        b = staff_create(actor=None, email="same@person.cn", full_name="乙", password="Other-pw-98765")
    from rest_framework.test import APIClient

    ok_a = APIClient(HTTP_HOST="alpha.localhost").post(
        "/api/v1/auth/token", {"email": "same@person.cn", "password": "Pw-123456789"}, format="json")
    bad_b = APIClient(HTTP_HOST="beta.localhost").post(
        "/api/v1/auth/token", {"email": "same@person.cn", "password": "Pw-123456789"}, format="json")
    assert ok_a.status_code == 200 and bad_b.status_code == 400
    assert a.full_name != b.full_name
