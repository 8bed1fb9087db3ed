"""POST /console/api/workspaces/{ws}/playground/chat: one chat turn, streamed back as server-sent events.

Events: `{"delta": "..."}` (and `"reasoning"` when the model thinks aloud), then one of `{"done": true, "usage",
"provider", "model", "provider_type"}` or `{"error": {...}}`. Errors of the call itself (an unknown model,
a refused key) arrive as an error event, so the page reads one stream; a malformed body is a plain 400.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from modelyard.console.auth import Reader, State
from modelyard.console.errors import error_payload
from modelyard.console.schemas import PlaygroundChatBody
from modelyard.errors import ModelyardError
from modelyard.gateway.exchange import EVENT_STREAM, ClientDisconnectedError, Exchange, stream_until_disconnect
from modelyard.gateway.metrics import Metrics
from modelyard.runtime.stream import ChatStream
from modelyard.services.context import Services
from modelyard.types import ChatRequest, Message, Usage

log = logging.getLogger(__name__)
router = APIRouter(tags=["playground"])
ROUTE = "/console/api/workspaces/{ws}/playground/chat"
_EVENTS_DOC = (
    'Server-sent events: `data: {"delta": "..."}` ..., then `data: {"done": true, "usage": {...}, "provider": ..., '
    '"model": ...}` or `data: {"error": {"message", "type", "code", "field"}}`.'
)


class EventStreamResponse(Response):
    media_type = "text/event-stream"


class PlaygroundStream(EventStreamResponse):
    """Streams one chat turn; a client that goes away cancels the call and closes the upstream stream."""

    def __init__(self, services: Services, metrics: Metrics, workspace_id: str, model: str, request: ChatRequest):
        super().__init__(status_code=200)
        self.services, self.metrics = services, metrics
        self.workspace_id, self.model, self.request = workspace_id, model, request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exchange = Exchange(scope, receive, send, f"req_{secrets.token_hex(12)}")
        try:
            await stream_until_disconnect(exchange, lambda: self._produce(exchange))
        finally:
            exchange.close()

    async def _produce(self, exchange: Exchange) -> None:
        await exchange.start_stream(content_type=EVENT_STREAM, headers=[(b"x-accel-buffering", b"no")])
        try:
            await self._relay(exchange)
        except ClientDisconnectedError:
            raise
        except Exception as exc:  # the stream has begun: every failure, a busy database or a bug too, is an event
            if not isinstance(exc, ModelyardError):
                log.exception("console error in a stream on %s", ROUTE)
            self.metrics.error(ROUTE, exc)
            await _event(exchange, {"error": error_payload(exc)})
        await exchange.end()

    async def _relay(self, exchange: Exchange) -> None:
        invocation = await self.services.invoker.chat(
            workspace_id=self.workspace_id,
            model=self.model,
            request=self.request,
            stream=True,
            request_id=exchange.request_id,
        )
        stream = invocation.result
        assert isinstance(stream, ChatStream)  # asked for with stream=True
        try:
            async for chunk in stream:
                if chunk.content or chunk.reasoning:
                    delta: dict[str, Any] = {"delta": chunk.content}
                    if chunk.reasoning:
                        delta["reasoning"] = chunk.reasoning
                    await _event(exchange, delta)
        finally:
            await stream.aclose()  # also when the client left mid-stream: the upstream connection closes
        self.metrics.usage(invocation.provider, invocation.model, stream.usage, invocation.provider_type)
        done = {"done": True, "usage": usage_body(stream.usage), "provider": invocation.provider,
                "model": invocation.model, "provider_type": invocation.provider_type}  # fmt: skip
        await _event(exchange, done)


@router.post(
    "/workspaces/{ws}/playground/chat",
    response_class=EventStreamResponse,
    responses={200: {"description": _EVENTS_DOC, "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
    summary="Send a chat turn to a model and stream the answer (any member)",
)
async def playground_chat(body: PlaygroundChatBody, member: Reader, state: State) -> Response:
    request = ChatRequest(
        messages=tuple(Message(m.role, m.content) for m in body.messages),
        temperature=body.temperature,
        max_tokens=body.max_tokens,
    )
    return PlaygroundStream(state.services, state.metrics, member.workspace_id, body.model, request)


def usage_body(usage: Usage | None) -> dict[str, Any] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "total_price": str(usage.total_price),
        "currency": usage.currency,
        "latency_ms": round(usage.latency_s * 1000),
        "time_to_first_token_ms": None
        if usage.time_to_first_token_s is None
        else round(usage.time_to_first_token_s * 1000),
        "is_estimated": usage.is_estimated,
    }


async def _event(exchange: Exchange, payload: dict[str, Any]) -> None:
    await exchange.write(b"data: " + orjson.dumps(payload) + b"\n\n")
