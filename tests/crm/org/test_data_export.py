"""The full data export: a tenant admin asks for it, a task writes a ZIP with one CSV per table of
the tenant's schema (UTF-8 with BOM, header row, no credentials), the admin gets an email with a
link that only this tenant's admins can use and that expires; recorded in the tenant's audit
trail and as a DATA_EXPORTED tenant event. It works while the tenant is suspended or cancelled."""

from __future__ import annotations

import csv
import datetime
import io
import re
import zipfile

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.audit.models import AuditEntry
from crm.org import data_export
from tenants.enums import TenantEventKind, TenantStatus
from tenants.models import Tenant, TenantEvent
from tenants.selectors import tenant_cache_forget

pytestmark = pytest.mark.django_db
BOM = "\ufeff".encode()


@pytest.fixture(autouse=True)
def _storage(settings, tmp_path, tenant_env, in_tenant):
    settings.MEDIA_ROOT = str(tmp_path)
    yield
    for tenant in tenant_env.values():
        with in_tenant(tenant):
            cache.delete(data_export.RUNNING_KEY)


ALPHA_CUSTOMER, BETA_CUSTOMER = "导出测试甲方科技有限公司", "别家乙方贸易有限公司"


@pytest.fixture
def customers(tenant_a, tenant_b, user_in, in_tenant):
    from crm.customers.services import customer_create

    for tenant, name in ((tenant_a, ALPHA_CUSTOMER), (tenant_b, BETA_CUSTOMER)):
        with in_tenant(tenant):
            customer_create(actor=user_in(tenant, "sales"), data={"name": name, "phone": "010-6000 0000"},
                            duplicate_override=True)


