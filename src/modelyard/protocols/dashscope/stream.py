from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.dashscope.requests import asks_incremental
from modelyard.protocols.dashscope.responses import error_from_body, finish_reason, parse_usage, text_of
from modelyard.protocols.openai.responses import arguments_text, reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta
from modelyard.types.usage import UNREPORTED


class _Growing:
    """One streamed text (content, reasoning, one call's arguments) as deltas, whichever way the model sends it.

    With `incremental_output` each event holds only the new piece; without it (or on a model that ignores it)
    each event repeats the whole text so far. While undecided, a text that does not start with the previous one
    proves the stream incremental; two texts in a row that each start with the one before prove it cumulative
    (an incremental stream does that by chance only rarely), so one such text is held back until the next
    event decides. The decision then holds for the rest of the stream.
    """

    __slots__ = ("_held", "_last", "_prior_cumulative", "cumulative", "seen")

    def __init__(self, *, prior_cumulative: bool) -> None:
        self.seen = ""  # what was emitted so far
        self.cumulative: bool | None = None
        self._prior_cumulative = prior_cumulative
        self._last = ""  # the previous raw text, while undecided
        self._held: list[str] = []

    def delta(self, text: str) -> str:
        if not text:
            return ""
        if self.cumulative:
            if text.startswith(self.seen):
                piece, self.seen = text[len(self.seen) :], text
                return piece
            self.seen += text  # not a continuation after all: pass it on rather than lose it
            return text
        if self.cumulative is False:
            self.seen += text
            return text
        if not self._last:
            self._last = self.seen = text
            return text
        if not text.startswith(self._last):
            self.cumulative = False
            return self._emit_held(text)
        self._held.append(text)
        self._last = text
        if len(self._held) < 2:
            return ""
        self.cumulative = True
        self._held.clear()
        piece, self.seen = text[len(self.seen) :], text
        return piece

    def close(self, final_text: str) -> str:
        """What is still held when the stream ends undecided.

        A cumulative stream's last event repeats the whole text; an incremental one's usually says nothing more.
        So a held text that came with the last event is read as cumulative, otherwise as the request asked.
        """
        if not self._held:
            return ""
        if final_text or self._prior_cumulative:
            last = self._held[-1]
            self._held.clear()
            piece, self.seen = last[len(self.seen) :], last
            return piece
        return self._emit_held("")

    def _emit_held(self, text: str) -> str:
        piece = "".join(self._held) + text
        self._held.clear()
        self.seen += piece
        return piece


class _Call:
    __slots__ = ("announced", "arguments")

    def __init__(self, *, prior_cumulative: bool) -> None:
        self.announced = False
        self.arguments = _Growing(prior_cumulative=prior_cumulative)


class DashScopeChatStream(ChatStreamParser):
    """Native SSE events (`event:result`, `data:{output, usage, request_id}`) to unified chunks.

    Each event carries `output.choices[0].message` (content, reasoning_content, tool_calls) and the usage so far;
    `finish_reason` is the string "null" until the last one. A failure after the 200 arrives as `event:error`
    with `{"code", "message", "request_id"}`.
    """

    __slots__ = ("_calls", "_content", "_prior_cumulative", "_reasoning", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._prior_cumulative = not asks_incremental(target)
        self._content = _Growing(prior_cumulative=self._prior_cumulative)
        self._reasoning = _Growing(prior_cumulative=self._prior_cumulative)
        self._calls: dict[int, _Call] = {}
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data or event.event == "done":
            return None
        with reading(self._target, "chat stream"):
            payload: dict[str, Any] = orjson.loads(event.data)
            if event.event == "error" or (payload.get("code") and "output" not in payload):
                self.finished = True
                raise error_from_body(self._target, 200, {}, payload, in_stream=True)
            usage = parse_usage(payload.get("usage"))
            choices = (payload.get("output") or {}).get("choices") or ()
            if not choices:
                return ChatChunk(usage=usage) if usage is not UNREPORTED else None
            choice = choices[0]
            message = choice.get("message") or {}
            text, thought = text_of(message.get("content")), message.get("reasoning_content") or ""
            raw_calls = message.get("tool_calls") or ()
            content, reasoning = self._content.delta(text), self._reasoning.delta(thought)
            tool_calls = self._tool_deltas(raw_calls)
            finish = finish_reason(choice.get("finish_reason"))
            if finish is not None:
                self.finished = True
                content += self._content.close(text)
                reasoning += self._reasoning.close(thought)
                tool_calls += self._held_arguments(raw_calls)
            return ChatChunk(
                content=content,
                reasoning=reasoning,
                tool_calls=tool_calls,
                finish_reason=finish,
                usage=None if usage is UNREPORTED else usage,
            )

    def _tool_deltas(self, raw_calls: Any) -> tuple[ToolCallDelta, ...]:
        deltas = []
        for position, raw in enumerate(raw_calls):
            index = int(raw.get("index", position))
            call = self._calls.get(index)
            if call is None:
                call = self._calls[index] = _Call(prior_cumulative=self._prior_cumulative)
            function = raw.get("function") or {}
            arguments = call.arguments.delta(arguments_text(function.get("arguments") or ""))
            if call.announced and not arguments:
                continue
            # Cumulative streams repeat the id and name on every event: they are sent once.
            first = not call.announced and bool(raw.get("id") or function.get("name"))
            call.announced = call.announced or first
            deltas.append(
                ToolCallDelta(
                    index=index,
                    id=raw.get("id") or None if first else None,
                    name=function.get("name") or None if first else None,
                    arguments=arguments,
                )
            )
        return tuple(deltas)

    def _held_arguments(self, raw_calls: Any) -> tuple[ToolCallDelta, ...]:
        final = {
            int(raw.get("index", i)): (raw.get("function") or {}).get("arguments") for i, raw in enumerate(raw_calls)
        }
        deltas = []
        for index, call in self._calls.items():
            arguments = call.arguments.close(arguments_text(final.get(index) or ""))
            if arguments:
                deltas.append(ToolCallDelta(index=index, arguments=arguments))
        return tuple(deltas)
