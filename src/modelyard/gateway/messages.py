"""POST /v1/messages: Anthropic's shape in and out, streamed or not, for any configured model of any family.

Errors on this route answer in Anthropic's shape too (`{"type": "error", "error": {...}}`), so the `anthropic`
SDK raises its own error classes; status, message and headers come from the one error contract, as on every face.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from modelyard.error_contract import answer_for
from modelyard.errors import ModelyardError
from modelyard.gateway.chat import JSON_LIMIT, invocation_headers, model_name, stream_error
from modelyard.gateway.errors import encoded_headers
from modelyard.gateway.exchange import EVENT_STREAM, ClientDisconnectedError, Exchange, stream_until_disconnect
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.parameters import strict_params
from modelyard.protocols.anthropic import egress, ingress
from modelyard.runtime.stream import ChatStream
from modelyard.services.invoke import Invocation
from modelyard.types import ChatResult

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services

log = logging.getLogger(__name__)
ROUTE = "/v1/messages"


async def messages(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    try:
        async with exchange.watching():  # its own block, so a server stop is answered in this route's shape too
            await _messages(services, exchange, identity, metrics)
    except ClientDisconnectedError:
        raise
    except Exception as exc:
        if not isinstance(exc, ModelyardError):  # a bug: log it, never show a traceback to the caller
            log.exception("gateway error on %s", ROUTE)
        metrics.error(ROUTE, exc)
        if not exchange.response_started:
            status, body, headers = anthropic_error(exc, exchange.request_id)
            await exchange.respond(status, body, headers=headers)
            metrics.observe(ROUTE, status, time.perf_counter() - exchange.started)


def anthropic_error(error: BaseException, request_id: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """Status, Anthropic-shaped JSON body and extra headers for an error this route answers with."""
    answer = answer_for(error)
    body = egress.error_body(answer.status, answer.message, request_id=request_id)
    return answer.status, body, [*encoded_headers(answer), (b"request-id", request_id.encode())]


async def _messages(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    model = model_name(body)
    request = ingress.chat_request(body)
    invocation = await services.invoker.chat(
        workspace_id=identity.workspace_id,
        model=model,
        request=request,
        stream=body.get("stream") is True,
        strict_params=strict_params(exchange, identity),
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
        idempotency_key=exchange.header(b"idempotency-key"),
    )
    result = invocation.result
    if isinstance(result, ChatStream):
        await _stream(exchange, invocation, result, metrics)
        return
    assert isinstance(result, ChatResult)
    answer = egress.message(result, message_id=_message_id(exchange), model=invocation.model)
    headers = [*invocation_headers(invocation, exchange, result.usage.latency_s), _request_id(exchange)]
    await exchange.respond(200, orjson.dumps(answer), headers=headers)
    metrics.usage(invocation.provider, invocation.model, result.usage, invocation.provider_type)
    metrics.observe(ROUTE, 200, time.perf_counter() - exchange.started)


async def _stream(exchange: Exchange, invocation: Invocation[Any], stream: ChatStream, metrics: Metrics) -> None:
    events = egress.MessageEvents(message_id=_message_id(exchange), model=invocation.model)

    async def produce() -> None:
        headers = [*invocation_headers(invocation, exchange), _request_id(exchange)]
        await exchange.start_stream(content_type=EVENT_STREAM, headers=headers)
        await exchange.write(events.start())
        async for batch in stream.batches():
            await exchange.write(b"".join(events.chunk(chunk) for chunk in batch))
        await exchange.end()

    completed = True
    try:
        completed = await stream_until_disconnect(exchange, produce)
    except Exception as exc:  # after the first byte an error can only be an event in the stream, and its last
        answer = stream_error(exchange, exc, ROUTE, metrics)
        await exchange.end(events.error(answer.status, answer.message))
    finally:
        await stream.aclose()  # closes the upstream connection if the stream did not run to its end
    metrics.usage(invocation.provider, invocation.model, stream.usage, invocation.provider_type)
    metrics.observe(ROUTE, 200 if completed else 499, time.perf_counter() - exchange.started)


def _message_id(exchange: Exchange) -> str:
    return "msg_" + exchange.request_id.removeprefix("req_")


def _request_id(exchange: Exchange) -> tuple[bytes, bytes]:
    return (b"request-id", exchange.request_id.encode())  # where the anthropic SDK reads it
