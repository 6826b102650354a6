import uuid

from .context import AuditContext, _current


class AuditContextMiddleware:
    """Tags every audit row written during a request with its id, address and channel."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        via = "api" if request.path.startswith("/api/") else "web"
        token = _current.set(AuditContext(via=via, request_id=request_id[:64],
                                          ip=request.META.get("REMOTE_ADDR") or None))
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response["X-Request-ID"] = request_id[:64]
        return response
