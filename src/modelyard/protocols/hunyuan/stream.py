"""Hunyuan streams, read line by line (the protocol's framing is `ndjson`), for both of its APIs.

A refused streamed call is not an event stream at all: Hunyuan answers HTTP 200 with a plain JSON
`{"Response": {"Error": ...}}` body (the SDK checks the Content-Type before reading SSE). An SSE decoder drops a
body without `data:` lines, so the stream would end empty and look like success; reading lines sees both.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.hunyuan.responses import FINISH_REASONS, error_message, parse_usage
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.sse import ServerSentEvent
from modelyard.protocols.tencent_cloud import unwrap
from modelyard.types import ChatChunk, ToolCallDelta
from modelyard.types.usage import UNREPORTED


def data_of(target: Target, line: bytes) -> bytes | None:
    """The payload of an SSE `data:` line; None for other fields, comments and blank lines.

    A line that is a JSON object is the refusal described above: its error is raised here.
    """
    if line.startswith(b"data:"):
        return line[6:] if line.startswith(b"data: ") else line[5:]
    if line.startswith(b"{"):
        unwrap(target, line, "chat stream")  # raises the error it carries
        raise ValueError("a JSON body in place of an event stream")
    return None


class HunyuanChatStream(ChatStreamParser):
    """Native events: `data: {Choices: [{Delta, FinishReason}], Usage, ErrorMsg}`, no envelope, no [DONE].

    Usage is cumulative on every event; FinishReason is empty until the last one. Tool calls arrive in
    `Delta.ToolCalls` with an `Index`.
    """

    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        with reading(self._target, "chat stream"):
            data = data_of(self._target, event.data)
            if not data:
                return None
            if data == b"[DONE]":  # not documented for the native API; tolerated
                self.finished = True
                return None
            payload: dict[str, Any] = orjson.loads(data)
            if payload.get("ErrorMsg"):
                raise error_message(self._target, payload["ErrorMsg"])
            if payload.get("Response"):  # an enveloped answer mid-stream: an error, or a whole answer
                payload = unwrap(self._target, data, "chat stream")
            choices = payload.get("Choices") or []
            usage = parse_usage(payload.get("Usage"))
            usage_or_none = None if usage is UNREPORTED else usage
            if not choices:
                return ChatChunk(usage=usage_or_none) if usage_or_none else None
            choice = choices[0]
            delta = choice.get("Delta") or choice.get("Message") or {}
            finish = choice.get("FinishReason") or ""  # the stream still runs until the body ends
            return ChatChunk(
                content=delta.get("Content") or "",
                reasoning=delta.get("ReasoningContent") or "",
                tool_calls=tuple(_tool_delta(i, raw) for i, raw in enumerate(delta.get("ToolCalls") or ())),
                finish_reason=FINISH_REASONS.get(finish, "stop") if finish else None,
                usage=usage_or_none,
            )


def _tool_delta(position: int, raw: dict[str, Any]) -> ToolCallDelta:
    function = raw.get("Function") or {}
    index = raw.get("Index")
    return ToolCallDelta(
        index=int(index) if index is not None else position,
        id=raw.get("Id") or None,
        name=function.get("Name") or None,
        arguments=function.get("Arguments") or "",
    )


class OpenAILines(ChatStreamParser):
    """The OpenAI-compatible endpoint's SSE, read as lines: `data:` payloads go to the OpenAI stream parser."""

    __slots__ = ("_inner", "_target")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._inner = OpenAIChatStream(target)

    @property
    def finished(self) -> bool:  # type: ignore[override]
        return self._inner.finished

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        line = event.data
        if line.startswith(b"{"):  # an error body in place of a stream: the OpenAI parser reads `error`
            return self._inner.feed(ServerSentEvent(line))
        with reading(self._target, "chat stream"):
            data = data_of(self._target, line)
        return self._inner.feed(ServerSentEvent(data)) if data is not None else None
