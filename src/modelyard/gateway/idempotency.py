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
from typing import TYPE_CHECKING

from modelyard.errors import InvalidRequestError
from modelyard.gateway.exchange import Exchange
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.recording import (
    AnswerError,
    Recorder,
    Run,
    WatchedMetrics,
    answering_errors,
    raising,
    read_body,
    replay,
    replaying,
)
from modelyard.services.idempotency import IdempotencyConflictError, IdempotencyService, KeyScope
from modelyard.services.idempotency.values import HEADER
from modelyard.services.recorded import StoredAnswer

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity

MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a longest speech answer as WAV fits (4,096 characters, 24 kHz)
MAX_KEY_LENGTH = 255  # as Stripe's
_NOT_KEPT = frozenset({408, 409, 425, 429})  # besides every 5xx: answers a retry can change
_REPLAYED = ((b"idempotent-replayed", b"true"),)


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
        body = await read_body(exchange)
        scope = KeyScope(identity.workspace_id, identity.api_key_id, key)
        outcome = await idempotency.begin(scope, fingerprint(exchange, body))
    except (InvalidRequestError, IdempotencyConflictError) as exc:  # too large, the key reused, or still running
        exchange.receive = raising(exc)
        await answering_errors(run, metrics, exchange, answer_error)
        return
    if isinstance(outcome, StoredAnswer):
        await replay(exchange, outcome, _REPLAYED)
        metrics.observe(route, outcome.status, time.perf_counter() - exchange.started)
        return
    recorder = Recorder(exchange.send, max_bytes=MAX_ANSWER_BYTES)
    exchange.send = recorder.send
    exchange.receive = replaying(body, exchange.receive)
    try:
        await answering_errors(run, WatchedMetrics(metrics, exchange, recorder), exchange, answer_error)
    finally:
        await idempotency.finish(outcome, _kept(recorder.answer()))


def _kept(answer: StoredAnswer | None) -> StoredAnswer | None:
    """The answer to keep for the key: not one a retry can change, so that a retry may succeed."""
    if answer is None or answer.status >= 500 or answer.status in _NOT_KEPT:
        return None
    return answer


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
