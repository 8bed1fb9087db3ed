"""Bedrock answers back to unified results: Converse output, stop reasons, usage, native embedding bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.protocols.base import Target
from modelyard.protocols.bedrock.requests import embedding_family
from modelyard.protocols.openai.responses import reading
from modelyard.types import ChatResult, EmbeddingResult, RerankRequest, RerankResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.rerank import RerankHit
from modelyard.types.usage import UNREPORTED

# Converse `StopReason` (botocore 1.44.8) to OpenAI's finish reasons.
FINISH_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
    "malformed_model_output": "error",
    "malformed_tool_use": "error",
}


def finish_reason(stop_reason: Any) -> FinishReason | None:
    if not stop_reason:
        return None
    return FINISH_REASONS.get(str(stop_reason), "stop")  # a reason newer than this table still ended the turn


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    """Converse's `inputTokens` leaves out tokens read from or written to the prompt cache; OpenAI's
    `prompt_tokens` counts them, so they are added back and the reads reported as cached."""
    if not raw:
        return UNREPORTED
    cache_read = raw.get("cacheReadInputTokens") or 0
    cache_write = raw.get("cacheWriteInputTokens") or 0
    return Usage(
        prompt_tokens=(raw.get("inputTokens") or 0) + cache_read + cache_write,
        completion_tokens=raw.get("outputTokens") or 0,
        cached_tokens=cache_read,
    )


def arguments_json(value: Any) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "converse"):
        data = orjson.loads(body)
        content = data["output"]["message"]["content"]
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for block in content:
            if "text" in block:
                texts.append(block["text"])
            elif "toolUse" in block:
                use = block["toolUse"]
                calls.append(ToolCall(use["toolUseId"], use["name"], arguments_json(use.get("input"))))
            elif "reasoningContent" in block:
                text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
                if text:
                    reasoning.append(text)
        return ChatResult(
            model=target.model.id,
            content="".join(texts),
            reasoning="".join(reasoning) or None,
            tool_calls=tuple(calls),
            finish_reason=finish_reason(data.get("stopReason")),
            usage=parse_usage(data.get("usage")),
        )


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = orjson.loads(body)
        if embedding_family(target) == "titan":
            tokens = data.get("inputTextTokenCount")
            return EmbeddingResult(
                model=target.model.id,
                vectors=(list(data["embedding"]),),
                usage=Usage(prompt_tokens=tokens) if tokens is not None else UNREPORTED,
            )
        embeddings = data["embeddings"]
        if isinstance(embeddings, dict):  # `embeddings_by_type`, the answer when embedding_types is sent
            embeddings = embeddings["float"]
        # Cohere on Bedrock puts no token count in the body (Bedrock reports it in a response header).
        return EmbeddingResult(model=target.model.id, vectors=tuple(list(v) for v in embeddings), usage=UNREPORTED)


def parse_rerank(target: Target, request: RerankRequest, body: bytes) -> RerankResult:
    """Rerank's `results`: each a document's `index` in the request and its `relevanceScore`, best first."""
    with reading(target, "rerank"):
        results = orjson.loads(body)["results"]
        hits = [
            RerankHit(
                index=int(item["index"]),
                score=float(item["relevanceScore"]),
                document=request.documents[int(item["index"])],
            )
            for item in results
        ]
    hits.sort(key=lambda hit: hit.score, reverse=True)
    return RerankResult(model=target.model.id, hits=tuple(hits), usage=UNREPORTED)
