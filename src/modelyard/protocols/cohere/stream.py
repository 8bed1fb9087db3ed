from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.cohere.responses import FINISH_REASONS, error_from_body, parse_usage
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta
from modelyard.types.usage import UNREPORTED

_DONE = b"[DONE]"
# message-start, content-end, tool-call-end, citation-start/-end and debug carry nothing a chunk needs.


class CohereChatStream(ChatStreamParser):
    """Cohere's typed events (`message-start` … `message-end`) to unified chunks.

    Text arrives in content-delta, thinking in content-delta too (as `thinking`), the tool plan in
    tool-plan-delta; both of the latter count as reasoning. Tool calls open with tool-call-start (id, name) and
    grow by tool-call-delta argument fragments, keyed by the event's `index`. message-end carries the finish
    reason, the usage, and an `error` when generation failed after the HTTP 200.
    """

    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        data = event.data
        if not data:
            return None
        if data == _DONE:  # not sent by Cohere, but the SDK tolerates it, so do we
            self.finished = True
            return None
        with reading(self._target, "chat stream"):
            payload: dict[str, Any] = orjson.loads(data)
            kind = payload.get("type") or event.event
            if kind is None and payload.get("message"):  # an error object in place of an event
                raise error_from_body(self._target, 502, {}, payload, in_stream=True)
            message = (payload.get("delta") or {}).get("message") or {}
            if kind in ("content-start", "content-delta"):
                part = message.get("content") or {}
                text, thinking = part.get("text") or "", part.get("thinking") or ""
                return ChatChunk(content=text, reasoning=thinking) if text or thinking else None
            if kind == "tool-plan-delta":
                plan = message.get("tool_plan") or ""
                return ChatChunk(reasoning=plan) if plan else None
            if kind in ("tool-call-start", "tool-call-delta"):
                return ChatChunk(tool_calls=(self._tool_delta(payload, message.get("tool_calls") or {}),))
            if kind == "message-end":
                return self._end(payload.get("delta") or {})
            return None

    def _tool_delta(self, payload: dict[str, Any], call: dict[str, Any]) -> ToolCallDelta:
        function = call.get("function") or {}
        return ToolCallDelta(
            index=int(payload.get("index") or 0),
            id=call.get("id"),
            name=function.get("name"),
            arguments=function.get("arguments") or "",
        )

    def _end(self, delta: dict[str, Any]) -> ChatChunk:
        self.finished = True
        reason = delta.get("finish_reason") or ""
        if delta.get("error"):
            # TIMEOUT is the generation's own deadline upstream; anything else failed there too (5xx-like).
            status = 504 if reason == "TIMEOUT" else 502
            raise error_from_body(self._target, status, {}, {"message": delta["error"]}, in_stream=True)
        usage = parse_usage(delta.get("usage"))
        return ChatChunk(finish_reason=FINISH_REASONS.get(reason, "stop"), usage=None if usage is UNREPORTED else usage)
