"""The exact response cache at the gateway (services/response_cache): identical calls answered from a stored answer.

* On for a call when its API key's policy sets `cache_ttl_s` (0: off for the key, whatever its workspace says), else
  when its workspace opted in (a TTL), or when the request sends `x-modelyard-cache-ttl: <seconds>` (that TTL then
  applies to the answer it stores; 0 stores nothing). `Cache-Control: no-cache` skips the lookup and stores the
  fresh answer (a refresh); `no-store` stores nothing (a stored answer may still be used, as RFC 9111 allows);
  both: neither.
* Identical: same workspace, route and resolved model (`provider/model`: `default` and a bare name count as what they
  resolve to), and the same body once normalised: keys sorted at every level; `model`, `user`, `safety_identifier`
  and `prompt_cache_key` left out (they name, or route, but do not change the answer). A streamed call and a
  non-streamed one are cached apart, each replayed in the shape it was recorded in (a stream as its events); so are
  calls that differ in `stream_options`, which changes the events sent.
* Served: chat completions, messages, embeddings, rerank, moderations, and responses with `store: false` and no
  `previous_response_id` (a stored response is state; a replay would hand out another call's id).
* A hit is answered before admission: it costs no hosted quota, budget or rate limit and never reaches the upstream;
  it is recorded in usage with status `cache_hit` and counted in /metrics. A key's allowed models still hold: a
  hit for a model the key may not call is not served (the call runs and is refused as usual).
* Answers carry `x-modelyard-cache: hit|miss` (a hit also `Age`); only whole 200 answers are stored, never an error
  or a stream that ended in one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.errors import InvalidRequestError, ModelyardError
from modelyard.gateway.exchange import Exchange, Message, Send
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.recording import Recorder, WatchedMetrics, raising, read_body, replay, replaying
from modelyard.services.resolve import Resolved
from modelyard.services.response_cache import ResponseCache, parse_ttl
from modelyard.services.usage import UsageEvent
from modelyard.store.tables import utcnow
from modelyard.types import ModelType

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services

Handler = Callable[["Services", Exchange, "ApiKeyIdentity", Metrics], Awaitable[None]]

CACHE_HEADER = "x-modelyard-cache"
TTL_HEADER = "x-modelyard-cache-ttl"
CACHEABLE: dict[str, ModelType] = {
    "/v1/chat/completions": "llm",
    "/v1/messages": "llm",
    "/v1/responses": "llm",
    "/v1/embeddings": "text-embedding",
    "/v1/rerank": "rerank",
    "/v1/moderations": "moderation",
}
_DEFAULT_MODEL = {"/v1/moderations": "default"}  # routes whose model may be left out
_NOT_IN_KEY = frozenset({"model", "user", "safety_identifier", "prompt_cache_key", "stream"})
_MISS = ((CACHE_HEADER.encode(), b"miss"),)
_RECORDED_WITHOUT = frozenset({CACHE_HEADER})


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """What one call may do with the cache."""

    ttl_s: int  # for the answer it stores
    looks_up: bool  # false with Cache-Control: no-cache
    stores: bool  # false with Cache-Control: no-store, or a TTL of 0


async def handler_for(
    cache: ResponseCache, exchange: Exchange, identity: ApiKeyIdentity, route: str, handler: Handler
) -> Handler:
    """`handler` itself when the cache is off for this call (two header lookups and one for the workspace's setting,
    from memory), else `handler` answered through the cache."""
    model_type = CACHEABLE.get(route)
    if model_type is None:
        return handler
    try:
        policy = policy_of(exchange, await _default_ttl_s(cache, identity))
    except InvalidRequestError as exc:  # raised from the route's first read, so it answers in its own shape
        exchange.receive = raising(exc)
        return handler
    if policy is None:
        return handler

    async def cached(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
        await _answer(services, cache, policy, exchange, identity, route, model_type, handler, metrics)

    return cached


async def _default_ttl_s(cache: ResponseCache, identity: ApiKeyIdentity) -> int:
    """The TTL of the key's policy when it sets one (0: off for its calls), else its workspace's (0: not opted in)."""
    key_ttl_s = identity.policy.cache_ttl_s if identity.policy is not None else None
    return key_ttl_s if key_ttl_s is not None else await cache.settings.ttl_s(identity.workspace_id)


def policy_of(exchange: Exchange, default_ttl_s: int) -> CachePolicy | None:
    """The call's policy from its headers and the TTL of its key or workspace; None when the cache is off for it."""
    raw_ttl = exchange.header(TTL_HEADER.encode())
    if raw_ttl is None and not default_ttl_s:
        return None
    ttl_s = default_ttl_s if raw_ttl is None else parse_ttl(raw_ttl, TTL_HEADER)
    directives = _cache_control(exchange.header(b"cache-control"))
    return CachePolicy(ttl_s, "no-cache" not in directives, ttl_s > 0 and "no-store" not in directives)


