from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "crm.orders"
    label = "orders"
    verbose_name = "Orders"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The "order" document type of the approval engine (crm.approvals.registry): its facts
        # and the callbacks that move the order when its approval ends.
        from .approval import register_order_document

        register_order_document()

        from crm.customers import links

        from . import panels, services

        links.register(links.CustomerLink(key="orders", ids_of=services.unscoped_order_ids_of_customer,
                                          move=services.orders_move_to_customer))
        links.register_panel(links.CustomerPanel(key="orders", template="orders/_customer_panel.html",
                                                 context=panels.customer_orders_panel, order=20))

        from crm.integrations.enums import InboundKind
        from crm.integrations.inbound import register_inbound_handler

        register_inbound_handler(InboundKind.SHIPMENT, services.erp_shipment_apply)
