from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "crm.finance"
    label = "finance"
    verbose_name = "Finance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A customer merge moves the duplicate's invoices and payments (and its undo moves
        # them back); the customer's 360° page shows its receivables.
        from crm.customers import links

        from . import panels, services

        links.register(links.CustomerLink(key="invoices", ids_of=services.unscoped_invoice_ids_of_customer,
                                          move=services.invoices_move_to_customer))
        links.register(links.CustomerLink(key="payments", ids_of=services.unscoped_payment_ids_of_customer,
                                          move=services.payments_move_to_customer))
        links.register_panel(links.CustomerPanel(key="receivables", template="finance/_customer_panel.html",
                                                 context=panels.customer_receivables_panel, order=25))

        # The ERP reports payments it received (POST /api/v1/erp/payments).
        from crm.integrations.enums import InboundKind
        from crm.integrations.inbound import register_inbound_handler

        register_inbound_handler(InboundKind.PAYMENT, services.erp_payment_apply)
