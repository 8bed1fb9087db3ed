from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.gemini.responses import (
    call_id,
    check_prompt_feedback,
    error_from_body,
    finish_reason,
    parse_usage,
    reading,
)
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta


class GeminiChatStream(ChatStreamParser):
    """`streamGenerateContent?alt=sse` events to unified chunks.

    Each event is a whole GenerateContentResponse whose text parts are deltas; the stream simply ends (no
    terminator). Function calls arrive whole, one per part, so each gets its own index. Usage comes on several
    events, growing; the runtime keeps the last one.
    """

    __slots__ = ("_calls", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._calls = 0  # function calls seen so far: the next call's index
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data.strip():
            return None
        with reading(self._target, "chat stream"):
            data: dict[str, Any] = orjson.loads(event.data)
            if isinstance(data.get("error"), dict):  # an error after the stream started
                raise error_from_body(self._target, 200, {}, data, in_stream=True)
            check_prompt_feedback(self._target, data)
            usage = parse_usage(data["usageMetadata"]) if data.get("usageMetadata") else None
            candidate = (data.get("candidates") or [{}])[0]
            content: list[str] = []
            reasoning: list[str] = []
            calls: list[ToolCallDelta] = []
            for part in (candidate.get("content") or {}).get("parts") or ():
                function_call = part.get("functionCall", part.get("function_call"))
                if function_call is not None:
                    arguments = orjson.dumps(function_call.get("args") or {}).decode()
                    calls.append(
                        ToolCallDelta(
                            index=self._calls,
                            id=call_id(part, function_call, self._calls),
                            name=function_call["name"],
                            arguments=arguments,
                        )
                    )
                    self._calls += 1
                elif isinstance(part.get("text"), str):
                    (reasoning if part.get("thought") else content).append(part["text"])
            finish = finish_reason(candidate.get("finishReason"), has_calls=self._calls > 0)
            if not (content or reasoning or calls or finish or usage):
                return None
            return ChatChunk(
                content="".join(content),
                reasoning="".join(reasoning),
                tool_calls=tuple(calls),
                finish_reason=finish,
                usage=usage,
            )
