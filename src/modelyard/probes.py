"""What load balancers and scrapers ask, answered without the console's framework: /health/live, /health/ready and
/metrics.

The console (FastAPI, its routes and schemas, ≈ 14 MB) is built on its first request (server.py); these three are
asked every few seconds in any deployment, so they are answered here, in raw ASGI, and the console is never loaded
for them. Only what succeeds is answered here: anything else (a wrong metrics token, HEAD, another method) goes on
to the console, which has the documented routes, the error envelope and the OpenAPI entries.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from modelyard.services.context import Services
from modelyard.store.cache import RedisCache

Scope = MutableMapping[str, Any]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

READY_TIMEOUT_S = 2.0
_JSON = b"application/json"


async def unready_detail(services: Services) -> str | None:
    """None when the database answers (and Redis, when configured) within READY_TIMEOUT_S; else why not."""
    try:
        async with asyncio.timeout(READY_TIMEOUT_S):
            async with services.db() as session:
                await session.execute(text("SELECT 1"))
            if isinstance(services.cache, RedisCache):
                await services.cache.client.ping()
    except Exception as exc:  # any failure means: do not send traffic here
        return f"{type(exc).__name__}: not reachable" if not isinstance(exc, TimeoutError) else "timed out"
    return None


def metrics_text(registry: CollectorRegistry) -> bytes:
    """The Prometheus exposition of this process's registry, or of every worker's with `serve --workers N`."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def metrics_token_sent(expected: str | None, authorization: str | None) -> bool:
    """True when no metrics token is configured, or `authorization` is `Bearer <the token>`."""
    if expected is None:
        return True
    scheme, _, sent = (authorization or "").partition(" ")
    # compare_digest: how long the comparison takes says nothing of how much of a guess was right
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), expected.encode())


class Probes:
    """Answers a GET of /health/live, /health/ready or /metrics that succeeds; says False for anything else."""

    PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})

    def __init__(self, services: Services, registry: CollectorRegistry) -> None:
        self.services = services
        self.registry = registry

    async def answer(self, scope: Scope, send: Send) -> bool:
        path = scope["path"]
        if path not in self.PATHS or scope["method"] != "GET":
            return False
        if path == "/health/live":
            await _respond(send, 200, _JSON, orjson.dumps({"status": "ok", "detail": None}))
        elif path == "/health/ready":
            detail = await unready_detail(self.services)
            status = 200 if detail is None else 503
            body = {"status": "ok" if detail is None else "unavailable", "detail": detail}
            await _respond(send, status, _JSON, orjson.dumps(body))
        else:
            if not metrics_token_sent(self.services.settings.metrics_token, _header(scope, b"authorization")):
                return False  # the console answers its 401, in its envelope
            await _respond(send, 200, CONTENT_TYPE_LATEST.encode(), metrics_text(self.registry))
        return True


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _respond(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
