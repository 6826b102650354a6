"""Every staff API endpoint: no credentials 401, another tenant's token 401, and the writes
that need a permission refuse a salesperson with 403 and write nothing."""

import pytest

from crm.audit.models import AuditEntry

pytestmark = pytest.mark.django_db

READS = ["/api/v1/auth/me", "/api/v1/staff/", "/api/v1/staff/{uid}/", "/api/v1/staff/{uid}/audit",
         "/api/v1/roles/", "/api/v1/departments/", "/api/v1/regions/", "/api/v1/tasks/"]
MANAGER_WRITES = [
    ("post", "/api/v1/staff/", {"email": "w@alpha.cn", "full_name": "w", "role_codes": ["salesperson"]}),
    ("patch", "/api/v1/staff/{uid}/", {"full_name": "改"}),
    ("post", "/api/v1/staff/{uid}/deactivate", {}),
    ("post", "/api/v1/staff/{uid}/reactivate", {}),
    ("post", "/api/v1/roles/", {"code": "r1", "name_zh": "r", "name_en": "r", "scope": "all", "permissions": []}),
    ("post", "/api/v1/departments/", {"name": "新部门"}),
    ("post", "/api/v1/regions/", {"name": "新区域"}),
]


@pytest.mark.parametrize("path", READS)
def test_reads_need_credentials_of_this_tenant(tenant_a, tenant_b, user_in, api_for, path):
    uid = user_in(tenant_a, "sales2").pk
    url = path.format(uid=uid)
    assert api_for(tenant_a).get(url).status_code == 401
    stranger = api_for(tenant_b, user_in(tenant_b, "admin"))
    token = stranger._credentials["HTTP_AUTHORIZATION"]
    foreign = api_for(tenant_a)
    foreign.credentials(HTTP_AUTHORIZATION=token)
    assert foreign.get(url).status_code == 401


@pytest.mark.parametrize("method, path, body", MANAGER_WRITES)
def test_management_writes_refuse_a_salesperson_and_write_nothing(tenant_a, user_in, api_for, in_tenant,
                                                                 method, path, body):
    uid = user_in(tenant_a, "sales2").pk
    with in_tenant(tenant_a):
        before = AuditEntry.objects.count()
    response = getattr(api_for(tenant_a, user_in(tenant_a, "sales")), method)(
        path.format(uid=uid), body, format="json")
    assert response.status_code == 403
    assert response.json()["detail"]
    with in_tenant(tenant_a):
        assert AuditEntry.objects.count() == before


@pytest.mark.parametrize("method, path, body", MANAGER_WRITES)
def test_management_writes_need_credentials(tenant_a, user_in, api_for, method, path, body):
    uid = user_in(tenant_a, "sales2").pk
    assert getattr(api_for(tenant_a), method)(path.format(uid=uid), body, format="json").status_code == 401


def test_malformed_bodies_are_400_not_500(tenant_a, user_in, api_for):
    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    assert api.post("/api/v1/staff/", "not json", content_type="application/json").status_code == 400
    assert api.post("/api/v1/departments/", {"name": "", "parent": "x"}, format="json").status_code == 400
    assert api.post("/api/v1/departments/", {"name": "子部门", "parent": 999999}, format="json").status_code == 400
    assert api.post("/api/v1/tasks/", {"title": "x", "due_at": "not a date"}, format="json").status_code == 400
    assert api.get("/api/v1/tasks/?owner=abc").status_code == 200
    assert api.patch("/api/v1/staff/1/", {"language": "fr"}, format="json").status_code == 400
