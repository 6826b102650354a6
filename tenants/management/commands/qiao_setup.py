from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from tenants.demo import DEMO_PASSWORD, demo_logins, demo_operator_ensure, demo_tenants_ensure
from tenants.services import tenant_public_ensure, tenant_template_ensure


class Command(BaseCommand):
    help = ("Bring a database up to date: migrate the public schema, ensure the public host "
            "and the template schema, migrate every tenant (in parallel, skipping those with "
            "nothing pending) and, with --demo, create the demo tenants and print their logins.")

    def add_arguments(self, parser):
        parser.add_argument("--demo", action="store_true")
        parser.add_argument("--demo-password", default=DEMO_PASSWORD)

    def handle(self, *args, demo, demo_password, verbosity, **options):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        tenant_public_ensure()
        tenant_template_ensure()
        call_command("migrate_tenants", skip_public=True, verbosity=verbosity)
        if demo:
            tenants = demo_tenants_ensure(password=demo_password)
            self.stdout.write("")
            self.stdout.write("Demo logins (one per line):")
            for login in demo_logins(tenants, password=demo_password):
                self.stdout.write(f"  {login.url}  {login.role:<20} {login.email:<36} password: {login.password}")
            operator = demo_operator_ensure(password=demo_password)
            port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
            console = f"{settings.SITE_SCHEME}://{settings.BASE_DOMAIN}{port}/console/login/"
            self.stdout.write(f"  {console}  {'operator':<20} {operator:<36} "
                              f"password: {demo_password}  (enrol a TOTP app at the first sign-in)")
