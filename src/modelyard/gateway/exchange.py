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

from modelyard.errors import InvalidRequestError, ModelyardError

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


class ServerStoppingError(ModelyardError):
    """The service is stopping and could not finish this call within its drain time; another replica can."""


class Exchange:
    """One request and its answer; `watching()` runs work that the caller's disconnect or a server stop cancels."""

    __slots__ = (
        "_watcher",
        "_watches",
        "disconnected",
        "headers",
        "receive",
        "request_id",
        "response_started",
        "scope",
        "send",
        "started",
        "stop_error",
    )

    def __init__(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        self.scope = scope
        self.receive = receive
        self.send = send
        self.request_id = request_id
        self.started = time.perf_counter()
        self.response_started = False
        self.headers: dict[bytes, bytes] = {name.lower(): value for name, value in scope["headers"]}
        self.disconnected = False
        self.stop_error: ServerStoppingError | None = None
        self._watcher: asyncio.Future[Message] | None = None
        self._watches: list[_Watch] = []

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
                self.watch_client()  # the body is read: from now on, the receive channel only says if the caller left
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
        if self.disconnected:
            raise ClientDisconnectedError
        self.close()  # the answer is ready: a disconnect from now on cuts nothing short
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
        if self.disconnected:
            raise ClientDisconnectedError
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
        if self.disconnected:
            raise ClientDisconnectedError
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, data: bytes = b"") -> None:
        if self.disconnected:
            raise ClientDisconnectedError
        self.close()
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    # --- the caller's disconnect and the server's stop ------------------------------------------------------------

    def watch_client(self) -> None:
        """Start listening for the caller's disconnect; call it once the request body is read (`body()` does)."""
        if self._watcher is None:
            self._listen()

    def watching(self) -> _Watch:
        """`async with exchange.watching():` the block is cancelled at once if the caller disconnects or the server
        stops the exchange, and then raises ClientDisconnectedError or ServerStoppingError.

        Cancelling the block (the task running it, as `asyncio.timeout` does) rather than racing a second task costs
        one listening task per exchange, and whatever the block awaits (an upstream call, a stream) is closed by
        the cancellation: the provider stops working for a caller who is gone. Blocks nest; the innermost is cut.
        """
        return _Watch(self)

    def stop(self, error: ServerStoppingError) -> None:
        """End the exchange's work now: the block it runs raises `error` (a stream sends it as its last event)."""
        if self.stop_error is None:
            self.stop_error = error
            self._interrupt()

    def close(self) -> None:
        """Stop listening; called once the exchange is over."""
        if self._watcher is not None and not self._watcher.done():
            self._watcher.cancel()

    def _listen(self) -> None:
        # A callback on the pending receive, not a task looping on it: granian's receive() is already a future,
        # so listening costs no task there (uvicorn's is a coroutine, wrapped in one).
        waiter = asyncio.ensure_future(self.receive())
        waiter.add_done_callback(self._heard)
        self._watcher = waiter

    def _heard(self, waiter: asyncio.Future[Message]) -> None:
        if waiter.cancelled():
            return
        error = waiter.exception()
        if error is None and waiter.result()["type"] != "http.disconnect":
            self._listen()  # nothing else is expected once the body is read, but a server may say more
            return
        self.disconnected = True  # an error too: the server has no more to say about this connection
        self._interrupt()

    def _interrupt(self) -> None:
        if self._watches and not self._watches[-1].is_cut:
            self._watches[-1].cut()


class _Watch:
    """One `Exchange.watching()` block: like `asyncio.timeout`, it cancels its task and turns that into an error."""

    __slots__ = ("_cancelling", "_exchange", "_task", "is_cut")

    def __init__(self, exchange: Exchange) -> None:
        self._exchange = exchange
        self.is_cut = False

    async def __aenter__(self) -> None:
        exchange = self._exchange
        if exchange.stop_error is not None:
            raise exchange.stop_error
        if exchange.disconnected:
            raise ClientDisconnectedError
        task = asyncio.current_task()
        if task is None:  # not run by an asyncio task (a server's own task type): nothing can cut it short
            return
        self._task = task
        self._cancelling = task.cancelling()
        exchange._watches.append(self)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        if self not in self._exchange._watches:
            return
        self._exchange._watches.remove(self)
        # Ours only when no one else cancelled the task too (a server shutting down cancels it as well).
        if self.is_cut and self._task.uncancel() <= self._cancelling and kind is asyncio.CancelledError:
            raise self._exchange.stop_error or ClientDisconnectedError() from None

    def cut(self) -> None:
        self.is_cut = True
        self._task.cancel()


class InFlight:
    """The exchanges a gateway is answering; at shutdown, `drain` lets them finish for a while, then stops them."""

    __slots__ = ("_exchanges", "_idle")

    def __init__(self) -> None:
        self._exchanges: set[Exchange] = set()
        self._idle: asyncio.Event | None = None  # made by `drain` only: the hot path sets nothing

    def __len__(self) -> int:
        return len(self._exchanges)

    def add(self, exchange: Exchange) -> None:
        self._exchanges.add(exchange)

    def discard(self, exchange: Exchange) -> None:
        self._exchanges.discard(exchange)
        if self._idle is not None and not self._exchanges:
            self._idle.set()

    async def drain(self, timeout_s: float, *, grace_s: float = 5.0) -> int:
        """Wait up to `timeout_s` for the exchanges to end, then stop those left (streams end with an error event,
        JSON calls answer 503) and wait up to `grace_s` for them to say so; returns how many were stopped."""
        if not await self._idle_within(timeout_s):
            stopped = list(self._exchanges)
            for exchange in stopped:
                exchange.stop(ServerStoppingError(f"the service is stopping; the call did not end in {timeout_s:g} s"))
            await self._idle_within(grace_s)
            return len(stopped)
        return 0

    async def _idle_within(self, timeout_s: float) -> bool:
        if not self._exchanges:
            return True
        self._idle = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        return not self._exchanges


async def stream_until_disconnect(exchange: Exchange, produce: Callable[[], Awaitable[None]]) -> bool:
    """Run `produce` (which writes the stream) until it ends or the client disconnects; True if it ended.

    A disconnect cancels `produce`, so whatever it holds open upstream is closed: the provider stops generating for
    a caller who is gone. A server stop raises ServerStoppingError from here; what `produce` raises is raised too.
    """
    exchange.watch_client()  # the request body has been read by now
    try:
        async with exchange.watching():
            await produce()
    except ClientDisconnectedError:
        return False
    return True
