from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import ChatStreamParser, Target
from modelyard.protocols.openai.responses import arguments_text, error_from_body, reading
from modelyard.protocols.openai_responses.responses import SUMMARY_SEPARATOR, failure, finish_reason, parse_usage
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ToolCallDelta

_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta"})
_REASONING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})
_ENDS = frozenset({"response.completed", "response.incomplete"})


class ResponsesChatStream(ChatStreamParser):
    """The Responses API's typed events to unified chunks.

    Text and reasoning come from their delta events; each `function_call` output item becomes one tool call (its
    unified index counts the calls, whatever the output index). A part whose deltas never came (a server that sends
    only `.done` events) is taken from its `output_item.done`. `response.completed` / `.incomplete` end the stream
    with usage; `response.failed` and `error` events raise the mapped error.
    """

    __slots__ = ("_calls", "_streamed", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._calls: dict[int, int] = {}  # output index -> unified tool-call index
        self._streamed: set[int] = set()  # output indexes whose text or arguments arrived as deltas
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data or event.data == b"[DONE]":
            return None
        with reading(self._target, "responses stream"):
            data: dict[str, Any] = orjson.loads(event.data)
            kind = data.get("type") or event.event
            if kind in _TEXT_DELTAS:
                self._streamed.add(data["output_index"])
                return ChatChunk(content=data["delta"])
            if kind in _REASONING_DELTAS:
                return ChatChunk(reasoning=data["delta"])
            if kind == "response.reasoning_summary_part.added" and data.get("summary_index"):
                return ChatChunk(reasoning=SUMMARY_SEPARATOR)
            if kind == "response.function_call_arguments.delta":
                self._streamed.add(data["output_index"])
                index = self._calls[data["output_index"]]
                return ChatChunk(tool_calls=(ToolCallDelta(index=index, arguments=data["delta"]),))
            if kind == "response.output_item.added":
                return self._item_added(data["output_index"], data["item"])
            if kind == "response.output_item.done":
                return self._item_done(data["output_index"], data["item"])
            if kind in _ENDS:
                self.finished = True
                response = data["response"]
                return ChatChunk(
                    finish_reason=finish_reason(response, has_calls=bool(self._calls)),
                    usage=parse_usage(response.get("usage")),
                )
            if kind == "response.failed":
                raise failure(self._target, data["response"], in_stream=True)
            if kind == "error":
                error = {"message": data.get("message") or "", "code": data.get("code")}
                raise error_from_body(self._target, 200, {}, {"error": error}, in_stream=True)
            return None  # lifecycle and `.done` events carry nothing the deltas did not

    def _item_added(self, output_index: int, item: dict[str, Any]) -> ChatChunk | None:
        if item.get("type") != "function_call":
            return None
        index = self._calls[output_index] = len(self._calls)
        call_id = item.get("call_id") or item.get("id") or f"call_{index}"
        arguments = arguments_text(item.get("arguments") or "")
        if arguments:
            self._streamed.add(output_index)
        delta = ToolCallDelta(index=index, id=call_id, name=item.get("name") or "", arguments=arguments)
        return ChatChunk(tool_calls=(delta,))

    def _item_done(self, output_index: int, item: dict[str, Any]) -> ChatChunk | None:
        if output_index in self._streamed:
            return None
        if item.get("type") == "function_call" and output_index in self._calls:
            arguments = arguments_text(item.get("arguments") or "")
            return ChatChunk(tool_calls=(ToolCallDelta(index=self._calls[output_index], arguments=arguments),))
        if item.get("type") == "message":
            parts = item.get("content") or ()
            text = "".join(p.get("text") or p.get("refusal") or "" for p in parts)
            return ChatChunk(content=text) if text else None
        return None
