from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = "Operator console"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The tenant side of support access reports to the operator log through a signal, so
        # that the domain (crm) never imports the console.
        from crm.org.support_access import support_access_event

        support_access_event.connect(_support_event, dispatch_uid="console.support_event")


def _support_event(sender, **kwargs):
    from .services import support_event_record

    kwargs.pop("signal", None)
    support_event_record(**kwargs)
