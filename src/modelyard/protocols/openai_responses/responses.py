"""Responses API answers back to unified results: output items to content, reasoning and tool calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from modelyard.errors import UpstreamError
from modelyard.protocols.base import Target
from modelyard.protocols.openai.responses import arguments_text, error_from_body, load_object, reading
from modelyard.types import ChatResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

# Why a response stopped short (`incomplete_details.reason`), as a unified finish reason.
INCOMPLETE_REASONS: Mapping[str, FinishReason] = {"max_output_tokens": "length", "content_filter": "content_filter"}
SUMMARY_SEPARATOR = "\n\n"  # between the parts of a reasoning summary, streamed or not


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "responses"):
        data = load_object(target, body)
        if data.get("status") == "failed":
            raise failure(target, data, in_stream=False)
        return result_of(target, data)


def result_of(target: Target, data: Mapping[str, Any]) -> ChatResult:
    """A `response` object (an answer, or the one `response.completed` carries) as a unified result."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCall] = []
    for item in data.get("output") or ():
        kind = item.get("type")
        if kind == "message":
            content.extend(_message_text(item.get("content") or ()))
        elif kind == "reasoning":
            reasoning.append(reasoning_text(item))
        elif kind == "function_call":
            call_id = item.get("call_id") or item.get("id") or f"call_{len(calls)}"
            calls.append(ToolCall(call_id, item["name"], arguments_text(item.get("arguments", ""))))
    return ChatResult(
        model=data.get("model") or target.model.id,
        content="".join(content),
        reasoning=SUMMARY_SEPARATOR.join(text for text in reasoning if text) or None,
        tool_calls=tuple(calls),
        finish_reason=finish_reason(data, has_calls=bool(calls)),
        usage=parse_usage(data.get("usage")),
        id=data.get("id"),
    )


def _message_text(parts: Iterable[Mapping[str, Any]]) -> Iterable[str]:
    for part in parts:
        if part.get("type") == "output_text":
            yield part.get("text") or ""
        elif part.get("type") == "refusal":  # the model declined: its words are the answer the caller sees
            yield part.get("refusal") or ""


def reasoning_text(item: Mapping[str, Any]) -> str:
    """A reasoning item's summary parts (or, where a server returns it, its full reasoning text)."""
    summary = [part.get("text") or "" for part in item.get("summary") or ()]
    if not any(summary):
        summary = [part.get("text") or "" for part in item.get("content") or ()]
    return SUMMARY_SEPARATOR.join(text for text in summary if text)


def finish_reason(data: Mapping[str, Any], *, has_calls: bool) -> FinishReason | None:
    status = data.get("status")
    if status == "incomplete":
        details = data.get("incomplete_details") or {}
        return INCOMPLETE_REASONS.get(details.get("reason") or "", "length")
    if status in ("completed", None):
        return "tool_calls" if has_calls else "stop"
    return None  # in_progress, queued: not an answer yet


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    if not raw:
        return UNREPORTED
    input_details = raw.get("input_tokens_details") or {}
    output_details = raw.get("output_tokens_details") or {}
    return Usage(
        prompt_tokens=raw.get("input_tokens") or 0,
        completion_tokens=raw.get("output_tokens") or 0,
        cached_tokens=input_details.get("cached_tokens") or 0,
        reasoning_tokens=output_details.get("reasoning_tokens") or 0,
    )


def failure(target: Target, response: Mapping[str, Any], *, in_stream: bool) -> UpstreamError:
    """The error a `failed` response carries, classified by its code as every OpenAI error is."""
    error = response.get("error") or {"message": "the response failed without an error object", "code": None}
    return error_from_body(target, 200, {}, {"error": error}, in_stream=in_stream)
