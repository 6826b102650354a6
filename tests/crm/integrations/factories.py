"""Building blocks of the integrations tests: a fake receiver behind httpx.MockTransport (no
network), and helpers that make endpoints and ERP clients through the services."""

from __future__ import annotations

import itertools
import json

import httpx

_serial = itertools.count(1)


class Receiver:
    """Records every request; answers from a queue of responses (status, body), exceptions
    (raised, e.g. httpx.ReadTimeout) or callables (request -> httpx.Response); 200 when the
    queue is empty."""

    def __init__(self):
        self.requests: list[httpx.Request] = []
        self.responses: list = []

    def answer(self, *responses) -> Receiver:
        self.responses.extend(responses)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0) if self.responses else (200, "ok")
        if isinstance(response, Exception):
            raise response
        if callable(response):
            return response(request)
        status, body = response
        return httpx.Response(status, text=body)

    def bodies(self) -> list[dict]:
        return [json.loads(r.content) for r in self.requests]

    def hosts(self) -> list[str]:
        return [r.url.host for r in self.requests]


def unique_url(host: str = "erp.example.com") -> str:
    return f"https://{host}/qiao/hooks/{next(_serial)}"
