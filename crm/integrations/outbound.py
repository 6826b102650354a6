"""The one place that makes outbound webhook requests (httpx): timeouts, no redirects to
other hosts, a bounded response excerpt. Tests swap the transport (``transport_override``)
so nothing reaches the network."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from . import conf

USER_AGENT = "Qiao-Webhooks/1"
FOLLOWED_REDIRECTS = (307, 308)  # they keep the method and the body (a 301/302/303 would not)

_transport: httpx.BaseTransport | None = None


@contextmanager
def transport_override(transport: httpx.BaseTransport):
    """Send every webhook through ``transport`` (e.g. httpx.MockTransport) inside the block."""
    global _transport
    previous, _transport = _transport, transport
    try:
        yield transport
    finally:
        _transport = previous


@dataclass
class HttpResult:
    status_code: int | None
    error: str
    excerpt: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def excerpt_of(content: bytes, limit: int = conf.RESPONSE_EXCERPT_BYTES) -> str:
    """The first ``limit`` bytes of a response, as text (a cut multi-byte character dropped)."""
    return content[:limit].decode("utf-8", errors="ignore")


def _read_limited(response: httpx.Response, limit: int) -> bytes:
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit]


def post(url: str, *, body: bytes, headers: dict[str, str]) -> HttpResult:
    """POST ``body`` to ``url``. Follows at most a few 307/308 redirects, and only to the
    same scheme, host and port; any other redirect is a failure that names its target.
    Never raises for network trouble: the error is in the result."""
    connect, read = conf.timeouts()
    timeout = httpx.Timeout(connect=connect, read=read, write=read, pool=connect)
    started = time.monotonic()
    status_code, error, excerpt = None, "", ""
    kwargs: dict = {"transport": _transport} if _transport is not None else {"proxy": conf.proxy()}
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                          headers={"User-Agent": USER_AGENT}, **kwargs) as client:
            target = url
            for _hop in range(conf.MAX_REDIRECTS + 1):
                with client.stream("POST", target, content=body, headers=headers) as response:
                    status_code = response.status_code
                    excerpt = excerpt_of(_read_limited(response, conf.RESPONSE_EXCERPT_BYTES))
                    location = response.headers.get("location", "")
                if not (300 <= status_code < 400):
                    break
                next_url = urljoin(target, location) if location else ""
                if status_code not in FOLLOWED_REDIRECTS or not next_url or _origin(next_url) != _origin(target):
                    error = f"redirect {status_code} to {next_url or '(no location)'} not followed"
                    break
                target = next_url
            else:
                error = f"more than {conf.MAX_REDIRECTS} redirects"
    except httpx.ConnectTimeout:
        error = f"connect timeout ({connect:g} s)"
    except httpx.ReadTimeout:
        error = f"read timeout ({read:g} s)"
    except httpx.TimeoutException as exc:
        error = f"timeout: {type(exc).__name__}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    duration_ms = int((time.monotonic() - started) * 1000)
    return HttpResult(status_code=status_code, error=error[:500], excerpt=excerpt, duration_ms=duration_ms)
