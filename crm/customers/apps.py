from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "crm.customers"
    label = "customers"
    verbose_name = "Customers"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.org.services import on_tree_moved

        def reindex(*, kind: str, node_ids: list[int]) -> None:
            from .tasks import customers_scope_reindex_task

            customers_scope_reindex_task.delay(kind, node_ids)

        on_tree_moved(reindex)