@pytest.fixture
def exported(customers, tenant_a, user_in, web_as, django_capture_on_commit_callbacks):
    """Alpha's admin asks for the export on the billing page; the task runs (eagerly)."""
    web = web_as(tenant_a, user_in(tenant_a, "admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = web.post("/settings/billing/export/")
    assert response.status_code == 302, response.content.decode()[:500]
    assert len(mail.outbox) == 1
    link = re.search(r"http://alpha\.localhost(/settings/billing/export/\S+/)", mail.outbox[0].body).group(1)
    return web, link


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _rows(zf, name) -> list[list[str]]:
    raw = zf.read(name)
    assert raw.startswith(BOM), f"{name} has no BOM"
    return list(csv.reader(io.StringIO(raw[len(BOM):].decode("utf-8"))))


def test_admin_gets_an_email_and_a_zip_of_every_business_table_without_secrets(
        exported, tenant_a, tenant_b, in_tenant, user_in):
    web, link = exported
    assert mail.outbox[0].to == ["admin@alpha.test"]
    response = web.get(link)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="qiao-export-alpha.zip"' in response["Content-Disposition"]
    zf = _zip(response)
    names = set(zf.namelist())
    for table in ("org_user.csv", "org_department.csv", "customers_customer.csv", "audit_auditentry.csv",
                  "orders_order.csv", "partners_partner.csv", "README.txt"):
        assert table in names, table
    # credentials and other schemas' tables stay out
    for table in ("authtoken_token.csv", "django_session.csv", "tenants_tenant.csv", "billing_subscription.csv",
                  "tenants_domain.csv", "customers_customernamegram.csv"):
        assert table not in names, table

    users = _rows(zf, "org_user.csv")
    header = users[0]
    assert "email" in header and "password" not in header
    assert any(row[header.index("email")] == "admin@alpha.test" for row in users[1:])
    assert "pbkdf2" not in zf.read("org_user.csv").decode() and "md5$" not in zf.read("org_user.csv").decode()
    if "integrations_webhookendpoint.csv" in names:
        assert not {"secret", "previous_secret"} & set(_rows(zf, "integrations_webhookendpoint.csv")[0])
    for name in names:
        if name.endswith(".csv"):
            assert not any("token" in col or "password" in col or "secret" in col for col in _rows(zf, name)[0]), name

    customers = zf.read("customers_customer.csv").decode("utf-8-sig")
    assert ALPHA_CUSTOMER in customers
    assert BETA_CUSTOMER not in customers  # another tenant's data
    assert BETA_CUSTOMER not in b"".join(zf.read(n) for n in names).decode("utf-8", "replace")


def test_the_export_is_recorded_in_the_audit_trail_and_as_a_tenant_event(exported, tenant_a, in_tenant):
    web, link = exported
    with in_tenant(tenant_a):
        actions = list(AuditEntry.objects.filter(action__startswith="data_export").values_list("action", "actor_label"))
    assert ("data_export_request", "admin@alpha.test") in actions
    assert ("data_export", "admin@alpha.test") in actions
    with schema_context("public"):
        event = TenantEvent.objects.get(tenant=tenant_a, kind=TenantEventKind.DATA_EXPORTED)
    assert event.actor == "admin@alpha.test" and event.detail["tables"] > 20 and event.detail["bytes"] > 0
    assert web.get(link).status_code == 200
    with in_tenant(tenant_a):
        assert AuditEntry.objects.filter(action="data_export_download", actor_label="admin@alpha.test").exists()
    page = web.get("/settings/billing/").content.decode()
    assert 'data-testid="export-download"' in page


def test_only_this_tenants_admins_can_download(exported, tenant_a, tenant_b, user_in, web_as):
    _web, link = exported
    token = link.rstrip("/").rsplit("/", 1)[-1]
    # a non-admin of the same tenant
    assert web_as(tenant_a, user_in(tenant_a, "sales")).get(link).status_code == 404
    assert web_as(tenant_a, user_in(tenant_a, "exec")).get(link).status_code == 404
    # signed out
    anonymous = web_as(tenant_a).get(link)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # another tenant's admin, on their own host, with alpha's link
    assert web_as(tenant_b, user_in(tenant_b, "admin")).get(link).status_code == 404
    # a forged or altered link
    admin = web_as(tenant_a, user_in(tenant_a, "admin"))
    assert admin.get(f"/settings/billing/export/{token[:-2]}xx/").status_code == 404
    forged = data_export.signing.dumps({"s": tenant_a.schema_name, "n": "exports/t_beta/x.zip",
                                        "e": 9999999999}, salt="wrong")
    assert admin.get(f"/settings/billing/export/{forged}/").status_code == 404


def test_a_link_pointing_into_another_tenants_folder_is_refused(exported, tenant_a, tenant_b, user_in, web_as):
    forged = data_export._token(schema=tenant_a.schema_name, name=f"exports/{tenant_b.schema_name}/x.zip",
                                expires_at=timezone.now() + datetime.timedelta(days=1))
    assert web_as(tenant_a, user_in(tenant_a, "admin")).get(f"/settings/billing/export/{forged}/").status_code == 404


def test_an_expired_link_is_410_and_old_files_are_purged(exported, tenant_a, user_in, web_as, in_tenant, monkeypatch):
    web, link = exported
    later = timezone.now() + datetime.timedelta(days=data_export.LINK_DAYS, minutes=1)
    monkeypatch.setattr(data_export.timezone, "now", lambda: later)
    expired = web.get(link)
    assert expired.status_code == 410 and "下载链接已过期" in expired.content.decode()
    with in_tenant(tenant_a):
        assert data_export.data_export_purge(now=later) == 1
        assert data_export.data_export_purge(now=later) == 0


def test_non_admins_cannot_ask_and_one_export_runs_at_a_time(tenant_a, user_in, web_as, in_tenant):
    assert web_as(tenant_a, user_in(tenant_a, "sales")).post("/settings/billing/export/").status_code == 403
    admin = web_as(tenant_a, user_in(tenant_a, "admin"))
    first = admin.post("/settings/billing/export/")  # its task waits for the commit, which never comes here
    assert first.status_code == 302
    second = admin.post("/settings/billing/export/")
    assert second.status_code == 400
    assert "已有一份数据导出正在准备中" in second.content.decode()
    with in_tenant(tenant_a):
        assert AuditEntry.objects.filter(action="data_export_request").count() == 1


@pytest.mark.parametrize("status", [TenantStatus.SUSPENDED])
def test_the_export_is_built_and_downloaded_while_the_tenant_is_suspended_or_cancelled(
        tenant_a, user_in, web_as, in_tenant, status):
    """Cancelled tenants are suspended (read-only) during the retention period."""
    with schema_context("public"):
        Tenant.objects.filter(pk=tenant_a.pk).update(status=status, status_reason="已取消，数据保留中")
    tenant_cache_forget(tenant_a)
    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        export = data_export.data_export_build(requested_by_id=admin.pk, base_url="http://alpha.localhost/")
    web = web_as(tenant_a, admin)
    response = web.get(data_export.download_path(export.token))
    assert response.status_code == 200 and "org_user.csv" in _zip(response).namelist()
    tenant_cache_forget(tenant_a)


def test_a_suspended_tenant_admin_can_ask_for_the_export(tenant_a, user_in, web_as):
    with schema_context("public"):
        Tenant.objects.filter(pk=tenant_a.pk).update(status=TenantStatus.SUSPENDED, status_reason="欠费")
    tenant_cache_forget(tenant_a)
    try:
        assert web_as(tenant_a, user_in(tenant_a, "admin")).post("/settings/billing/export/").status_code == 302
    finally:
        tenant_cache_forget(tenant_a)
