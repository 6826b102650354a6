"""Request-scoped facts that audit rows carry (request id, client address, channel)."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditContext:
    via: str = "system"
    request_id: str = ""
    ip: str | None = None


_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar(
    "qiao_audit_context", default=AuditContext()  # noqa: B039 (frozen dataclass)
)


def current() -> AuditContext:
    return _current.get()


@contextmanager
def audit_context(**values):
    token = _current.set(AuditContext(**{**current().__dict__, **values}))
    try:
        yield
    finally:
        _current.reset(token)
