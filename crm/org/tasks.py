"""Periodic work inside one tenant's schema (queued per tenant by tenants.fan_out)."""

from celery import shared_task
from django.db import connection
from django.db.models import Count, Max, Q

from tenants.services import tenant_usage_record

from .enums import UserKind
from .models import User


@shared_task(name="org.usage_report", soft_time_limit=60, time_limit=90, max_retries=3,
             default_retry_delay=30, acks_late=True)
def org_usage_report_task() -> dict:
    """Staff counts and the last sign-in of this tenant, for the operator console."""
    staff, partner = Q(kind=UserKind.STAFF), Q(kind=UserKind.PARTNER)
    figures = User.objects.aggregate(staff_total=Count("id", filter=staff),
                                     staff_active=Count("id", filter=staff & Q(is_active=True)),
                                     partner_users_total=Count("id", filter=partner),
                                     partner_users_active=Count("id", filter=partner & Q(is_active=True)),
                                     last_login=Max("last_login"))
    last_login = figures.pop("last_login")
    tenant_usage_record(schema_name=connection.schema_name, usage=figures, last_activity_at=last_login)
    return figures


@shared_task(name="org.data_export", soft_time_limit=1800, time_limit=1900, max_retries=2,
             default_retry_delay=60, acks_late=True)
def org_data_export_task(requested_by_id: int, base_url: str = "") -> str:
    """The tenant's full data export (crm.org.data_export), in this tenant's schema."""
    from .data_export import data_export_build

    return data_export_build(requested_by_id=requested_by_id, base_url=base_url).name
