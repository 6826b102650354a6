"""``manage.py analytics_rebuild [--schema S] [--since YYYY-MM-DD]``: recompute the sales
facts of the dashboard from the orders, shipments and payments (backfill after an upgrade or an
import, repair of drift). Without --schema: every active tenant, one after the other."""

from __future__ import annotations

import datetime

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, schema_context

from crm.analytics.services import sales_facts_rebuild


class Command(BaseCommand):
    help = __doc__.splitlines()[0].split(": ", 1)[-1]

    def add_arguments(self, parser):
        parser.add_argument("--schema", help="one tenant's schema (default: every active tenant)")
        parser.add_argument("--since", help="only the days from this date on (YYYY-MM-DD); default: all")

    def handle(self, *args, schema=None, since=None, **options):
        from tenants.models import Tenant

        try:
            day = datetime.date.fromisoformat(since) if since else None
        except ValueError:
            raise CommandError("--since: a date YYYY-MM-DD") from None
        with schema_context(get_public_schema_name()):
            tenants = Tenant.objects.active()
            if schema:
                tenants = Tenant.objects.filter(schema_name=schema)
            schemas = list(tenants.values_list("schema_name", flat=True))
        if schema and not schemas:
            raise CommandError(f"no tenant with the schema {schema!r}")
        for name in schemas:
            with schema_context(name):
                run = sales_facts_rebuild(since=day)
            figures = ", ".join(f"{kind} {v['rows']} rows {v['amount']}" for kind, v in run.after.items())
            self.stdout.write(f"{name}: {figures}")
