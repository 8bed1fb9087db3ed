"""Unified results to Responses API objects, and unified stream chunks to its typed events, whatever the upstream.

The shapes are those the `openai` SDK's types declare (openai 3.63, `types/responses/`): a `response` object with
`output` items (`reasoning`, `message`, `function_call`) and usage, and for a stream `response.created`,
`response.in_progress`, one `output_item.added` ... `output_item.done` bracket per item with its deltas inside, then
`response.completed` (or `.incomplete` when cut short, `.failed` after an `error` event). Reasoning text is answered
as a reasoning summary, and only when the request asked for one, as OpenAI does.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from modelyard.error_contract import ErrorAnswer, Kind
from modelyard.protocols.openai_responses.ingress import ResponsesCall
from modelyard.protocols.openai_responses.requests import function_call
from modelyard.types import ChatChunk, ChatResult, Usage
from modelyard.types.chat import FinishReason

# The codes a failed response's `error` may carry are a closed set in the SDK (ResponseError.code); the error
# contract's own code goes in the `error` event, whose code is free.
_FAILURE_CODES = {Kind.RATE_LIMITED: "rate_limit_exceeded"}


def new_response_id() -> str:
    """Random, not derived from the request id a client may choose: ids address stored responses."""
    return "resp_" + secrets.token_hex(24)


def usage_body(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def shell(call: ResponsesCall, *, response_id: str, model: str) -> dict[str, Any]:
    """The response object as it starts: in progress, no output, the request's options repeated."""
    echo = call.echo
    reasoning = {"effort": call.request.reasoning_effort, "summary": call.reasoning_summary}
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": call.instructions,
        "max_output_tokens": echo.get("max_output_tokens"),
        "metadata": call.metadata,
        "model": model,
        "output": [],
        "parallel_tool_calls": echo["parallel_tool_calls"],
        "previous_response_id": call.previous_response_id,
        "reasoning": reasoning,
        "store": call.store,
        "temperature": echo.get("temperature"),
        "text": echo["text"],
        "tool_choice": echo["tool_choice"],
        "tools": echo["tools"],
        "top_p": echo.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": echo.get("user"),
    }


def response(call: ResponsesCall, result: ChatResult, *, response_id: str, model: str) -> dict[str, Any]:
    """The whole answer to a call that did not stream."""
    body = shell(call, response_id=response_id, model=model)
    ids = _ItemIds(response_id)
    status, _, _ = _status(result.finish_reason)
    output = body["output"]
    if result.reasoning and call.reasoning_summary is not None:
        output.append(_reasoning_item(ids.next("rs"), result.reasoning))
    if result.content or not result.tool_calls:
        output.append(_message_item(ids.next("msg"), result.content, "incomplete" if status == "incomplete" else None))
    for call_ in result.tool_calls:
        output.append(_function_call_item(ids.next("fc"), function_call(call_.id, call_.name, call_.arguments)))
    return _finish(body, result.finish_reason, result.usage)


def _finish(body: dict[str, Any], finish_reason: FinishReason | None, usage: Usage) -> dict[str, Any]:
    status, incomplete, error = _status(finish_reason)
    body.update(status=status, incomplete_details=incomplete, error=error, usage=usage_body(usage))
    if status == "completed":
        body["completed_at"] = int(time.time())
    return body


def _status(finish_reason: FinishReason | None) -> tuple[str, dict[str, str] | None, dict[str, str] | None]:
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}, None
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}, None
    if finish_reason == "error":
        return "failed", None, {"code": "server_error", "message": "the model stopped with an error"}
    return "completed", None, None


def _reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]}


def _message_item(item_id: str, text: str | None, status: str | None = None) -> dict[str, Any]:
    content = [] if text is None else [_text_part(text)]
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status or ("in_progress" if text is None else "completed"),
        "content": content,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _function_call_item(item_id: str, call: dict[str, Any], status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, **call, "status": status}


class _ItemIds:
    """Output item ids unique within the response and across responses (they embed the response id)."""

    __slots__ = ("_base", "_count")

    def __init__(self, response_id: str) -> None:
        self._base = response_id.removeprefix("resp_")
        self._count = 0

    def next(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._base}{self._count:04x}"


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **payload}) + b"\n\n"


