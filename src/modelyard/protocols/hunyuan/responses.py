"""Hunyuan's native answers back to unified results."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.errors import UpstreamError, UpstreamUnavailableError
from modelyard.protocols.base import Target
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.tencent_cloud import unwrap
from modelyard.types import ChatResult, EmbeddingResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

# Choice.FinishReason: stop, sensitive (the output moderation cut the answer) or tool_calls (SDK docs).
FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "sensitive": "content_filter",
}


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    if not raw or raw.get("PromptTokens") is None:
        return UNREPORTED
    details = raw.get("PromptTokensDetails") or {}
    return Usage(
        prompt_tokens=int(raw.get("PromptTokens") or 0),
        completion_tokens=int(raw.get("CompletionTokens") or 0),
        cached_tokens=int(details.get("CachedTokens") or 0),
    )


def error_message(target: Target, raw: Mapping[str, Any]) -> UpstreamError:
    """`ErrorMsg {Code, Msg}`: the model failed after the call was accepted (a numeric code, undocumented)."""
    detail = f"{raw.get('Code')}: {raw.get('Msg') or ''}"
    return UpstreamUnavailableError(
        f"the model failed: {detail}", provider=target.provider.id, status_code=200, vendor_code=str(raw.get("Code"))
    )


def tool_calls_of(raw: list[dict[str, Any]] | None) -> tuple[ToolCall, ...]:
    return tuple(
        ToolCall(call.get("Id") or f"call_{i}", call["Function"]["Name"], call["Function"].get("Arguments") or "")
        for i, call in enumerate(raw or ())
    )


def parse_chat(target: Target, body: bytes) -> ChatResult:
    response = unwrap(target, body, "chat")
    with reading(target, "chat"):
        choices = response.get("Choices") or []
        if response.get("ErrorMsg") and not choices:
            raise error_message(target, response["ErrorMsg"])
        choice = choices[0]
        message = choice.get("Message") or {}
        return ChatResult(
            model=target.model.id,
            content=message.get("Content") or "",
            reasoning=message.get("ReasoningContent") or None,
            tool_calls=tool_calls_of(message.get("ToolCalls")),
            finish_reason=FINISH_REASONS.get(choice.get("FinishReason") or ""),
            usage=parse_usage(response.get("Usage")),
            id=response.get("Id"),
        )


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    response = unwrap(target, body, "embeddings")
    with reading(target, "embeddings"):
        data = sorted(response["Data"], key=lambda item: int(item.get("Index") or 0))
        usage = response.get("Usage") or {}
        return EmbeddingResult(
            model=target.model.id,
            vectors=tuple(list(map(float, item["Embedding"])) for item in data),
            usage=Usage(prompt_tokens=int(usage["PromptTokens"])) if usage.get("PromptTokens") else UNREPORTED,
        )
