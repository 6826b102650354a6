"""Users get a kind (staff or partner: partner users reach only the partner portal); the
partners.manage permission goes to the tenant admin, and existing tenants get the
channel manager system role that new tenants get from SYSTEM_ROLE_DEFAULTS."""

from django.db import migrations, models


def grant(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    admin = Role.objects.filter(is_system=True, code="tenant_admin").first()
    if admin is not None and "partners.manage" not in (admin.permissions or []):
        admin.permissions = list(admin.permissions or []) + ["partners.manage"]
        admin.save(update_fields=["permissions"])
    if Role.objects.filter(code="tenant_admin").exists() and not Role.objects.filter(code="channel_manager").exists():
        Role.objects.create(code="channel_manager", name_zh="渠道经理", name_en="Channel manager", scope="own",
                            permissions=["partners.manage"], is_system=True)


def revoke(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    Role.objects.filter(code="channel_manager", is_system=True, users__isnull=True).delete()
    for role in Role.objects.filter(is_system=True, code="tenant_admin"):
        role.permissions = [c for c in (role.permissions or []) if c != "partners.manage"]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):

    dependencies = [
        ('org', '0002_order_and_finance_permissions'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='kind',
            field=models.CharField(choices=[('staff', '员工'), ('partner', '渠道伙伴用户')], default='staff', max_length=8, verbose_name='用户类型'),
        ),
        migrations.RunPython(grant, revoke),
    ]
