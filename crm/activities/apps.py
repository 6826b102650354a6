from django.apps import AppConfig


class ActivitiesConfig(AppConfig):
    name = "crm.activities"
    label = "activities"
    verbose_name = "Activities"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from crm.customers import links

        from . import selectors, services

        links.register(links.CustomerLink(
            key="activities",
            ids_of=lambda customer_id: selectors.unscoped_activity_ids_of_customer(customer_id=customer_id),
            move=lambda *, ids, customer_id, actor: services.activities_move_to_customer(
                activity_ids=ids, customer_id=customer_id, actor=actor)))
        links.register(links.CustomerLink(
            key="tasks",
            ids_of=lambda customer_id: selectors.unscoped_task_ids_of_customer(customer_id=customer_id),
            move=lambda *, ids, customer_id, actor: services.tasks_move_to_customer(
                task_ids=ids, customer_id=customer_id, actor=actor)))
