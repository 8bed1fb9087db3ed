"""Anthropic Messages answers and errors back to unified results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import ProviderQuotaExhaustedError, UpstreamError
from modelyard.protocols.anthropic.thinking import ReasoningBlock, SignedResult
from modelyard.protocols.base import RemoteModel, Target
from modelyard.protocols.errors import error_for_status, redact, upstream_message, where_reported
from modelyard.protocols.openai.responses import reading
from modelyard.types import ChatResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

STOP_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",  # a long server-tool turn paused; sending the answer back continues it
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

# `error.type` to the status it comes with: errors inside a 200 stream carry only the type.
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}
# 429s that are spending caps, not rate limits: retrying will not help (anthropic 2.14.0 `_error_classes.py`).
_SPEND_LIMIT_CODES = frozenset({"enforced_spend_limit_reached", "contract_spend_limit_reached"})


def load_message(target: Target, body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("type") == "error":
        raise error_from_body(target, 200, {}, data)
    return data


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    """Anthropic's input tokens exclude cache reads and writes: the prompt is all three."""
    if not raw:
        return UNREPORTED
    cache_read = raw.get("cache_read_input_tokens") or 0
    cache_write = raw.get("cache_creation_input_tokens") or 0
    # Writes kept an hour cost more than five-minute ones; `cache_creation` splits them (prompt caching docs).
    by_lifetime = raw.get("cache_creation") or {}
    details = raw.get("output_tokens_details") or {}
    return Usage(
        prompt_tokens=(raw.get("input_tokens") or 0) + cache_read + cache_write,
        completion_tokens=raw.get("output_tokens") or 0,
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=min(by_lifetime.get("ephemeral_1h_input_tokens") or 0, cache_write),
        reasoning_tokens=details.get("thinking_tokens") or 0,
    )


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "messages"):
        data = load_message(target, body)
        texts: list[str] = []
        calls: list[ToolCall] = []
        blocks: list[ReasoningBlock] = []
        for block in data["content"]:
            kind = block["type"]
            if kind == "text":
                texts.append(block["text"])
            elif kind == "tool_use":
                calls.append(ToolCall(block["id"], block["name"], orjson.dumps(block.get("input") or {}).decode()))
            elif kind == "thinking":
                blocks.append(ReasoningBlock(text=block.get("thinking") or "", signature=block.get("signature")))
            elif kind == "redacted_thinking":
                blocks.append(ReasoningBlock(redacted=block["data"]))
            # server-tool blocks (web search results ...) have no unified form and are skipped
        reasoning = "".join(b.text for b in blocks) or None
        fields: dict[str, Any] = {
            "model": data.get("model") or target.model.id,
            "content": "".join(texts),
            "finish_reason": STOP_REASONS.get(data.get("stop_reason") or ""),
            "usage": parse_usage(data.get("usage")),
            "tool_calls": tuple(calls),
            "reasoning": reasoning,
            "id": data.get("id"),
        }
        return SignedResult(**fields, reasoning_blocks=tuple(blocks)) if blocks else ChatResult(**fields)


def parse_list_models(target: Target, body: bytes) -> list[RemoteModel]:
    with reading(target, "model list"):
        data = orjson.loads(body)
        return [RemoteModel(id=str(item["id"]), owned_by="anthropic") for item in data["data"]]


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:  # an HTML page from the edge (413 before the API, 5xx from a proxy)
        data = {"error": {"message": body[:300].decode("utf-8", "replace")}}
    return error_from_body(target, status, headers, data if isinstance(data, dict) else {})


def error_from_body(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """`{"type": "error", "error": {"type", "message", "details": {"error_code"}}}`, as a status or in a stream."""
    error = data.get("error")
    error = error if isinstance(error, Mapping) else {}
    kind = error.get("type")
    details = error.get("details")
    code = details.get("error_code") if isinstance(details, Mapping) else None
    where = where_reported(status, in_stream=in_stream)
    if status == 200:  # an error event inside a stream: the type says what the status would have been
        status = _STATUS_OF_TYPE.get(str(kind), 502)
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(str(error.get("message") or ""), secrets)
    if code in _SPEND_LIMIT_CODES:
        return ProviderQuotaExhaustedError(
            upstream_message("spend limit reached", message, status, str(code), where=where),
            provider=target.provider.id,
            status_code=status,
            vendor_code=str(code),
        )
    return error_for_status(
        provider=target.provider.id,
        status=status,
        message=message,
        code=str(code or kind) if (code or kind) else None,
        headers=headers,
        where=where,
    )
