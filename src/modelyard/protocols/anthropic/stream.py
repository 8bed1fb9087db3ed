from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.anthropic.responses import STOP_REASONS, error_from_body, parse_usage
from modelyard.protocols.anthropic.thinking import SignedChunk
from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta


class AnthropicChatStream(ChatStreamParser):
    """Messages stream events (`message_start` ... `message_stop`) to unified chunks.

    Tool calls are numbered in the order their blocks start, whatever the block index; usage from `message_start`
    (input) and `message_delta` (cumulative totals) is merged and sent once, with the finish reason. Unknown event
    and delta types are ignored, as the API versioning policy asks.
    """

    __slots__ = ("_argued", "_target", "_tools", "_usage", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._tools: dict[int, int] = {}  # content block index -> tool call number
        self._argued: set[int] = set()  # tool blocks that streamed some input JSON
        self._usage: dict[str, Any] = {}
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data:
            return None
        with reading(self._target, "messages stream"):
            data: dict[str, Any] = orjson.loads(event.data)
            kind = data.get("type") or event.event
            if kind == "content_block_delta":
                return self._delta(data["index"], data["delta"])
            if kind == "content_block_start":
                return self._start(data["index"], data["content_block"])
            if kind == "content_block_stop":
                return self._stop(data["index"])
            if kind == "message_start":
                self._merge_usage(data["message"].get("usage"))
                return None
            if kind == "message_delta":
                self._merge_usage(data.get("usage"))
                stop = (data.get("delta") or {}).get("stop_reason")
                return ChatChunk(finish_reason=STOP_REASONS.get(stop) if stop else None, usage=parse_usage(self._usage))
            if kind == "message_stop":
                self.finished = True
                return None
            if kind == "error":  # the stream began with 200, then failed (overloaded, mostly)
                raise error_from_body(self._target, 200, {}, data, in_stream=True)
            return None  # ping, and event types added after this was written

    def _start(self, index: int, block: dict[str, Any]) -> ChatChunk | None:
        kind = block["type"]
        if kind == "tool_use":
            number = self._tools[index] = len(self._tools)
            return ChatChunk(tool_calls=(ToolCallDelta(number, id=block["id"], name=block["name"]),))
        if kind == "text" and block.get("text"):
            return ChatChunk(content=block["text"])
        if kind == "thinking" and block.get("thinking"):
            return ChatChunk(reasoning=block["thinking"])
        if kind == "redacted_thinking":
            return SignedChunk(redacted_reasoning=block["data"])
        return None

    def _delta(self, index: int, delta: dict[str, Any]) -> ChatChunk | None:
        kind = delta["type"]
        if kind == "text_delta":
            return ChatChunk(content=delta["text"]) if delta["text"] else None
        if kind == "input_json_delta":
            if not delta["partial_json"] or index not in self._tools:
                return None
            self._argued.add(index)
            return ChatChunk(tool_calls=(ToolCallDelta(self._tools[index], arguments=delta["partial_json"]),))
        if kind == "thinking_delta":
            return ChatChunk(reasoning=delta["thinking"]) if delta["thinking"] else None
        if kind == "signature_delta":
            return SignedChunk(reasoning_signature=delta["signature"])
        return None  # citations_delta and newer kinds

    def _stop(self, index: int) -> ChatChunk | None:
        if index in self._tools and index not in self._argued:
            # a call without parameters streams no input JSON at all: its arguments are the empty object
            return ChatChunk(tool_calls=(ToolCallDelta(self._tools[index], arguments="{}"),))
        return None

    def _merge_usage(self, usage: dict[str, Any] | None) -> None:
        if usage:
            self._usage.update((key, value) for key, value in usage.items() if value is not None)
