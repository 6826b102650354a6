"""Deployment knobs of the integrations, read from Django settings with defaults here (a
settings module may set any of them; none is required):

``QIAO_WEBHOOK_RETRY_SCHEDULE``  seconds to wait after the 1st, 2nd, ... failed attempt
                                 (default 1 min, 5 min, 30 min, 2 h, 6 h, 12 h);
``QIAO_WEBHOOK_MAX_ATTEMPTS``    attempts before a delivery is dead (default: one more than
                                 the schedule has steps, i.e. 7);
``QIAO_WEBHOOK_JITTER``          each wait is stretched by a random 0..JITTER share (0.2);
``QIAO_WEBHOOK_CONNECT_TIMEOUT`` / ``QIAO_WEBHOOK_READ_TIMEOUT``  seconds (5 / 10);
``QIAO_WEBHOOK_QUEUE``           the Celery queue of deliveries ("default"; a deployment may
                                 give webhooks their own workers with ``-Q webhooks``);
``QIAO_WEBHOOK_ALLOW_LOCAL_HTTP`` plain http to localhost / 127.0.0.1 (default: DEBUG);
``QIAO_WEBHOOK_SECRET_GRACE_HOURS`` how long a rotated-out secret still signs (24);
``QIAO_WEBHOOK_SIGNATURE_TOLERANCE`` seconds a receiver should accept a timestamp (300);
``QIAO_WEBHOOK_PROXY``           an outbound HTTP(S) proxy URL for deliveries (none; the
                                 process environment's proxy variables are ignored).
"""

from __future__ import annotations

from django.conf import settings

DEFAULT_RETRY_SCHEDULE = (60, 300, 1800, 7200, 21600, 43200)
LEASE_SECONDS = 120  # an attempt in flight holds its delivery this long (timeouts are far shorter)
RESPONSE_EXCERPT_BYTES = 1024
MAX_REDIRECTS = 3
SWEEP_BATCH = 2000
QUEUE_ON_COMMIT_MAX = 200  # a bigger burst is left to the sweep (one minute at most)
ERP_LAST_USED_RESOLUTION = 60  # seconds: last_used_at is written at most this often


def _get(name: str, default):
    return getattr(settings, name, default)


def retry_schedule() -> tuple[int, ...]:
    return tuple(int(s) for s in _get("QIAO_WEBHOOK_RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE))


def max_attempts() -> int:
    return int(_get("QIAO_WEBHOOK_MAX_ATTEMPTS", len(retry_schedule()) + 1))


def jitter() -> float:
    return float(_get("QIAO_WEBHOOK_JITTER", 0.2))


def timeouts() -> tuple[float, float]:
    return float(_get("QIAO_WEBHOOK_CONNECT_TIMEOUT", 5)), float(_get("QIAO_WEBHOOK_READ_TIMEOUT", 10))


def queue() -> str:
    return str(_get("QIAO_WEBHOOK_QUEUE", "default"))


def allow_local_http() -> bool:
    return bool(_get("QIAO_WEBHOOK_ALLOW_LOCAL_HTTP", settings.DEBUG))


def secret_grace_hours() -> int:
    return int(_get("QIAO_WEBHOOK_SECRET_GRACE_HOURS", 24))


def signature_tolerance() -> int:
    return int(_get("QIAO_WEBHOOK_SIGNATURE_TOLERANCE", 300))


def proxy() -> str | None:
    return _get("QIAO_WEBHOOK_PROXY", None) or None
