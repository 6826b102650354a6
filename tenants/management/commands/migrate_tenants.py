import os
import sys

from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenants.migrations_runner import existing_schemas, migrate_schemas_parallel, pending_migrations
from tenants.models import Tenant


class Command(BaseCommand):
    help = ("Deploy-time migrations: the public schema, then every tenant schema (and the "
            "template) in parallel, skipping schemas with nothing pending. Failures are "
            "reported per schema and do not stop the rest; the exit status is 1 if any failed.")

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=max(os.cpu_count() or 1, 2))
        parser.add_argument("--schema", action="append", dest="schemas",
                            help="only these schemas (repeatable)")
        parser.add_argument("--skip-public", action="store_true")

    def handle(self, *args, workers, schemas, skip_public, verbosity, **options):
        out = self.stdout.write
        if not skip_public and pending_migrations("public"):
            out("public: migrating")
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity - 1 if verbosity else 0)
        elif not skip_public:
            out("public: up to date")
        qs = Tenant.objects.exclude(schema_name="public").exclude(status__in=["failed"])
        if schemas:
            qs = qs.filter(schema_name__in=schemas)
        names = list(qs.order_by("id").values_list("schema_name", flat=True))
        existing = set(existing_schemas(names))
        for missing in [n for n in names if n not in existing]:
            out(f"{missing}: no schema yet (provisioning?), skipped")
        names = [n for n in names if n in existing]
        results = migrate_schemas_parallel(names, workers=workers, report=out)
        failed = [r for r in results if not r.ok]
        out(f"done: {len(results) - len(failed)} migrated, {len(failed)} failed, "
            f"{len(names) - len(results)} skipped")
        if failed:
            sys.exit(1)
