from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.openai.responses import FINISH_REASONS, arguments_text, error_from_body, parse_usage, reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta

_DONE = b"[DONE]"


class OpenAIChatStream(ChatStreamParser):
    """Chat-completion chunks to unified chunks.

    Tolerates what compatible servers do differently: usage on every chunk or on an empty-choices chunk,
    tool-call deltas without `index`, reasoning in `reasoning_content` or `reasoning`, no `[DONE]` at all, and
    events ended by a single newline (Dify's stream_mode_delimiter "\n"): the decoder then joins their data lines
    into one event, read here line by line into one chunk.
    """

    __slots__ = ("_index_by_id", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._index_by_id: dict[str, int] = {}
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        data = event.data
        if data == _DONE:
            self.finished = True
            return None
        if not data:
            return None
        if b"\n" in data and data.lstrip()[:1] == b"{":  # several events without blank lines between them
            return _merged([self.feed(ServerSentEvent(line)) for line in data.split(b"\n") if line.strip()])
        with reading(self._target, "chat stream"):
            chunk: dict[str, Any] = orjson.loads(data)
            if chunk.get("error"):  # an error after the stream started arrives as a data event
                raise error_from_body(self._target, 200, {}, chunk, in_stream=True)
            choices = chunk.get("choices")
            usage = parse_usage(chunk["usage"]) if chunk.get("usage") else None
            if not choices:  # the include_usage chunk, or Azure's prompt-filter preamble
                return ChatChunk(usage=usage) if usage else None
            choice = choices[0]
            delta = choice.get("delta") or {}
            finish = choice.get("finish_reason")
            tool_calls = delta.get("tool_calls")
            return ChatChunk(
                content=delta.get("content") or "",
                reasoning=delta.get("reasoning_content") or delta.get("reasoning") or "",
                tool_calls=self._tool_deltas(tool_calls) if tool_calls else (),
                finish_reason=FINISH_REASONS.get(finish) if finish else None,
                usage=usage,
            )

    def _tool_deltas(self, raw_calls: list[dict[str, Any]]) -> tuple[ToolCallDelta, ...]:
        deltas = []
        for raw in raw_calls:
            call_id = raw.get("id")
            index = raw.get("index")
            if index is None:  # servers that send whole calls without an index: key them by id
                index = self._index_by_id.setdefault(call_id or "", len(self._index_by_id))
            function = raw.get("function") or {}
            arguments = function.get("arguments")
            deltas.append(
                ToolCallDelta(
                    index=index,
                    id=call_id,
                    name=function.get("name"),
                    arguments=arguments_text(arguments) if arguments is not None else "",
                )
            )
        return tuple(deltas)


def _merged(chunks: list[ChatChunk | None]) -> ChatChunk | None:
    """Chunks read from one joined event, as one: texts and tool deltas in order, the last finish reason and usage."""
    present = [chunk for chunk in chunks if chunk is not None]
    if not present:
        return None
    return ChatChunk(
        content="".join(chunk.content for chunk in present),
        reasoning="".join(chunk.reasoning for chunk in present),
        tool_calls=tuple(delta for chunk in present for delta in chunk.tool_calls),
        finish_reason=next((c.finish_reason for c in reversed(present) if c.finish_reason), None),
        usage=next((c.usage for c in reversed(present) if c.usage), None),
    )
