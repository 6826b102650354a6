from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "crm.integrations"
    label = "integrations"
    verbose_name = "Integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The inbound kinds this app applies itself (stock levels through crm.catalog).
        from .stock import register_builtin_handlers

        register_builtin_handlers()
