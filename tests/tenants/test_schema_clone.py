"""The fast clone must produce exactly what the template holds."""

import pytest
from django.conf import settings
from django.db import connection, transaction

from tenants.schema_clone import schema_clone, snapshot_clear, snapshot_for

pytestmark = pytest.mark.django_db
TEMPLATE = settings.TENANT_TEMPLATE_SCHEMA


def signature(schema: str) -> dict:
    """Everything about a schema's structure that matters, with its own name taken out."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity,
                      identity_generation, is_generated, generation_expression, collation_name,
                      character_maximum_length, numeric_precision
                 FROM information_schema.columns WHERE table_schema = %s
                ORDER BY table_name, ordinal_position""", [schema])
        columns = cursor.fetchall()
        cursor.execute(
            """SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid), k.condeferrable,
                      k.condeferred
                 FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = %s AND k.contype <> 'n' ORDER BY 1, 2""", [schema])
        constraints = [tuple(str(v).replace(f"{schema}.", "") for v in row) for row in cursor.fetchall()]
        cursor.execute("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = %s "
                       "ORDER BY 1, 2", [schema])
        indexes = [tuple(v.replace(f"{schema}.", "") for v in row) for row in cursor.fetchall()]
        cursor.execute("SELECT relkind, count(*) FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = %s GROUP BY 1 ORDER BY 1", [schema])
        kinds = cursor.fetchall()
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "kinds": kinds}


def rows(schema: str, table: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT * FROM "{schema}"."{table}" ORDER BY 1')
        return cursor.fetchall()


def test_a_provisioned_schema_is_structurally_identical_to_the_template(tenant_a):
    template, tenant = signature(TEMPLATE), signature(tenant_a.schema_name)
    assert template["columns"] and template["indexes"]
    assert tenant == template


def test_clone_copies_the_template_rows_and_identities_continue(tenant_env):
    with transaction.atomic():
        assert schema_clone(TEMPLATE, "t_clone_probe") == "snapshot"
        for table in ("django_migrations", "django_content_type", "auth_permission"):
            assert rows("t_clone_probe", table) == rows(TEMPLATE, table)
        assert signature("t_clone_probe") == signature(TEMPLATE)
        with connection.cursor() as cursor:
            cursor.execute('INSERT INTO t_clone_probe.django_content_type (app_label, model) '
                           "VALUES ('probe', 'thing') RETURNING id")
            new_id = cursor.fetchone()[0]
        assert new_id > max(r[0] for r in rows(TEMPLATE, "django_content_type"))
        transaction.set_rollback(True)


def test_a_template_change_is_picked_up(tenant_env):
    snapshot_for(TEMPLATE)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER TABLE "{TEMPLATE}".activities_task ADD COLUMN probe_note text '
                           "NOT NULL DEFAULT 'x'")
            cursor.execute(f'CREATE INDEX probe_idx ON "{TEMPLATE}".activities_task (probe_note)')
        schema_clone(TEMPLATE, "t_clone_probe2")
        assert signature("t_clone_probe2") == signature(TEMPLATE)
        transaction.set_rollback(True)
    snapshot_clear()


def test_objects_the_snapshot_does_not_cover_fall_back_to_migrating(tenant_env):
    from tenants.migrations_runner import pending_migrations

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE VIEW "{TEMPLATE}".open_tasks AS '
                           f'SELECT id, title FROM "{TEMPLATE}".activities_task WHERE status = \'open\'')
        assert snapshot_for(TEMPLATE).unsupported == ("view open_tasks",)
        assert schema_clone(TEMPLATE, "t_clone_probe3") == "migrate"
        connection.set_schema_to_public()
        assert pending_migrations("t_clone_probe3") == set()
        probe = signature("t_clone_probe3")
        template = signature(TEMPLATE)
        assert probe["indexes"] == template["indexes"]
        assert probe["constraints"] == template["constraints"]
        transaction.set_rollback(True)
    snapshot_clear()


def test_clone_outside_a_transaction_is_refused(tenant_env, monkeypatch):
    monkeypatch.setattr(type(connection), "in_atomic_block", False, raising=False)
    with pytest.raises(RuntimeError, match="inside transaction.atomic"):
        schema_clone(TEMPLATE, "t_never")
