from django import template
from django.db import connection

from crm.activities import selectors

register = template.Library()


def _actor(context):
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if getattr(connection, "schema_name", "public") == "public":
        return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


@register.simple_tag(takes_context=True)
def unread_notification_count(context) -> int:
    """The number on the bell (0 on the public site and for anonymous visitors)."""
    actor = _actor(context)
    return selectors.notification_unread_count(actor=actor) if actor else 0


@register.simple_tag(takes_context=True)
def customer_activities(context, customer, limit=50) -> list:
    """A customer's timeline as the viewer may see it: newest first; empty if the viewer
    cannot see the customer."""
    actor = _actor(context)
    customer_id = getattr(customer, "pk", customer)
    if actor is None or not customer_id:
        return []
    return selectors.activity_timeline(actor=actor, customer_id=customer_id, limit=int(limit))


@register.filter
def customer_link(customer_id) -> str:
    """The customer page, or (while the customers app has none) its activities."""
    from django.urls import NoReverseMatch, reverse

    customer_id = getattr(customer_id, "pk", customer_id)
    try:
        return reverse("customers:detail", args=[customer_id])
    except NoReverseMatch:
        return f"{reverse('activities:list')}?customer={customer_id}"
