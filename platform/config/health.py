"""`/healthz` on every host: is the database and Redis reachable? 200 or 503."""

import time

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse


def health_status() -> tuple[bool, dict]:
    checks = {}
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    started = time.perf_counter()
    try:
        client = cache._cache.get_client(write=True)  # the Redis client behind the cache
        client.ping()
        checks["redis"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:
        checks["redis"] = {"ok": False, "error": type(exc).__name__}
    return all(c["ok"] for c in checks.values()), checks


class HealthCheckMiddleware:
    """Answers /healthz before tenant routing, so it works on every host."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != "/healthz":
            return self.get_response(request)
        ok, checks = health_status()
        return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks},
                            status=200 if ok else 503)
