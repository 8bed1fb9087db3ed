"""Recording what a route answers, and sending a recorded answer again: what Idempotency-Key replay
(gateway/idempotency.py) and the response cache (gateway/cache.py) share.

Both read the request body before the route runs (its fingerprint or cache key decides whether the route runs at
all), hand the route that same body, copy what it sends while it goes to the client (`Recorder`), and later answer
a repeat with the copy (`replay`) without calling the upstream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from modelyard.gateway.exchange import ClientDisconnectedError, Exchange, Message, PayloadTooLargeError, Receive, Send
from modelyard.gateway.metrics import Metrics
from modelyard.services.recorded import StoredAnswer
from modelyard.types import Usage

BODY_LIMIT = 64 * 1024 * 1024  # the largest body a route accepts (an audio upload); each route checks its own
# Headers of one exchange: a replay answers them for itself.
OWN_HEADERS = frozenset({"x-request-id", "request-id", "x-modelyard-overhead-ms"})

Run = Callable[[Metrics], Awaitable[None]]  # the route's handler, reporting to the metrics given
AnswerError = Callable[[Exchange, BaseException], Awaitable[None]]


async def read_body(exchange: Exchange) -> bytes:
    """The whole body, read before the route runs; the route reads it again through `replaying`."""
    declared = exchange.headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > BODY_LIMIT:
        raise PayloadTooLargeError(f"the request body is larger than {BODY_LIMIT // (1024 * 1024)} MB", field="body")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await exchange.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnectedError
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_LIMIT:
            raise PayloadTooLargeError(
                f"the request body is larger than {BODY_LIMIT // (1024 * 1024)} MB", field="body"
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """The route reads the body already read; later reads wait for the client's disconnect, as before."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def raising(error: Exception) -> Receive:
    """A receive channel that raises `error`: the route's first read of the body does, so the route answers it in
    its own error shape (Anthropic's on /v1/messages)."""

    async def refuse() -> Message:
        raise error

    return refuse


async def answering_errors(run: Run, metrics: Metrics, exchange: Exchange, answer_error: AnswerError) -> None:
    """Run the route. An error it raises is answered here, so that the answer is sent (and recorded) before the
    recording is finished, then raised again for the gateway to count; the gateway sends nothing once an answer has
    started."""
    try:
        await run(metrics)
    except ClientDisconnectedError:
        raise
    except Exception as exc:
        await answer_error(exchange, exc)
        raise


async def replay(exchange: Exchange, answer: StoredAnswer, extra: Iterable[tuple[bytes, bytes]]) -> None:
    """Send a recorded answer as this exchange's own (its request id, its overhead), with `extra` headers.

    A stream goes as its assembled events in one piece: an event-stream reader sees the same events, in order.
    """
    own = {"x-request-id": exchange.request_id, "request-id": exchange.request_id}
    headers = []
    for name, value in answer.headers:
        if name in OWN_HEADERS:
            value = exchange.overhead_ms().decode() if name == "x-modelyard-overhead-ms" else own[name]
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    headers.extend(extra)
    exchange.response_started = True
    await exchange.send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await exchange.send({"type": "http.response.body", "body": answer.body})


class Recorder:
    """Passes what the route sends on to the client, keeping a copy up to `max_bytes` of body."""

    __slots__ = ("_chunks", "_drop", "_max_bytes", "_send", "_size", "complete", "headers", "spoiled", "status")

    def __init__(self, send: Send, *, max_bytes: int, drop_headers: frozenset[str] = frozenset()) -> None:
        self._send = send
        self._max_bytes = max_bytes
        self._drop = drop_headers  # headers sent but not kept (the cache's own hit|miss)
        self._chunks: list[bytes] = []
        self._size = 0
        self.status = 0
        self.headers: tuple[tuple[str, str], ...] = ()
        self.complete = False
        self.spoiled = False  # the route reported an error after its answer began: a stream ended by an error event

    async def send(self, message: Message) -> None:
        await self._send(message)
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = tuple(
                (name, value)
                for name, value in (
                    (bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
                    for name, value in message.get("headers", ())
                )
                if name not in self._drop
            )
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if chunk and self._size <= self._max_bytes:
                self._size += len(chunk)
                self._chunks.append(chunk)
            if not message.get("more_body", False):
                self.complete = True

    def answer(self) -> StoredAnswer | None:
        """The answer as sent, if it was sent whole, without an error after it began, and within the bound; which
        statuses are worth keeping is the caller's choice."""
        if not self.complete or self.spoiled or self._size > self._max_bytes:
            return None
        return StoredAnswer(self.status, self.headers, b"".join(self._chunks))


class WatchedMetrics(Metrics):
    """The gateway's metrics for one call, noting an error the route reports once its answer has begun (a stream
    that ended in an error event): that answer is not kept. Everything goes on to the gateway's own metrics."""

    def __init__(self, metrics: Metrics, exchange: Exchange, recorder: Recorder) -> None:
        self._metrics = metrics  # no super().__init__(): the counters are `metrics`' own
        self._exchange = exchange
        self._recorder = recorder

    def __getattr__(self, name: str) -> object:
        return getattr(self._metrics, name)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self._metrics.observe(route, status, seconds)

    def error(self, route: str, error: BaseException) -> None:
        if self._exchange.response_started:
            self._recorder.spoiled = True
        self._metrics.error(route, error)

    def usage(self, provider: str, model: str, usage: Usage | None, provider_type: str) -> None:
        self._metrics.usage(provider, model, usage, provider_type)

    def model_label(self, provider: str, model: str) -> str:
        return self._metrics.model_label(provider, model)
