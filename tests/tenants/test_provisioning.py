import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from crm.org.enums import SYSTEM_ROLE_DEFAULTS
from tenants.models import Domain, Tenant, TenantEvent
from tenants.services import (
    RESERVED_SLUGS,
    tenant_create,
    tenant_create_async,
    tenant_enable_mode,
    tenant_provision,
    tenant_request,
    tenant_slug_validate,
)

pytestmark = pytest.mark.django_db


def _create(slug, **extra):
    kwargs = dict(name="新华科技有限公司", slug=slug, mode="standard", admin_email=f"boss@{slug}.cn",
                  admin_name="老板", admin_password="Secret-pass-9")
    kwargs.update(extra)
    return tenant_create(**kwargs)


def test_provisioning_clones_the_template_and_sets_up_the_mode(tenant_env, unique_slug):
    from crm.org.models import Department, Region, Role, TenantConfig, User

    slug = unique_slug("acme")
    tenant = _create(slug)
    assert tenant.status == "active" and tenant.provisioned_at is not None
    assert tenant.schema_name == f"t_{slug}"
    assert schema_exists(tenant.schema_name)
    assert Domain.objects.get(tenant=tenant).domain == f"{slug}.localhost"
    assert tenant.provisioning_payload == {}  # the password hash is not kept
    with schema_context(tenant.schema_name):
        admin = User.objects.get(email=f"boss@{slug}.cn")
        assert admin.check_password("Secret-pass-9")
        assert admin.role_codes() == {"tenant_admin"}
        assert Role.objects.filter(is_system=True).count() == len(SYSTEM_ROLE_DEFAULTS)
        assert Department.objects.get(parent=None).name == "新华科技有限公司"
        assert Region.objects.filter(parent=None).count() == 1
        config = TenantConfig.objects.get()
        assert config.modes == ["standard"]
        assert "orders" in config.enabled_modules
        assert [s["key"] for s in config.pipeline_stages["standard"]][:2] == ["qualify", "quote"]
        assert config.approval_policies["standard"][1]["role"] == "finance"
    kinds = list(TenantEvent.objects.filter(tenant=tenant).values_list("kind", flat=True))
    assert set(kinds) == {"provisioning_requested", "provisioned", "billing_status_changed"}


def test_each_tenant_starts_empty_and_separate(tenant_env, unique_slug):
    from crm.org.models import User

    one, two = _create(unique_slug("one")), _create(unique_slug("two"))
    with schema_context(one.schema_name):
        assert User.objects.count() == 1
    with schema_context(two.schema_name):
        assert User.objects.count() == 1
        assert not User.objects.filter(email__endswith="alpha.test").exists()


@pytest.mark.parametrize("slug, code", [
    ("ab", "length"),
    ("a" * 41, "length"),
    ("Bad_Slug", "invalid"),
    ("-abc", "invalid"),
    ("abc-", "invalid"),
    ("a--b", "invalid"),
    ("中文名", "invalid"),
    ("has space", "invalid"),
    ("www", "reserved"),
    ("admin", "reserved"),
    ("api", "reserved"),
    ("console", "reserved"),
    ("static", "reserved"),
])
def test_invalid_slugs_are_refused_with_a_reason(tenant_env, slug, code):
    with pytest.raises(ValidationError) as info:
        tenant_slug_validate(slug)
    assert info.value.error_dict["slug"][0].code == code
    assert info.value.message_dict["slug"][0]
    before = Tenant.objects.count()
    with pytest.raises(ValidationError):
        tenant_request(name="X", slug=slug, mode="standard", admin_email="a@b.cn", admin_name="a")
    assert Tenant.objects.count() == before


def test_reserved_list_covers_the_platform_names():
    assert {"www", "admin", "api", "console", "static"} <= RESERVED_SLUGS


def test_duplicate_slug_is_refused(tenant_env):
    with pytest.raises(ValidationError) as info:
        tenant_slug_validate("alpha")
    assert info.value.error_dict["slug"][0].code == "taken"
    with pytest.raises(ValidationError):
        _create("ALPHA")  # case-folded to the same subdomain


def test_unknown_mode_and_bad_email_are_named(tenant_env, unique_slug):
    with pytest.raises(ValidationError) as info:
        tenant_request(name="", slug=unique_slug(), mode="nope", admin_email="x", admin_name="")
    assert set(info.value.message_dict) == {"name", "mode", "admin_email"}


