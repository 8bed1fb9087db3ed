"""`Idempotency-Key` on every POST route of the gateway: the first call's answer is kept and replayed to each repeat,
without calling the upstream again (the IETF httpapi draft "The Idempotency-Key HTTP Header Field", and Stripe).

* A key belongs to the workspace and the API key that sent it. Its call is fingerprinted by route and body bytes (a
  multipart body without its random boundary): the key used for another call is 422, never reaching the upstream.
* A repeat while the first call runs waits for its answer up to `services.idempotency.wait_s`, then gets 409 with
  Retry-After.
* What is kept, for the key's lifetime: the status, the headers and the body as sent (a stream's events assembled),
  up to MAX_ANSWER_BYTES. Not kept, so that a retry may succeed: a 5xx, 408, 409, 425 or 429 answer, a stream that
  ended in an error event, a call whose client left first, an answer larger than the bound. The key is then let go,
  and a repeat runs as a new call, charged as one.
* Errors found before the call runs (the key used for another body, still running, a body too large) are raised from
  the route's first read of the body, so each route answers them in its own error shape (Anthropic's on /v1/messages).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from modelyard.errors import InvalidRequestError
from modelyard.gateway.exchange import ClientDisconnectedError, Exchange, Message, PayloadTooLargeError, Receive, Send
from modelyard.gateway.metrics import Metrics
from modelyard.services.idempotency import (
    IdempotencyConflictError,
    IdempotencyService,
    KeyScope,
    StoredAnswer,
)
from modelyard.services.idempotency.values import HEADER
from modelyard.types import Usage

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity

BODY_LIMIT = 64 * 1024 * 1024  # the largest body a route accepts (an audio upload); each route checks its own
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a longest speech answer as WAV fits (4,096 characters, 24 kHz)
MAX_KEY_LENGTH = 255  # as Stripe's
_NOT_KEPT = frozenset({408, 409, 425, 429})  # besides every 5xx: answers a retry can change
# Headers of one exchange: a replay answers them for itself.
_OWN_HEADERS = frozenset({"x-request-id", "request-id", "x-modelyard-overhead-ms"})

Run = Callable[[Metrics], Awaitable[None]]  # the route's handler, reporting to the metrics given
AnswerError = Callable[[Exchange, BaseException], Awaitable[None]]


def key_of(exchange: Exchange) -> str | None:
    """The request's Idempotency-Key, or None; a malformed one is a 400 naming the header.

    The draft makes it a structured-field string (`"8e03978e-..."`); a bare token, as most clients send, is
    accepted too.
    """
    raw = exchange.header(b"idempotency-key")
    if raw is None:
        return None
    key = raw.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise InvalidRequestError(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (a UUID is a good one)", field=HEADER
        )
    return key


async def answer_once(
    idempotency: IdempotencyService,
    exchange: Exchange,
    identity: ApiKeyIdentity,
    key: str,
    run: Run,
    metrics: Metrics,
    route: str,
    answer_error: AnswerError,
) -> None:
    """Answer the call once for `key`: `run` the route and keep what it answered, or replay the answer kept for it."""
    try:
        body = await _read_body(exchange)
        scope = KeyScope(identity.workspace_id, identity.api_key_id, key)
        outcome = await idempotency.begin(scope, fingerprint(exchange, body))
    except (InvalidRequestError, IdempotencyConflictError) as exc:  # too large, the key reused, or still running
        exchange.receive = _raising(exc)
        await _answering_errors(run, metrics, exchange, answer_error)
        return
    if isinstance(outcome, StoredAnswer):
        await _replay(exchange, outcome)
        metrics.observe(route, outcome.status, time.perf_counter() - exchange.started)
        return
    recorder = _Recorder(exchange.send)
    exchange.send = recorder.send
    exchange.receive = _replaying(body, exchange.receive)
    try:
        await _answering_errors(run, _WatchedMetrics(metrics, exchange, recorder), exchange, answer_error)
    finally:
        await idempotency.finish(outcome, recorder.answer())


async def _answering_errors(run: Run, metrics: Metrics, exchange: Exchange, answer_error: AnswerError) -> None:
    """Run the route. An error it raises is answered here, so that the answer is sent (and kept) before the key is
    finished, then raised again for the gateway to count; the gateway sends nothing once an answer has started."""
    try:
        await run(metrics)
    except ClientDisconnectedError:
        raise
    except Exception as exc:
        await answer_error(exchange, exc)
        raise


async def _read_body(exchange: Exchange) -> bytes:
    """The whole body, read before the route runs: its fingerprint decides whether the route runs at all."""
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


def fingerprint(exchange: Exchange, body: bytes) -> str:
    """SHA-256 of the route and the body: a repeat is the same call only if both are the same."""
    digest = hashlib.sha256(f"{exchange.scope['method']} {exchange.scope['path'].rstrip('/')}\n".encode())
    boundary = _multipart_boundary(exchange.header(b"content-type") or "")
    if boundary:  # clients draw a new boundary for each try of the same upload
        body = body.replace(b"--" + boundary, b"--")
    digest.update(body)
    return digest.hexdigest()


def _multipart_boundary(content_type: str) -> bytes | None:
    kind, _, parameters = content_type.partition(";")
    if kind.strip().lower() != "multipart/form-data":
        return None
    for parameter in parameters.split(";"):
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary" and value:
            return value.strip('"').encode("latin-1")
    return None


async def _replay(exchange: Exchange, answer: StoredAnswer) -> None:
    own = {"x-request-id": exchange.request_id, "request-id": exchange.request_id}
    headers = []
    for name, value in answer.headers:
        if name in _OWN_HEADERS:
            value = exchange.overhead_ms().decode() if name == "x-modelyard-overhead-ms" else own[name]
        headers.append((name.encode("latin-1"), value.encode("latin-1")))
    headers.append((b"idempotent-replayed", b"true"))
    exchange.response_started = True
    await exchange.send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await exchange.send({"type": "http.response.body", "body": answer.body})


def _replaying(body: bytes, receive: Receive) -> Receive:
    """The route reads the body already read; later reads wait for the client's disconnect, as before."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed


def _raising(error: Exception) -> Receive:
    async def refuse() -> Message:
        raise error

    return refuse


class _Recorder:
    """Passes what the route sends on to the client, keeping a copy: the answer to keep for the key."""

    __slots__ = ("_chunks", "_send", "_size", "complete", "headers", "spoiled", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
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
                (bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
                for name, value in message.get("headers", ())
            )
        elif message["type"] == "http.response.body":
            chunk = message.get("body", b"")
            if chunk and self._size <= MAX_ANSWER_BYTES:
                self._size += len(chunk)
                self._chunks.append(chunk)
            if not message.get("more_body", False):
                self.complete = True

    def answer(self) -> StoredAnswer | None:
        """The answer as sent, if it was sent whole and is one to keep."""
        if not self.complete or self.spoiled or self._size > MAX_ANSWER_BYTES:
            return None
        if self.status >= 500 or self.status in _NOT_KEPT:
            return None
        return StoredAnswer(self.status, self.headers, b"".join(self._chunks))


class _WatchedMetrics(Metrics):
    """The gateway's metrics for one call, noting an error the route reports once its answer has begun (a stream
    that ended in an error event): that answer is not kept. Everything goes on to the gateway's own metrics."""

    def __init__(self, metrics: Metrics, exchange: Exchange, recorder: _Recorder) -> None:
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
