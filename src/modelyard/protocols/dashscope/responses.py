"""DashScope's native answers back to unified results, and its error codes into the hierarchy."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import Target
from modelyard.protocols.errors import error_for_status, redact, retry_after_s, upstream_message, where_reported
from modelyard.protocols.openai.responses import FINISH_REASONS, arguments_text, reading
from modelyard.types import (
    ChatResult,
    EmbeddingResult,
    RerankHit,
    RerankRequest,
    RerankResult,
    ToolCall,
    TranscriptionResult,
    Usage,
)
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

# Error codes: help.aliyun.com/zh/model-studio/error-code (native `code`, compatible-mode `error.code`).
_AUTH_CODES = frozenset(
    {"InvalidApiKey", "invalid_api_key", "AccessDenied", "AccessDenied.Unpurchased", "Unauthorized"}
)
_QUOTA_CODES = frozenset({"Arrearage", "insufficient_quota", "Throttling.AllocationQuota", "AllocationQuota"})
_FILTER_CODES = frozenset({"DataInspectionFailed", "data_inspection_failed"})
_UNAVAILABLE_CODES = frozenset({"InternalError", "ServiceUnavailable", "SystemError"})
_REFUSED_FAMILIES = frozenset({"BadRequest", "invalid_request_error", "ModelNotFound", "model_not_found"})
# Over-long input comes back as InvalidParameter with no code of its own, e.g. "Range of input length should be
# [1, 129024]"; only the message tells it apart.
_TOO_LONG = re.compile(r"input length|context length|maximum.{0,20}(length|tokens)|too long", re.IGNORECASE)


def load_object(target: Target, body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("code") and "output" not in data:  # an error answered with HTTP 200
        raise error_from_body(target, 200, {}, data)
    return data


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    """Native usage: `input_tokens` / `output_tokens`, cached and reasoning counts in their details."""
    if not raw or ("input_tokens" not in raw and "output_tokens" not in raw):
        return UNREPORTED
    prompt_details = raw.get("prompt_tokens_details") or {}
    output_details = raw.get("output_tokens_details") or {}
    return Usage(
        prompt_tokens=int(raw.get("input_tokens") or 0),
        completion_tokens=int(raw.get("output_tokens") or 0),
        cached_tokens=int(prompt_details.get("cached_tokens") or 0),
        reasoning_tokens=int(output_details.get("reasoning_tokens") or 0),
    )


def text_of(content: Any) -> str:
    """Message content: a string from text-generation, a list of `{"text": ...}` items from multimodal-generation."""
    if isinstance(content, list):
        return "".join(item.get("text") or "" for item in content if isinstance(item, dict))
    return content or ""


def finish_reason(raw: Any) -> FinishReason | None:
    # Until the last event the native API says the STRING "null".
    if not raw or raw == "null":
        return None
    return FINISH_REASONS.get(raw, "stop")


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "chat"):
        data = load_object(target, body)
        output = data["output"]
        choices = output.get("choices")
        if not choices:  # result_format "text", the legacy shape
            return ChatResult(
                model=target.model.id,
                content=output.get("text") or "",
                finish_reason=finish_reason(output.get("finish_reason")),
                usage=parse_usage(data.get("usage")),
                id=data.get("request_id"),
            )
        choice = choices[0]
        message = choice["message"]
        tool_calls = tuple(
            ToolCall(
                call.get("id") or f"call_{i}",
                call["function"]["name"],
                arguments_text(call["function"].get("arguments") or ""),
            )
            for i, call in enumerate(message.get("tool_calls") or ())
        )
        return ChatResult(
            model=target.model.id,
            content=text_of(message.get("content")),
            reasoning=message.get("reasoning_content") or None,
            tool_calls=tool_calls,
            finish_reason=finish_reason(choice.get("finish_reason")),
            usage=parse_usage(data.get("usage")),
            id=data.get("request_id"),
        )


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = load_object(target, body)
        # text_index on text embeddings, index on multimodal ones
        items = sorted(data["output"]["embeddings"], key=lambda item: item.get("text_index", item.get("index", 0)))
        counts = data.get("usage") or {}
        tokens = counts.get("total_tokens", counts.get("input_tokens"))  # the multimodal route counts input_tokens
        return EmbeddingResult(
            model=target.model.id,
            vectors=tuple(list(map(float, item["embedding"])) for item in items),
            usage=Usage(prompt_tokens=int(tokens)) if tokens is not None else UNREPORTED,
        )


def parse_transcription(target: Target, body: bytes) -> TranscriptionResult:
    """The recognised text of a Qwen-ASR answer (the message's text items); its usage counts seconds of audio."""
    with reading(target, "transcription"):
        data = load_object(target, body)
        message = data["output"]["choices"][0]["message"]
        seconds = (data.get("usage") or {}).get("seconds")
        return TranscriptionResult(
            model=target.model.id,
            text=text_of(message.get("content")),
            usage=UNREPORTED,
            duration_s=float(seconds) if seconds is not None else None,
        )


def parse_rerank(target: Target, request: RerankRequest, body: bytes) -> RerankResult:
    with reading(target, "rerank"):
        data = load_object(target, body)
        hits = []
        for item in data["output"]["results"]:
            index = int(item["index"])
            hits.append(RerankHit(index=index, score=float(item["relevance_score"]), document=request.documents[index]))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        tokens = (data.get("usage") or {}).get("total_tokens")
        usage = Usage(prompt_tokens=int(tokens)) if tokens is not None else UNREPORTED
        return RerankResult(model=target.model.id, hits=tuple(hits), usage=usage)


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"message": body[:300].decode("utf-8", "replace")}
    return error_from_body(target, status, headers, data if isinstance(data, dict) else {})