def test_failure_leaves_no_half_tenant_and_a_retry_succeeds(tenant_env, unique_slug, monkeypatch):
    import crm.org.services as org_services
    from crm.org.models import User

    real_setup = org_services.org_setup_tenant

    def broken_setup(**kwargs):
        real_setup(**kwargs)  # the admin row is written... then something fails
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(org_services, "org_setup_tenant", broken_setup)
    slug = unique_slug("fail")
    tenant = tenant_request(name="失败公司", slug=slug, mode="standard", admin_email="a@f.cn",
                            admin_name="a", admin_password="Secret-pass-9")
    result = tenant_provision(tenant_id=tenant.pk)
    assert result.status == "failed"
    assert "disk on fire" in result.provisioning_error
    assert not schema_exists(tenant.schema_name)
    assert TenantEvent.objects.filter(tenant=tenant, kind="provisioning_failed").exists()
    # the host of a failed tenant is not served
    from django.test import Client

    assert Client(HTTP_HOST=f"{slug}.localhost").get("/login/").status_code == 404

    monkeypatch.setattr(org_services, "org_setup_tenant", real_setup)
    retried = tenant_provision(tenant_id=tenant.pk)
    assert retried.status == "active" and retried.provisioning_error == ""
    assert retried.provisioning_attempts == 2
    with schema_context(tenant.schema_name):
        assert User.objects.filter(email="a@f.cn").count() == 1
    # provisioning an active tenant again changes nothing
    again = tenant_provision(tenant_id=tenant.pk)
    assert again.status == "active" and again.provisioning_attempts == 2


def test_web_path_provisions_in_a_celery_task(tenant_env, unique_slug, django_capture_on_commit_callbacks):
    slug = unique_slug("async")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        tenant = tenant_create_async(name="异步公司", slug=slug, mode="membership",
                                     admin_email="m@a.cn", admin_name="m", admin_password="Secret-pass-9")
        assert tenant.status == "provisioning"
    assert len(callbacks) >= 1
    tenant.refresh_from_db()
    assert tenant.status == "active"


def test_provisioning_host_answers_503_until_ready(tenant_env, unique_slug):
    from django.test import Client

    slug = unique_slug("wait")
    tenant_request(name="等待公司", slug=slug, mode="standard", admin_email="w@a.cn", admin_name="w")
    response = Client(HTTP_HOST=f"{slug}.localhost").get("/login/")
    assert response.status_code == 503 and response["Retry-After"]


def test_tenant_create_command(tenant_env, unique_slug, capsys):
    slug = unique_slug("cmd")
    call_command("tenant_create", slug, name="命令行公司", mode="project", admin_email="c@c.cn",
                 admin_password="Secret-pass-9")
    assert f"{slug}.localhost" in capsys.readouterr().out
    assert Tenant.objects.get(slug=slug).status == "active"


def test_a_second_mode_can_be_enabled_later(tenant_env, unique_slug):
    from crm.org.models import TenantConfig

    tenant = _create(unique_slug("two"), mode="standard")
    tenant = tenant_enable_mode(tenant_id=tenant.pk, mode="membership")
    assert tenant.modes == ["standard", "membership"]
    with schema_context(tenant.schema_name):
        config = TenantConfig.objects.get()
        assert config.modes == ["standard", "membership"]
        assert {"orders", "points"} <= set(config.enabled_modules)
        assert set(config.pipeline_stages) == {"standard", "membership"}
    # enabling it twice is harmless
    assert tenant_enable_mode(tenant_id=tenant.pk, mode="membership").modes == ["standard", "membership"]
    with pytest.raises(ValidationError):
        tenant_enable_mode(tenant_id=tenant.pk, mode="bogus")


def test_template_is_a_migrated_tenant_row_never_served(tenant_env):
    from django.conf import settings
    from django.test import Client

    from tenants.migrations_runner import pending_migrations

    template = Tenant.objects.get(schema_name=settings.TENANT_TEMPLATE_SCHEMA)
    assert template.is_template
    assert pending_migrations(template.schema_name) == set()
    assert template not in Tenant.objects.real()
    with schema_context(template.schema_name):
        from crm.org.models import User

        assert User.objects.count() == 0  # data-free
    assert connection.schema_name == "public"
    assert Client(HTTP_HOST="__template__.localhost").get("/").status_code == 404
