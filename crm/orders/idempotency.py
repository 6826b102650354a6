"""Idempotency keys for API writes, in the manner of Stripe: a client that may retry a request
(a timeout, a lost connection) sends a header ``Idempotency-Key: <unique value>``.

* The first request with a key runs and, when it succeeds (2xx), its status and body are
  stored with the key, the actor, the method and path and a hash of the body.
* The same key again with the same method, path and body gets that first response back
  (status and body, plus ``Idempotent-Replayed: true``), without running again.
* The same key with another body (or for another endpoint) is refused with 422.
* A request that fails (4xx, or an error) stores nothing: nothing happened, and the client
  may retry it, fixed or not, with the same key.
* Two identical requests at the same moment: the key is claimed with an INSERT ... ON
  CONFLICT DO NOTHING in the same transaction as the work, so the second waits on the unique
  index until the first commits, then replays its response (one creation, never two). If
  the first fails, the second runs.

Keys are per actor (a key of one user means nothing for another) and per tenant (the table
is in the tenant's schema). Records older than a few days are purged by a periodic task.

Use on any DRF view method whose actor is ``request.user`` (StaffApiView here; the partner
portal's views the same way)::

    class OrderListApi(StaffApiView):
        @extend_schema(parameters=[IDEMPOTENCY_HEADER], ...)
        @idempotent
        def post(self, request): ...

or mix ``IdempotentPostMixin`` into the view class to make its ``post`` idempotent.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
IDEMPOTENCY_HEADER = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False,
    description="A unique value per intended operation (e.g. a UUID). Retrying with the same key and body "
                "returns the first response; the same key with a different body is refused with 422.")


class _Discard(Exception):
    """Unwinds the transaction of a request whose response is not to be stored."""

    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def body_fingerprint(request) -> str:
    """A hash of the request body as parsed (key order and whitespace do not matter)."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart): files by name and size
        data = {key: [value if isinstance(value, str) else f"{getattr(value, 'name', '')}:{getattr(value, 'size', '')}"
                      for value in values] for key, values in data.lists()}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def idempotency_claim(*, actor, key: str, method_path: str, body_hash: str) -> tuple[bool, IdempotencyRecord]:
    """Claim ``key`` for ``actor`` in the current transaction: (True, the new record), or
    (False, the record another request made, committed). Waits while another transaction
    holds an uncommitted claim of the same key."""
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, actor_id, method_path, body_hash, created_at) "  # noqa: S608 (our table)
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (actor_id, key) DO NOTHING RETURNING id",
            [key, actor.pk, method_path[:300], body_hash, timezone.now()])
        row = cursor.fetchone()
    if row is not None:
        return True, IdempotencyRecord(pk=row[0], key=key, actor_id=actor.pk, method_path=method_path[:300],
                                       body_hash=body_hash)
    return False, IdempotencyRecord.objects.get(actor_id=actor.pk, key=key)


def idempotency_store(*, record: IdempotencyRecord, response) -> None:
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    IdempotencyRecord.objects.filter(pk=record.pk).update(response_status=response.status_code, response_body=body)


def idempotency_purge(*, days: int = 7) -> int:
    cutoff = timezone.now() - datetime.timedelta(days=days)
    deleted, _per_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _mismatch(record: IdempotencyRecord, method_path: str) -> Response:
    if record.method_path != method_path:
        detail = _("Idempotency-Key 已用于另一个接口（%(other)s），请为这个请求使用新的 Key。") % {
            "other": record.method_path}
    else:
        detail = _("Idempotency-Key 已用于内容不同的另一个请求；重试时请发送与第一次完全相同的内容，或换一个新的 Key。")
    return Response({"detail": detail, "code": "idempotency_key_reused"},
                    status=status.HTTP_422_UNPROCESSABLE_ENTITY)


def idempotent(handler):
    """Make a DRF view method idempotent under the ``Idempotency-Key`` header (see above)."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        raw = request.headers.get(HEADER)
        if raw is None:
            return handler(view, request, *args, **kwargs)
        key = raw.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            return Response({"detail": _("Idempotency-Key 应为 1 到 %(n)s 个字符。") % {"n": MAX_KEY_LENGTH},
                             "code": "invalid_idempotency_key"}, status=status.HTTP_400_BAD_REQUEST)
        method_path = f"{request.method} {request.path}"
        fingerprint = body_fingerprint(request)
        try:
            with transaction.atomic():
                created, record = idempotency_claim(actor=request.user, key=key, method_path=method_path,
                                                    body_hash=fingerprint)
                if not created:
                    if record.method_path != method_path[:300] or record.body_hash != fingerprint:
                        return _mismatch(record, method_path)
                    if record.response_status is None:  # pragma: no cover - claims commit with their response
                        return Response({"detail": _("相同 Idempotency-Key 的请求仍在处理中，请稍后重试。"),
                                         "code": "idempotency_in_progress"}, status=status.HTTP_409_CONFLICT)
                    return Response(record.response_body, status=record.response_status,
                                    headers={"Idempotent-Replayed": "true"})
                response = handler(view, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    raise _Discard(response)
                idempotency_store(record=record, response=response)
                return response
        except _Discard as discard:
            return discard.response

    wrapper.idempotent = True
    return wrapper


class IdempotentPostMixin:
    """Mixed into a DRF view class: its ``post`` honours ``Idempotency-Key``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        post = cls.__dict__.get("post")
        if post is not None and not getattr(post, "idempotent", False):
            cls.post = idempotent(post)
