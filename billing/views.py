"""Stripe's webhook (public host). Thin: verify, store once, answer 2xx, process in a task."""

from __future__ import annotations

import logging

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import stripe_client
from .enums import StripeEventStatus
from .services import stripe_event_record

log = logging.getLogger(__name__)

MAX_BODY = 512 * 1024


@csrf_exempt
@require_POST
def stripe_webhook(request):
    body = request.body
    if len(body) > MAX_BODY:
        return JsonResponse({"detail": "payload too large"}, status=413)
    try:
        data = stripe_client.webhook_verify(body, request.headers.get("Stripe-Signature"))
    except stripe_client.SignatureError as exc:
        log.warning("stripe webhook refused: %s", exc)
        return JsonResponse({"detail": "invalid signature"}, status=400)
    event, created = stripe_event_record(data=data)
    if created or event.status in (StripeEventStatus.RECEIVED, StripeEventStatus.FAILED):
        from .tasks import stripe_event_process_task

        pk = event.pk
        transaction.on_commit(lambda: stripe_event_process_task.delay(pk))
    return JsonResponse({"received": True, "duplicate": not created})
