"""POST /v1/responses, GET and DELETE /v1/responses/{id}: OpenAI's Responses API over any configured model.

Errors answer in OpenAI's shape (the gateway's default); after a stream has begun, as an `error` event followed by
`response.failed`. With `store` (the API's default) the answer is kept for the workspace (services/responses.py), so
the next call may pass `previous_response_id` instead of repeating the conversation.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from modelyard.errors import InvalidRequestError, NotFoundError
from modelyard.gateway.chat import JSON_LIMIT, invocation_headers, stream_error
from modelyard.gateway.exchange import EVENT_STREAM, Exchange, stream_until_disconnect
from modelyard.gateway.metrics import Metrics
from modelyard.gateway.parameters import strict_params
from modelyard.protocols.openai_responses import egress, ingress
from modelyard.runtime.stream import ChatStream
from modelyard.services.invoke import Invocation
from modelyard.types import ChatResult

if TYPE_CHECKING:
    from modelyard.services.api_keys import ApiKeyIdentity
    from modelyard.services.context import Services
    from modelyard.services.responses import ResponseRecord

ROUTE = "/v1/responses"
ITEM_ROUTE = "/v1/responses/{response_id}"
_RESPONSE_ID = re.compile(r"resp_[A-Za-z0-9_-]{1,59}")


async def create(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    body = await exchange.json(limit=JSON_LIMIT)
    call = ingress.read(body)
    history: list[dict[str, Any]] = []
    model = call.model
    if call.previous_response_id is not None:
        previous = await services.responses.get(
            workspace_id=identity.workspace_id, response_id=call.previous_response_id
        )
        if previous is None:  # never stored, expired, deleted, or another workspace's: the same answer
            raise InvalidRequestError(
                f"previous response {call.previous_response_id!r} not found", field="previous_response_id"
            )
        history = orjson.loads(previous.conversation)
        model = model or previous.model
    if model is None:
        raise InvalidRequestError("model is required: 'provider/model', a model name, or 'default'", field="model")
    request = ingress.conversation(call, ingress.messages_of(history, "previous_response_id"))
    invocation = await services.invoker.chat(
        workspace_id=identity.workspace_id,
        model=model,
        request=request,
        stream=call.stream,
        strict_params=strict_params(exchange, identity),
        api_key_id=identity.api_key_id,
        request_id=exchange.request_id,
        idempotency_key=exchange.header(b"idempotency-key"),
    )
    keep = _Keeper(services, identity.workspace_id, call, history, f"{invocation.provider}/{invocation.model}")
    result = invocation.result
    if isinstance(result, ChatStream):
        await _stream(exchange, invocation, result, call, keep, metrics)
        return
    assert isinstance(result, ChatResult)
    answer = egress.response(call, result, response_id=egress.new_response_id(), model=invocation.model)
    encoded = orjson.dumps(answer)
    await keep(answer, encoded)
    await exchange.respond(200, encoded, headers=invocation_headers(invocation, exchange, result.usage.latency_s))
    metrics.usage(invocation.provider, invocation.model, result.usage, invocation.provider_type)
    metrics.observe(ROUTE, 200, time.perf_counter() - exchange.started)


async def _stream(
    exchange: Exchange,
    invocation: Invocation[Any],
    stream: ChatStream,
    call: ingress.ResponsesCall,
    keep: _Keeper,
    metrics: Metrics,
) -> None:
    shell = egress.shell(call, response_id=egress.new_response_id(), model=invocation.model)
    events = egress.ResponseEvents(shell, summary=call.reasoning_summary is not None)

    async def produce() -> None:
        await exchange.start_stream(content_type=EVENT_STREAM, headers=invocation_headers(invocation, exchange))
        await exchange.write(events.start())
        async for batch in stream.batches():
            data = b"".join(events.chunk(chunk) for chunk in batch)
            if events.done:  # kept before the caller reads the end, so its next call can continue it
                await keep(events.response)
            await exchange.write(data)
        await exchange.end()

    completed = True
    try:
        completed = await stream_until_disconnect(exchange, produce)
    except Exception as exc:
        # After the first byte an error (the upstream broke, the server is stopping, a bug) can only be events in
        # the stream: `error`, then `response.failed`, and no `response.completed`.
        await exchange.end(events.failed(stream_error(exchange, exc, ROUTE, metrics)))
    finally:
        await stream.aclose()  # closes the upstream connection if the stream did not run to its end
    metrics.usage(invocation.provider, invocation.model, stream.usage, invocation.provider_type)
    metrics.observe(ROUTE, 200 if completed else 499, time.perf_counter() - exchange.started)


class _Keeper:
    """Stores a finished answer when the call asked for it (`store`), with the conversation a continuation needs."""

    __slots__ = ("_call", "_history", "_model", "_services", "_workspace_id")

    def __init__(
        self, services: Services, workspace_id: str, call: ingress.ResponsesCall, history: list[Any], model: str
    ) -> None:
        self._services, self._workspace_id, self._call = services, workspace_id, call
        self._history, self._model = history, model

    async def __call__(self, answer: dict[str, Any], encoded: bytes | None = None) -> None:
        if not self._call.store or answer["status"] == "failed":
            return
        store = self._services.responses
        conversation = [*self._history, *self._call.input, *answer["output"]]
        record = store.record(
            response_id=answer["id"],
            workspace_id=self._workspace_id,
            model=self._model,
            response=encoded if encoded is not None else orjson.dumps(answer),
            conversation=orjson.dumps(conversation),
        )
        await store.save(record)


async def retrieve(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    if parse_qs(exchange.scope.get("query_string", b"").decode("latin-1")).get("stream") == ["true"]:
        raise InvalidRequestError("streaming a stored response again is not supported", field="stream")
    record = await _stored(services, exchange, identity)
    await exchange.respond(200, record.response)
    metrics.observe(ITEM_ROUTE, 200, time.perf_counter() - exchange.started)


async def delete(services: Services, exchange: Exchange, identity: ApiKeyIdentity, metrics: Metrics) -> None:
    response_id = _response_id(exchange)
    if not await services.responses.delete(workspace_id=identity.workspace_id, response_id=response_id):
        raise _not_found(response_id)
    await exchange.respond(200, orjson.dumps({"id": response_id, "object": "response", "deleted": True}))
    metrics.observe(ITEM_ROUTE, 200, time.perf_counter() - exchange.started)


async def _stored(services: Services, exchange: Exchange, identity: ApiKeyIdentity) -> ResponseRecord:
    response_id = _response_id(exchange)
    record = await services.responses.get(workspace_id=identity.workspace_id, response_id=response_id)
    if record is None:
        raise _not_found(response_id)
    return record


def _response_id(exchange: Exchange) -> str:
    response_id = str(exchange.scope["path"]).rstrip("/").rpartition("/")[2]
    if not _RESPONSE_ID.fullmatch(response_id):
        raise _not_found(response_id)
    return response_id


def _not_found(response_id: str) -> NotFoundError:
    return NotFoundError(
        f"no stored response {response_id[:64]!r} in this workspace (never stored, expired or deleted)"
    )
