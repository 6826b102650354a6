import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.modes import MODES
from tenants.selectors import tenant_base_url
from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create and provision a tenant synchronously (clone of the template schema)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--mode", required=True, choices=sorted(MODES))
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--admin-password", help="prompted for when omitted")
        parser.add_argument("--language", default="zh-hans")
        parser.add_argument("--plan", default="trial")
        parser.add_argument("--demo", action="store_true", help="load the mode's demo staff")

    def handle(self, *args, **o):
        password = o["admin_password"] or getpass.getpass("Admin password: ")
        try:
            tenant = tenant_create(name=o["name"], slug=o["slug"], mode=o["mode"],
                                   admin_email=o["admin_email"], admin_name=o["admin_name"],
                                   admin_password=password, language=o["language"],
                                   plan_code=o["plan"], demo=o["demo"], actor="command")
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        if tenant.status != "active":
            raise CommandError(f"provisioning failed: {tenant.provisioning_error}")
        self.stdout.write(self.style.SUCCESS(f"{tenant.slug} is ready at {tenant_base_url(tenant)}"))
