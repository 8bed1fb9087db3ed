from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.aws import stream_exception
from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.bedrock.responses import finish_reason, parse_usage
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta


class ConverseStream(ChatStreamParser):
    """ConverseStream events (decoded from the AWS event stream) to unified chunks.

    `contentBlockIndex` counts every block (text, reasoning, tool use); OpenAI's tool-call `index` counts tool
    calls only, so tool blocks are numbered apart. `metadata` (usage) comes after `messageStop` and ends it.
    """

    __slots__ = ("_target", "_tool_index", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._tool_index: dict[int, int] = {}  # contentBlockIndex -> tool-call index
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.id is not None:  # `:message-type` exception or error: the stream failed after HTTP 200
            raise stream_exception(self._target, event)
        with reading(self._target, "converse stream"):
            kind = event.event
            data: dict[str, Any] = orjson.loads(event.data) if event.data else {}
            if kind == "contentBlockDelta":
                return self._delta(data["contentBlockIndex"], data["delta"])
            if kind == "contentBlockStart":
                use = (data.get("start") or {}).get("toolUse")
                if use is None:
                    return None
                index = self._tool_index.setdefault(data["contentBlockIndex"], len(self._tool_index))
                return ChatChunk(tool_calls=(ToolCallDelta(index=index, id=use["toolUseId"], name=use["name"]),))
            if kind == "messageStop":
                return ChatChunk(finish_reason=finish_reason(data.get("stopReason")) or "stop")
            if kind == "metadata":
                self.finished = True
                return ChatChunk(usage=parse_usage(data.get("usage")))
            return None  # messageStart, contentBlockStop, and members newer than this parser

    def _delta(self, block: int, delta: dict[str, Any]) -> ChatChunk | None:
        if "text" in delta:
            return ChatChunk(content=delta["text"])
        if "toolUse" in delta:
            index = self._tool_index.setdefault(block, len(self._tool_index))
            return ChatChunk(tool_calls=(ToolCallDelta(index=index, arguments=delta["toolUse"].get("input", "")),))
        reasoning = delta.get("reasoningContent")
        if reasoning and reasoning.get("text"):
            return ChatChunk(reasoning=reasoning["text"])
        return None  # reasoning signatures, redacted reasoning, citations
