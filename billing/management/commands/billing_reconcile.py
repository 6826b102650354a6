"""Re-read every subscription that has a Stripe id and fix what drifted from Stripe."""

from django.core.management.base import BaseCommand
from django_tenants.utils import get_public_schema_name, schema_context


class Command(BaseCommand):
    help = "Re-read every Stripe subscription and fix local drift (--dry-run: only report)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report the drift, change nothing")

    def handle(self, *args, dry_run: bool = False, **options):
        from billing.services import subscriptions_reconcile

        with schema_context(get_public_schema_name()):
            report = subscriptions_reconcile(dry_run=dry_run)
            for sub, drift in report:
                who = f"{sub.tenant.slug} ({sub.stripe_subscription_id})"
                if isinstance(drift, str):
                    self.stderr.write(f"{who}: error: {drift}")
                    continue
                changes = ", ".join(f"{field}: {old!s} -> {new!s}" for field, (old, new) in sorted(drift.items()))
                self.stdout.write(f"{who}: {'would change' if dry_run else 'fixed'} {changes}")
            fixed = sum(1 for _sub, d in report if not isinstance(d, str))
            self.stdout.write(f"{fixed} subscription(s) {'drifted' if dry_run else 'fixed'}, "
                              f"{len(report) - fixed} error(s).")
