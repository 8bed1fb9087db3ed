"""Cohere v2 answers back to unified results, and Cohere's errors into the hierarchy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import UpstreamAuthError, UpstreamBadRequestError, UpstreamConnectionError, UpstreamError
from modelyard.protocols.base import Target
from modelyard.protocols.errors import error_for_status, redact, upstream_message, where_reported
from modelyard.protocols.openai.responses import reading
from modelyard.types import ChatResult, EmbeddingResult, RerankHit, RerankRequest, RerankResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

FINISH_REASONS: Mapping[str, FinishReason] = {
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
    "TIMEOUT": "error",
}


def load_object(body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    """Chat `usage`, or embed/rerank `meta`: billed units first (what Cohere charges), then raw token counts."""
    if not raw:
        return UNREPORTED
    billed = raw.get("billed_units") or {}
    tokens = raw.get("tokens") or {}
    prompt = billed.get("input_tokens", tokens.get("input_tokens"))
    completion = billed.get("output_tokens", tokens.get("output_tokens"))
    if prompt is None and completion is None:
        return UNREPORTED
    return Usage(
        prompt_tokens=int(prompt or 0),
        completion_tokens=int(completion or 0),
        cached_tokens=int(raw.get("cached_tokens") or 0),
    )


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "chat"):
        data = load_object(body)
        message = data["message"]
        content: list[str] = []
        reasoning: list[str] = []
        for item in message.get("content") or ():
            if item.get("type") == "thinking":
                reasoning.append(item.get("thinking") or "")
            elif item.get("type") == "text":
                content.append(item.get("text") or "")
        if message.get("tool_plan"):
            reasoning.append(message["tool_plan"])
        tool_calls = tuple(
            ToolCall(call.get("id") or f"call_{i}", call["function"]["name"], call["function"].get("arguments") or "")
            for i, call in enumerate(message.get("tool_calls") or ())
        )
        return ChatResult(
            model=target.model.id,
            content="".join(content),
            reasoning="".join(reasoning) or None,
            tool_calls=tool_calls,
            finish_reason=FINISH_REASONS.get(data.get("finish_reason") or ""),
            usage=parse_usage(data.get("usage")),
            id=data.get("id"),
        )


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = load_object(body)
        embeddings = data["embeddings"]
        # Keyed by type (embeddings_by_type) even when only float was asked for; a bare list is the v1 shape.
        vectors = embeddings["float"] if isinstance(embeddings, dict) else embeddings
        return EmbeddingResult(
            model=target.model.id,
            vectors=tuple(list(map(float, vector)) for vector in vectors),
            usage=parse_usage(data.get("meta")),
        )


def parse_rerank(target: Target, request: RerankRequest, body: bytes) -> RerankResult:
    with reading(target, "rerank"):
        data = load_object(body)
        hits = []
        for item in data["results"]:
            index = int(item["index"])
            hits.append(RerankHit(index=index, score=float(item["relevance_score"]), document=request.documents[index]))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        # Rerank bills search units, not tokens; token counts appear only on some deployments.
        return RerankResult(model=target.model.id, hits=tuple(hits), usage=parse_usage(data.get("meta")))


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"message": body[:300].decode("utf-8", "replace")}
    return error_from_body(target, status, headers, data if isinstance(data, dict) else {})


def error_from_body(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """Cohere's `{"id", "message"}` (docs.cohere.com/reference/errors); a FastAPI `detail` is read too."""
    message = data.get("message") or data.get("detail") or ""
    if not isinstance(message, str):
        message = orjson.dumps(message).decode()
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(message, secrets)
    provider = target.provider.id
    where = where_reported(status, in_stream=in_stream)

    def text(what: str) -> str:
        return upstream_message(what, message, status, where=where)

    # Statuses of Cohere's own that the shared table would misread (cohere SDK 7.3.1 raises a class for each).
    if status == 498:  # InvalidTokenError
        return UpstreamAuthError(text("credentials refused"), provider=provider, status_code=status)
    if status == 499:  # ClientClosedRequestError: the request was cancelled, or the stream broke upstream
        return UpstreamConnectionError(text("request cancelled upstream"), provider=provider, status_code=status)
    if status == 501:  # NotImplementedError: a feature this model or endpoint lacks, not an outage
        return UpstreamBadRequestError(text("request refused"), provider=provider, status_code=status)
    return error_for_status(provider=provider, status=status, message=message, headers=headers, where=where)