def _cache_control(value: str | None) -> frozenset[str]:
    if not value:
        return frozenset()
    return frozenset(part.partition("=")[0].strip().lower() for part in value.split(","))


async def _answer(
    services: Services,
    cache: ResponseCache,
    policy: CachePolicy,
    exchange: Exchange,
    identity: ApiKeyIdentity,
    route: str,
    model_type: ModelType,
    handler: Handler,
    metrics: Metrics,
) -> None:
    body = await read_body(exchange)
    exchange.receive = replaying(body, exchange.receive)
    found = await _lookup_key(services, identity, route, model_type, body)
    if found is None:  # not a call the cache serves (or not one the route accepts: the route says why)
        await handler(services, exchange, identity, metrics)
        return
    key, resolved = found
    if policy.looks_up:
        cached = await cache.get(key)
        if cached is not None:
            extra = [(CACHE_HEADER.encode(), b"hit"), (b"age", str(cached.age_s).encode())]
            await replay(exchange, cached.answer, extra)
            _record_hit(services, exchange, identity, resolved, cached.answer.header("x-modelyard-provider-type"))
            metrics.cached(route, "hit")
            metrics.observe(route, cached.answer.status, time.perf_counter() - exchange.started)
            return
    recorder = Recorder(exchange.send, max_bytes=cache.max_entry_bytes, drop_headers=_RECORDED_WITHOUT)
    exchange.send = _stamped(recorder.send)
    metrics.cached(route, "miss")
    await handler(services, exchange, identity, WatchedMetrics(metrics, exchange, recorder))
    answer = recorder.answer()
    if policy.stores and answer is not None:
        await cache.put(key, answer, policy.ttl_s)


async def _lookup_key(
    services: Services, identity: ApiKeyIdentity, route: str, model_type: ModelType, body: bytes
) -> tuple[str, Resolved] | None:
    """The call's cache key and resolved model; None when the cache does not serve it."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    requested = data.get("model", _DEFAULT_MODEL.get(route))
    if not isinstance(requested, str) or not requested:
        return None
    if route == "/v1/responses" and (data.get("store") is not False or data.get("previous_response_id") is not None):
        return None
    try:
        resolved = await services.invoker.resolve(
            workspace_id=identity.workspace_id, model=requested, model_type=model_type
        )
    except ModelyardError:
        return None
    name = f"{resolved.provider}/{resolved.model.id}"
    policy = identity.policy
    if policy is not None and not policy.allows(requested, name):
        return None  # the route refuses it, as it refuses any call to a model the key may not use
    if requested in (await services.snapshots.get(identity.workspace_id)).aliases:
        name = f"alias:{requested}"  # any of its models may answer: kept apart from calls of the model itself
    return ResponseCache.key(identity.workspace_id, route, name, normalised(data)), resolved


def normalised(body: dict[str, Any]) -> bytes:
    """The body as the cache compares it: keys sorted at every level, fields that do not change the answer left
    out, and whether it streams said once (absent and false are the same)."""
    kept = {name: value for name, value in body.items() if name not in _NOT_IN_KEY}
    kept["stream"] = body.get("stream") is True
    return orjson.dumps(kept, option=orjson.OPT_SORT_KEYS)


def _stamped(send: Send) -> Send:
    async def stamped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *_MISS]}
        await send(message)

    return stamped


def _record_hit(
    services: Services, exchange: Exchange, identity: ApiKeyIdentity, resolved: Resolved, provider_type: str | None
) -> None:
    services.usage.record(
        UsageEvent(
            request_id=exchange.request_id,
            workspace_id=identity.workspace_id,
            api_key_id=identity.api_key_id,
            provider=resolved.provider,
            model=resolved.model.id,
            model_type=resolved.model_type,
            provider_type=provider_type or "custom",
            credential_ref=None,
            usage=None,  # nothing was spent: no tokens, no price
            status="cache_hit",
            error_class=None,
            created_at=utcnow(),
        )
    )
