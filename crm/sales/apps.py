from django.apps import AppConfig


class SalesConfig(AppConfig):
    name = "crm.sales"
    label = "sales"
    verbose_name = "Sales"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.customers import links

        from . import panels, services
        from .approval import register_quote_document

        register_quote_document()

        links.register(links.CustomerLink(key="opportunities", ids_of=services.unscoped_opportunity_ids_of_customer,
                                          move=services.opportunities_move_to_customer))
        links.register(links.CustomerLink(key="quotes", ids_of=services.unscoped_quote_ids_of_customer,
                                          move=services.quotes_move_to_customer))
        links.register_panel(links.CustomerPanel(key="sales", template="sales/_customer_panel.html",
                                                 context=panels.customer_deals_panel, order=10))