class ResponseEvents:
    """Unified chunks to the typed event stream; one instance per stream, since items open and close.

    Reasoning opens a reasoning item (when a summary was asked for), content a message item, each tool call (by its
    unified index) a function_call item; reasoning and message items close when another kind starts, function calls
    when the answer ends, so calls streamed interleaved keep their own items. The chunk with usage (the last)
    closes everything and ends with the terminal event, after which `response` is the final object.
    """

    __slots__ = ("_calls", "_ids", "_reasoning", "_sequence", "_summary", "_text", "done", "response")

    def __init__(self, response: dict[str, Any], *, summary: bool) -> None:
        self.response = response
        self.done = False  # the terminal event is written
        self._summary = summary
        self._ids = _ItemIds(response["id"])
        self._sequence = 0
        self._reasoning: tuple[int, list[str]] | None = None  # open reasoning item: output index, text so far
        self._text: tuple[int, list[str]] | None = None  # open message item
        self._calls: dict[int, tuple[int, list[str]]] = {}  # unified call index -> output index, arguments so far

    def start(self) -> bytes:
        snapshot = {"response": self.response}
        return self._event("response.created", snapshot) + self._event("response.in_progress", snapshot)

    def chunk(self, chunk: ChatChunk) -> bytes:
        out: list[bytes] = []
        if chunk.reasoning and self._summary:
            out.append(self._close_text())
            out.append(self._reasoning_delta(chunk.reasoning))
        if chunk.content:
            out.append(self._close_reasoning())
            out.append(self._text_delta(chunk.content))
        for delta in chunk.tool_calls:
            out.append(self._close_reasoning() + self._close_text())
            if delta.index not in self._calls:
                out.append(self._open_call(delta.index, delta.id, delta.name))
            if delta.arguments:
                index, arguments = self._calls[delta.index]
                arguments.append(delta.arguments)
                item_id = self.response["output"][index]["id"]
                out.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        {"item_id": item_id, "output_index": index, "delta": delta.arguments},
                    )
                )
        if chunk.usage is not None:
            out.append(self._end(chunk.finish_reason, chunk.usage))
        return b"".join(out)

    def failed(self, answer: ErrorAnswer) -> bytes:
        """An `error` event with the contract's code, then `response.failed`; the stream ends after them."""
        self.done = True
        code = _FAILURE_CODES.get(answer.kind, "server_error")
        self.response.update(status="failed", error={"code": code, "message": answer.message})
        error = {"code": answer.code, "message": answer.message, "param": answer.field}
        return self._event("error", error) + self._event("response.failed", {"response": self.response})

    # --- items ----------------------------------------------------------------------------------------------------

    def _reasoning_delta(self, text: str) -> bytes:
        opened = b""
        if self._reasoning is None:
            item = {"id": self._ids.next("rs"), "type": "reasoning", "summary": []}
            index = self._add(item)
            self._reasoning = (index, [])
            part = {"type": "summary_text", "text": ""}
            opened = self._added(index, item) + self._event(
                "response.reasoning_summary_part.added",
                {"item_id": item["id"], "output_index": index, "summary_index": 0, "part": part},
            )
        index, texts = self._reasoning
        texts.append(text)
        where = {"item_id": self.response["output"][index]["id"], "output_index": index, "summary_index": 0}
        return opened + self._event("response.reasoning_summary_text.delta", {**where, "delta": text})

    def _close_reasoning(self) -> bytes:
        if self._reasoning is None:
            return b""
        (index, texts), self._reasoning = self._reasoning, None
        text = "".join(texts)
        item = _reasoning_item(self.response["output"][index]["id"], text)
        self.response["output"][index] = item
        where = {"item_id": item["id"], "output_index": index, "summary_index": 0}
        return (
            self._event("response.reasoning_summary_text.done", {**where, "text": text})
            + self._event("response.reasoning_summary_part.done", {**where, "part": item["summary"][0]})
            + self._done(index, item)
        )

    def _text_delta(self, text: str) -> bytes:
        opened = b""
        if self._text is None:
            item = _message_item(self._ids.next("msg"), None)
            index = self._add(item)
            self._text = (index, [])
            opened = self._added(index, item) + self._event(
                "response.content_part.added",
                {"item_id": item["id"], "output_index": index, "content_index": 0, "part": _text_part("")},
            )
        index, texts = self._text
        texts.append(text)
        where = {"item_id": self.response["output"][index]["id"], "output_index": index, "content_index": 0}
        return opened + self._event("response.output_text.delta", {**where, "delta": text, "logprobs": []})

    def _close_text(self, status: str = "completed") -> bytes:
        if self._text is None:
            return b""
        (index, texts), self._text = self._text, None
        text = "".join(texts)
        item = _message_item(self.response["output"][index]["id"], text, status)
        self.response["output"][index] = item
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        return (
            self._event("response.output_text.done", {**where, "text": text, "logprobs": []})
            + self._event("response.content_part.done", {**where, "part": item["content"][0]})
            + self._done(index, item)
        )

    def _open_call(self, call_index: int, call_id: str | None, name: str | None) -> bytes:
        call = function_call(call_id or f"call_{call_index}", name or "", "")
        item = _function_call_item(self._ids.next("fc"), call, "in_progress")
        index = self._add(item)
        self._calls[call_index] = (index, [])
        return self._added(index, item)

    def _close_calls(self) -> bytes:
        out = []
        for index, arguments in self._calls.values():
            current = self.response["output"][index]
            item = {**current, "arguments": "".join(arguments), "status": "completed"}
            self.response["output"][index] = item
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    {"item_id": item["id"], "output_index": index, "arguments": item["arguments"]},
                )
            )
            out.append(self._done(index, item))
        self._calls = {}
        return b"".join(out)

    def _end(self, finish_reason: FinishReason | None, usage: Usage) -> bytes:
        status, _, _ = _status(finish_reason)
        closed = self._close_reasoning() + self._close_text("incomplete" if status == "incomplete" else "completed")
        closed += self._close_calls()
        _finish(self.response, finish_reason, usage)
        self.done = True
        return closed + self._event(f"response.{status}", {"response": self.response})

    # --- framing --------------------------------------------------------------------------------------------------

    def _add(self, item: dict[str, Any]) -> int:
        self.response["output"].append(item)
        return len(self.response["output"]) - 1

    def _added(self, index: int, item: dict[str, Any]) -> bytes:
        return self._event("response.output_item.added", {"output_index": index, "item": item})

    def _done(self, index: int, item: dict[str, Any]) -> bytes:
        return self._event("response.output_item.done", {"output_index": index, "item": item})

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        encoded = event(kind, {**payload, "sequence_number": self._sequence})
        self._sequence += 1
        return encoded
