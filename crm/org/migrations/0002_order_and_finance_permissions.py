"""The order and finance permission codes (orders.manage, orders.close, finance.manage) given
to the system roles of existing tenants, as SYSTEM_ROLE_DEFAULTS gives them to new ones:
the tenant admin all three, business secretaries orders.manage and orders.close, regional
managers orders.manage, finance finance.manage and orders.close. Custom roles are left as the
tenant admin made them."""

from django.db import migrations

ADDED = {
    "tenant_admin": ["orders.manage", "orders.close", "finance.manage"],
    "business_secretary": ["orders.manage", "orders.close"],
    "regional_manager": ["orders.manage"],
    "finance": ["finance.manage", "orders.close"],
}


def grant(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    for role in Role.objects.filter(is_system=True, code__in=list(ADDED)):
        codes = list(role.permissions or [])
        missing = [c for c in ADDED[role.code] if c not in codes]
        if missing:
            role.permissions = codes + missing
            role.save(update_fields=["permissions"])


def revoke(apps, schema_editor):
    Role = apps.get_model("org", "Role")
    for role in Role.objects.filter(is_system=True, code__in=list(ADDED)):
        role.permissions = [c for c in (role.permissions or []) if c not in ADDED[role.code]]
        role.save(update_fields=["permissions"])


class Migration(migrations.Migration):
    dependencies = [("org", "0001_initial")]

    operations = [migrations.RunPython(grant, revoke)]
