import pytest
from django.core.management import call_command
from django.db import connection

from tenants.migrations_runner import applied_by_schema, migrations_on_disk, pending_migrations

pytestmark = pytest.mark.django_db


def test_nothing_pending_means_every_schema_is_skipped(tenant_env, capsys):
    call_command("migrate_tenants", workers=1)
    out = capsys.readouterr().out
    assert "public: up to date" in out
    assert "0 to migrate" in out and "0 failed" in out


def test_pending_detection_per_schema(tenant_a, tenant_b):
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{tenant_a.schema_name}".django_migrations '
                       "WHERE app = 'activities' AND name = '0001_initial'")
    assert pending_migrations(tenant_a.schema_name) == {("activities", "0001_initial")}
    assert pending_migrations(tenant_b.schema_name) == set()
    applied = applied_by_schema([tenant_a.schema_name, tenant_b.schema_name])
    assert applied[tenant_b.schema_name] == set(migrations_on_disk())


def test_a_failing_schema_is_reported_and_the_rest_go_on(tenant_a, tenant_b, capsys):
    # Pretend alpha never ran activities.0001: re-running it collides with the existing
    # table, so that schema fails; beta is untouched and the command exits 1.
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{tenant_a.schema_name}".django_migrations '
                       "WHERE app = 'activities' AND name = '0001_initial'")
    with pytest.raises(SystemExit) as exit_info:
        call_command("migrate_tenants", workers=1, skip_public=True)
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert f"{tenant_a.schema_name}: FAILED" in out
    assert "1 to migrate" in out
    assert "1 failed" in out
