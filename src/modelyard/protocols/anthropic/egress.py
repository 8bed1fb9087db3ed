"""Unified results, chunks and errors to Anthropic's shapes: what `POST /v1/messages` answers, whatever the
upstream spoke. `message` writes a whole answer, `MessageEvents` a stream's named events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.protocols.anthropic.thinking import ReasoningBlock, SignedChunk, SignedResult
from modelyard.types import ChatChunk, ChatResult, Usage

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}
# Anthropic's error types by status (docs.claude.com/en/api/errors, 2026-12; billing_error and timeout_error are in
# the SDK's ErrorType); other 4xx are invalid_request_error, other 5xx api_error, as that page says.
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def usage_body(usage: Usage) -> dict[str, Any]:
    """Anthropic counts cache reads apart from input tokens; unified usage counts them in the prompt."""
    body: dict[str, Any] = {
        "input_tokens": max(usage.prompt_tokens - usage.cached_tokens - usage.cache_write_tokens, 0),
        "output_tokens": usage.completion_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_tokens,
    }
    if usage.reasoning_tokens:
        body["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return body


def stop_reason(result_finish: str | None) -> str:
    return _STOP_REASONS.get(result_finish or "", "end_turn")


def message(result: ChatResult, *, message_id: str, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(result, SignedResult):
        content.extend(_thinking(block) for block in result.reasoning_blocks)
    elif result.reasoning:  # reasoning from another vendor: there is no signature to give
        content.append({"type": "thinking", "thinking": result.reasoning, "signature": ""})
    if result.content or not result.tool_calls:
        content.append({"type": "text", "text": result.content})
    content.extend(
        {"type": "tool_use", "id": call.id, "name": call.name, "input": tool_input(call.arguments)}
        for call in result.tool_calls
    )
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(result.finish_reason),
        "stop_sequence": None,
        "usage": usage_body(result.usage),
    }


def _thinking(block: ReasoningBlock) -> dict[str, Any]:
    if block.redacted is not None:
        return {"type": "redacted_thinking", "data": block.redacted}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature or ""}


def tool_input(arguments: str) -> dict[str, Any]:
    """Tool arguments as the object Anthropic's shape needs; arguments that are not a JSON object become {}."""
    try:
        value = orjson.loads(arguments) if arguments.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def error_type(status: int) -> str:
    return _ERROR_TYPES.get(status) or ("api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, text: str, *, request_id: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type(status), "message": text}}
    if request_id is not None:
        body["request_id"] = request_id
    return orjson.dumps(body)


def event(name: str, payload: Mapping[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


class MessageEvents:
    """Unified chunks to Anthropic's named stream events; one instance per stream, since blocks open and close.

    Blocks follow the chunks: reasoning opens a thinking block, content a text block, each tool call (by index) a
    tool_use block; any new kind closes the open one. Providers stream one tool call after another, which is what
    this assumes. The chunk that carries usage (the last one) closes the message.
    """

    __slots__ = ("_index", "_message_id", "_model", "_open", "_tool")

    def __init__(self, *, message_id: str, model: str) -> None:
        self._message_id = message_id
        self._model = model
        self._index = -1  # index of the latest block
        self._open: str | None = None  # the kind of the open block
        self._tool: int | None = None  # the unified index of the open tool_use block

    def start(self) -> bytes:
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},  # the totals follow in message_delta
        }
        return event("message_start", {"type": "message_start", "message": message})

    def chunk(self, chunk: ChatChunk) -> bytes:
        out: list[bytes] = []
        signed = chunk if isinstance(chunk, SignedChunk) else None
        if signed is not None and signed.redacted_reasoning:
            out.append(self._close())
            out.append(self._open_block("redacted", {"type": "redacted_thinking", "data": signed.redacted_reasoning}))
            out.append(self._close())
        if chunk.reasoning:
            out.append(self._ensure("thinking", {"type": "thinking", "thinking": "", "signature": ""}))
            out.append(self._delta({"type": "thinking_delta", "thinking": chunk.reasoning}))
        if signed is not None and signed.reasoning_signature:
            out.append(self._ensure("thinking", {"type": "thinking", "thinking": "", "signature": ""}))
            out.append(self._delta({"type": "signature_delta", "signature": signed.reasoning_signature}))
            out.append(self._close())
        if chunk.content:
            out.append(self._ensure("text", {"type": "text", "text": ""}))
            out.append(self._delta({"type": "text_delta", "text": chunk.content}))
        for delta in chunk.tool_calls:
            if self._open != "tool" or self._tool != delta.index:
                out.append(self._close())
                block = {
                    "type": "tool_use",
                    "id": delta.id or f"toolu_{delta.index}",
                    "name": delta.name or "",
                    "input": {},
                }
                out.append(self._open_block("tool", block))
                self._tool = delta.index
            if delta.arguments:
                out.append(self._delta({"type": "input_json_delta", "partial_json": delta.arguments}))
        if chunk.usage is not None:
            out.append(self._close())
            delta_body = {"stop_reason": stop_reason(chunk.finish_reason), "stop_sequence": None}
            out.append(
                event("message_delta", {"type": "message_delta", "delta": delta_body, "usage": usage_body(chunk.usage)})
            )
            out.append(event("message_stop", {"type": "message_stop"}))
        return b"".join(out)

    def error(self, status: int, text: str) -> bytes:
        return event("error", {"type": "error", "error": {"type": error_type(status), "message": text}})

    def _ensure(self, kind: str, block: dict[str, Any]) -> bytes:
        if self._open == kind:
            return b""
        return self._close() + self._open_block(kind, block)

    def _open_block(self, kind: str, block: dict[str, Any]) -> bytes:
        self._index += 1
        self._open = kind
        return event(
            "content_block_start", {"type": "content_block_start", "index": self._index, "content_block": block}
        )

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return event("content_block_delta", {"type": "content_block_delta", "index": self._index, "delta": delta})

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        self._open, self._tool = None, None
        return event("content_block_stop", {"type": "content_block_stop", "index": self._index})