def error_from_body(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """Native `{"code", "message", "request_id"}`, or compatible-mode's `{"error": {"message", "code", ...}}`."""
    error = data.get("error")
    if isinstance(error, Mapping):
        code, message = error.get("code") or error.get("type"), error.get("message")
    else:
        code, message = data.get("code"), data.get("message") or error
    code = str(code) if code else None
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(str(message or ""), secrets)
    provider = target.provider.id
    where = where_reported(status, in_stream=in_stream)
    kind = _kind_of(code, message)
    if kind is UpstreamRateLimitError:
        return UpstreamRateLimitError(
            upstream_message("rate limited", message, status, code, where=where),
            provider=provider,
            status_code=status,
            vendor_code=code,
            retry_after_s=retry_after_s(headers),
        )
    if kind is not None:
        text = upstream_message(_WHAT[kind], message, status, code, where=where)
        return kind(text, provider=provider, status_code=status, vendor_code=code)
    if status == 200:  # a code we do not know, inside a 200 answer or stream: the provider failed us
        status = 502
    return error_for_status(provider=provider, status=status, message=message, code=code, headers=headers, where=where)


_WHAT: Mapping[type[UpstreamError], str] = {
    UpstreamAuthError: "credentials refused",
    ProviderQuotaExhaustedError: "provider quota or balance exhausted",
    ContentFilteredError: "blocked by the provider's content filter",
    ContextLengthExceededError: "context length exceeded",
    UpstreamBadRequestError: "request refused",
    UpstreamUnavailableError: "provider unavailable",
    UpstreamTimeoutError: "the provider timed out",
}


def _kind_of(code: str | None, message: str) -> type[UpstreamError] | None:
    """The error class a DashScope code names, whatever HTTP status it came with (mid-stream errors have none)."""
    if not code:
        return None
    family = code.split(".", 1)[0]
    if code in _AUTH_CODES:
        return UpstreamAuthError
    if code in _QUOTA_CODES or "AllocationQuota" in code:
        return ProviderQuotaExhaustedError
    if family == "Throttling" or code == "rate_limit_exceeded":
        return UpstreamRateLimitError
    if code in _FILTER_CODES:
        return ContentFilteredError
    refused = "InvalidParameter" in code or family in _REFUSED_FAMILIES  # incl. InternalError.Algo.InvalidParameter
    if refused and _TOO_LONG.search(message):
        return ContextLengthExceededError
    if refused:
        return UpstreamBadRequestError
    if code == "RequestTimeOut":
        return UpstreamTimeoutError
    if family in _UNAVAILABLE_CODES:
        return UpstreamUnavailableError
    return None
