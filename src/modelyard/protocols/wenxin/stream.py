"""Stream parsers for both styles. Both read the stream line by line (NDJSON framing), because the legacy API
sends an error as a bare JSON line without `data:`, which SSE framing would drop; `data:` is stripped here.
"""

from __future__ import annotations

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.sse import ServerSentEvent
from modelyard.protocols.wenxin.responses import error_from_body, finish_reason_of, parse_usage, tool_calls_of
from modelyard.types import ChatChunk, ToolCallDelta


def sse_data(line: bytes) -> bytes | None:
    """The data of one stream line: `data: x` gives x, a bare line is itself, other SSE fields give None."""
    if line.startswith(b"data:"):
        return line[5:].lstrip(b" ")
    if line.startswith((b":", b"event:", b"id:", b"retry:")):
        return None
    return line


class LegacyChatStream(ChatStreamParser):
    """ERNIE's `data: {"result": delta, "is_end": bool, ...}` events; the last (`is_end`) has usage and finish.

    There is no `[DONE]`: `is_end` ends the stream. An `error_code` arrives as a bare JSON line, before or after
    the first event, and is raised as the error it stands for.
    """

    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        data = sse_data(event.data)
        if not data:
            return None
        with reading(self._target, "chat stream"):
            chunk = orjson.loads(data)
            if chunk.get("error_code"):
                raise error_from_body(self._target, 200, chunk, in_stream=True)
            calls = tool_calls_of(chunk)
            ended = bool(chunk.get("is_end"))
            self.finished = ended
            finish = finish_reason_of(chunk) if ended or calls else None
            return ChatChunk(
                content=chunk.get("result") or "",
                tool_calls=tuple(ToolCallDelta(0, c.id, c.name, c.arguments) for c in calls),
                finish_reason=finish or ("stop" if ended else None),
                usage=parse_usage(chunk["usage"]) if chunk.get("usage") else None,
            )


class V2ChatStream(ChatStreamParser):
    """Qianfan v2's OpenAI-shaped chunks, read line by line and handed to the OpenAI parser."""

    __slots__ = ("_inner", "finished")

    def __init__(self, target: Target) -> None:
        self._inner = OpenAIChatStream(target)
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        data = sse_data(event.data)
        if not data:
            return None
        chunk = self._inner.feed(ServerSentEvent(data))
        self.finished = self._inner.finished
        return chunk
