"""POST /v1/chat/completions: OpenAI's shape in and out, streamed or not, whatever the upstream speaks."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.error_contract import ErrorAnswer, answer_for
from modelyard.errors import InvalidRequestError, ModelyardError
from modelyard.gateway.errors import openai_error
from modelyard.gateway.exchange import EVENT_STREAM, Exchange, stream_until_disconnect
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.parameters import adjustment_headers, strict_params
from modelyard.protocols.openai import egress, ingress
from modelyard.runtime.stream import ChatStream
from modelyard.services.invoke import Invocation
from modelyard.types import ChatResult

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services

log = logging.getLogger(__name__)
ROUTE = "/v1/chat/completions"
JSON_LIMIT = 32 * 1024 * 1024  # inline images make chat bodies large
_DONE = b"data: [DONE]\n\n"


def model_name(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("model is required: 'provider/model', a model name, or 'default'", field="model")
    return model


def invocation_headers(
    invocation: Invocation[Any], exchange: Exchange, upstream_s: float = 0.0
) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-modelyard-provider", invocation.provider.encode()),
        (b"x-modelyard-model", invocation.model.encode()),
        (b"x-modelyard-provider-type", invocation.provider_type.encode()),
        (b"x-modelyard-overhead-ms", exchange.overhead_ms(upstream_s)),
    ]
    if invocation.alias is not None:  # what the alias's call did (services/fallback.py)
        headers += alias_headers(invocation)
    if isinstance(invocation.result, ChatResult | ChatStream):  # what the model's parameter rules changed
        headers += adjustment_headers(invocation.result)
    return headers


def alias_headers(invocation: Invocation[Any]) -> list[tuple[bytes, bytes]]:
    """The alias called, the attempts its call made, and each target it moved on from (`provider/model:why`)."""
    headers = [
        (b"x-modelyard-alias", (invocation.alias or "").encode()),
        (b"x-modelyard-attempts", str(invocation.attempts).encode()),
    ]
    if invocation.fallbacks:
        headers.append((b"x-modelyard-fallbacks", ", ".join(invocation.fallbacks).encode()))
    return headers


async def chat_completions(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    model = model_name(body)
    request = ingress.chat_request(body)
    stream = body.get("stream") is True
    invocation = await services.invoker.chat(
        workspace_id=identity.workspace_id,
        model=model,
        request=request,
        stream=stream,
        strict_params=strict_params(exchange, identity),
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
        idempotency_key=exchange.header(b"idempotency-key"),
    )
    result = invocation.result
    if isinstance(result, ChatStream):
        options = body.get("stream_options")
        wants_usage = isinstance(options, dict) and options.get("include_usage") is True
        await _stream(exchange, invocation, result, wants_usage, metrics)
        return
    assert isinstance(result, ChatResult)
    answer = egress.chat_completion(
        result, response_id=_response_id(exchange), model=invocation.model, created=int(time.time())
    )
    await exchange.respond(
        200, orjson.dumps(answer), headers=invocation_headers(invocation, exchange, result.usage.latency_s)
    )
    metrics.usage(invocation.provider, invocation.model, result.usage, invocation.provider_type)
    metrics.observe(ROUTE, 200, time.perf_counter() - exchange.started)


async def _stream(
    exchange: Exchange, invocation: Invocation[Any], stream: ChatStream, wants_usage: bool, metrics: Metrics
) -> None:
    response_id = _response_id(exchange)
    created = int(time.time())
    model = invocation.model

    async def produce() -> None:
        await exchange.start_stream(content_type=EVENT_STREAM, headers=invocation_headers(invocation, exchange))
        first = True
        async for batch in stream.batches():
            events = []
            for chunk in batch:
                payload = egress.chat_chunk(chunk, response_id=response_id, model=model, created=created, first=first)
                first = False
                events.append(b"data: " + orjson.dumps(payload) + b"\n\n")
                if chunk.usage is not None and wants_usage:
                    usage = egress.usage_chunk(chunk.usage, response_id=response_id, model=model, created=created)
                    events.append(b"data: " + orjson.dumps(usage) + b"\n\n")
            await exchange.write(b"".join(events))
        await exchange.end(_DONE)

    completed = True
    try:
        completed = await stream_until_disconnect(exchange, produce)
    except Exception as exc:
        # After the first byte an error can only be an event in the stream; no [DONE] follows it, so no client
        # takes a broken answer for a whole one.
        answer = stream_error(exchange, exc, ROUTE, metrics)
        await exchange.end(b"data: " + openai_error(answer) + b"\n\n")
    finally:
        await stream.aclose()  # closes the upstream connection if the stream did not run to its end
    metrics.usage(invocation.provider, invocation.model, stream.usage, invocation.provider_type)
    metrics.observe(ROUTE, 200 if completed else 499, time.perf_counter() - exchange.started)


def stream_error(exchange: Exchange, error: Exception, route: str, metrics: Metrics) -> ErrorAnswer:
    """What to tell a caller whose stream failed (the upstream broke, the server is stopping, a bug); raises `error`
    again when no byte was sent yet, so the gateway answers it with a status instead."""
    if not exchange.response_started:
        raise error
    if not isinstance(error, ModelyardError):
        log.exception("gateway error in a stream on %s", route, exc_info=error)
    metrics.error(route, error)
    return answer_for(error)


def _response_id(exchange: Exchange) -> str:
    return "chatcmpl-" + exchange.request_id.removeprefix("req_")
