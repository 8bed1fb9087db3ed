"""One HTTP exchange over raw ASGI: read the body, answer JSON or bytes, or stream.

The gateway speaks ASGI directly rather than through a framework's request/response objects: a gateway call
is on the hot path, and each layer of objects per request costs throughput (bench/ measures it).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from modelyard.errors import InvalidRequestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
EVENT_STREAM = b"text/event-stream"


class PayloadTooLargeError(InvalidRequestError):
    """The request body is larger than the gateway accepts."""


class ClientDisconnectedError(Exception):
    """The caller went away; nothing more can be sent."""


class Exchange:
    __slots__ = ("headers", "receive", "request_id", "response_started", "scope", "send", "started")

    def __init__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.request_id = request_id
        self.started = time.perf_counter()
        self.response_started = False
        self.headers: dict[bytes, bytes] = {name.lower(): value for name, value in scope["headers"]}

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return value.decode("latin-1") if value is not None else None

    async def body(self, *, limit: int) -> bytes:
        declared = self.headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLargeError(f"the request body is larger than {limit // (1024 * 1024)} MB", field="body")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnectedError
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(f"the request body is larger than {limit // (1024 * 1024)} MB", field="body")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def json(self, *, limit: int) -> dict[str, Any]:
        if not (self.header(b"content-type") or "application/json").startswith("application/json"):
            raise InvalidRequestError("send the body as application/json", field="content-type")
        raw = await self.body(limit=limit)
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequestError(f"the body is not valid JSON: {exc}", field="body") from None
        if not isinstance(data, dict):
            raise InvalidRequestError("the body must be a JSON object", field="body")
        return data

    def overhead_ms(self, upstream_s: float = 0.0) -> bytes:
        return f"{max((time.perf_counter() - self.started - upstream_s) * 1000, 0.0):.3f}".encode()

    async def respond(
        self,
        status: int,
        body: bytes,
        *,
        content_type: bytes = JSON,
        headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    ) -> None:
        self.response_started = True
        await self.send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-request-id", self.request_id.encode()),
                    *headers,
                ],
            }
        )
        await self.send({"type": "http.response.body", "body": body})

    async def start_stream(self, *, content_type: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        self.response_started = True
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type),
                    (b"cache-control", b"no-cache"),
                    (b"x-request-id", self.request_id.encode()),
                    *headers,
                ],
            }
        )

    async def write(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": False})


async def until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def stream_until_disconnect(exchange: Exchange, produce: Callable[[], Awaitable[None]]) -> bool:
    """Run `produce` (which writes the stream) until it ends or the client disconnects; True if it ended.

    A disconnect cancels `produce`, so whatever it holds open upstream is closed: the provider stops
    generating for a caller who is gone.
    """
    producer = asyncio.ensure_future(produce())
    watcher = asyncio.ensure_future(until_disconnect(exchange.receive))
    try:
        done, _ = await asyncio.wait({producer, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (producer, watcher):
            if not task.done():
                task.cancel()
        for task in (producer, watcher):
            with contextlib.suppress(asyncio.CancelledError, ClientDisconnectedError, OSError):
                await task
    if producer in done:
        producer.result()  # re-raise what the producer raised
        return True
    return False
