from django.contrib.postgres.fields import ArrayField
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

from .enums import TenantEventKind, TenantStatus


class TenantQuerySet(models.QuerySet):
    def real(self):
        """Every tenant but the data-free template schema."""
        return self.filter(is_template=False).exclude(schema_name="public")

    def active(self):
        return self.real().filter(status=TenantStatus.ACTIVE)

    def serving(self):
        """Tenants whose schema exists and answers requests (possibly read-only)."""
        return self.real().filter(status__in=[TenantStatus.ACTIVE, TenantStatus.SUSPENDED])


class Tenant(TenantMixin):
    """A company renting Qiao: one PostgreSQL schema."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True)
    modes = ArrayField(models.CharField(max_length=32), default=list, blank=True,
                       help_text="business-mode keys; the first is the primary mode")
    status = models.CharField(max_length=16, choices=TenantStatus.choices,
                              default=TenantStatus.PROVISIONING, db_index=True)
    status_reason = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=10, default="zh-hans")
    time_zone = models.CharField(max_length=64, default="Asia/Shanghai")
    currency = models.CharField(max_length=3, default="CNY")
    plan_code = models.CharField(max_length=32, default="trial")
    is_template = models.BooleanField(default=False)
    admin_email = models.EmailField(blank=True)
    admin_name = models.CharField(max_length=150, blank=True)
    # Only what provisioning still needs (e.g. the admin's password hash); emptied once done.
    provisioning_payload = models.JSONField(default=dict, blank=True)
    provisioning_error = models.TextField(blank=True)
    provisioning_attempts = models.PositiveIntegerField(default=0)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    usage = models.JSONField(default=dict, blank=True,
                             help_text="figures reported by the tenant's periodic usage task")
    last_activity_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Schemas are created by tenants.services (clone of the template), never by save().
    auto_create_schema = False
    auto_drop_schema = False

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def primary_mode(self) -> str | None:
        return self.modes[0] if self.modes else None

    def is_writable(self) -> bool:
        return self.status == TenantStatus.ACTIVE


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class TenantEvent(models.Model):
    """The lifecycle history of a tenant (public schema), newest first."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=TenantEventKind.choices)
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    actor = models.CharField(max_length=200, blank=True, help_text="who did it (email or 'system')")
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"
