from django.contrib import admin
from django_tenants.admin import TenantAdminMixin

from .models import Domain, Tenant, TenantEvent


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "schema_name", "status", "plan_code", "created_at")
    list_filter = ("status", "plan_code", "is_template")
    search_fields = ("name", "slug", "admin_email")
    readonly_fields = ("schema_name", "provisioning_error", "provisioning_attempts", "provisioned_at",
                       "created_at", "updated_at")
    exclude = ("provisioning_payload",)
    inlines = [DomainInline]


@admin.register(TenantEvent)
class TenantEventAdmin(admin.ModelAdmin):
    list_display = ("tenant", "kind", "from_status", "to_status", "actor", "at")
    list_filter = ("kind",)
    readonly_fields = [f.name for f in TenantEvent._meta.fields]
