"""Inbound message kinds plug in here: the app that owns the business rule registers the
function that applies a message of its kind, usually in its ``AppConfig.ready``::

    from crm.integrations.inbound import register_inbound_handler

    def apply_shipment(payload: dict, *, context) -> dict:
        # payload: the JSON object the ERP posted (external_id included), already checked
        #          to be an object with a valid external_id; check the rest here.
        # context: InboundContext (client_id, client_name, external_id, message_id).
        # Runs inside the transaction that records the message: raise ValidationError to
        # refuse it (422, stored as rejected; the ERP may send the same external id again
        # once fixed); return a JSON-able dict, the result the ERP gets now and on every
        # retry of the same message. Return None to accept it for later processing and call
        # crm.integrations.services.inbound_message_settle when done.
        # Act as the system (actor=None) and name the ERP in notes (context.describe()).
        ...

    register_inbound_handler("shipment", apply_shipment)   # kinds: enums.InboundKind

Until a kind has a handler, its endpoint answers 501 and stores nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InboundContext:
    client_id: int
    client_name: str
    external_id: str
    message_id: int

    def describe(self) -> str:
        return f"ERP {self.client_name} #{self.external_id}"


Handler = Callable[..., dict[str, Any] | None]  # handler(payload, *, context) -> result | None

_HANDLERS: dict[str, Handler] = {}


def register_inbound_handler(kind: str, handler: Handler) -> Handler:
    """Register (or replace, e.g. on autoreload) the handler of an inbound kind."""
    from .enums import InboundKind

    if kind not in InboundKind.values:
        raise ValueError(f"unknown inbound kind {kind!r}; add it to crm.integrations.enums.InboundKind")
    if not callable(handler):
        raise TypeError("an inbound handler is a callable: handler(payload, *, context)")
    _HANDLERS[kind] = handler
    return handler


def unregister_inbound_handler(kind: str) -> None:
    _HANDLERS.pop(kind, None)


def inbound_handler_get(kind: str) -> Handler | None:
    return _HANDLERS.get(kind)
