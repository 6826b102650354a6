"""Tenants set up before this app existed: their tenant admin role gets the new
``integrations.manage`` permission (new tenants get it when their roles are seeded)."""

from django.db import migrations

CODE = "integrations.manage"


def grant(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    for role in Role.objects.filter(code="tenant_admin"):
        if CODE not in role.permissions:
            role.permissions = [*role.permissions, CODE]
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    for role in Role.objects.filter(code="tenant_admin"):
        if CODE in role.permissions:
            role.permissions = [p for p in role.permissions if p != CODE]
            role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_initial"),
        ("org", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
