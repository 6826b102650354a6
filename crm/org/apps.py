from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "crm.org"
    label = "org"
    verbose_name = "Organisation"
    default_auto_field = "django.db.models.BigAutoField"
