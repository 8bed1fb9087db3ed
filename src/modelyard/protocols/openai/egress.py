"""Unified results to OpenAI-shaped response JSON: what the gateway answers, whatever the upstream spoke."""

from __future__ import annotations

import base64
import struct
from typing import Any

from modelyard.types import (
    ChatChunk,
    ChatResult,
    EmbeddingResult,
    ModerationResult,
    RerankResult,
    ToolCallDelta,
    Usage,
)


def usage_body(usage: Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.cached_tokens:
        body["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.reasoning_tokens:
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return body


def chat_completion(result: ChatResult, *, response_id: str, model: str, created: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": result.content or None, "refusal": None}
    if result.tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in result.tool_calls
        ]
    elif message["content"] is None:
        message["content"] = ""
    if result.reasoning:
        message["reasoning_content"] = result.reasoning
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": result.finish_reason or "stop", "logprobs": None}
        ],
        "usage": usage_body(result.usage),
    }


def chat_chunk(chunk: ChatChunk, *, response_id: str, model: str, created: int, first: bool) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    if first:
        delta["role"] = "assistant"
    if chunk.content or first:
        delta["content"] = chunk.content
    if chunk.reasoning:
        delta["reasoning_content"] = chunk.reasoning
    if chunk.tool_calls:
        delta["tool_calls"] = [_tool_delta(d) for d in chunk.tool_calls]
    choice = {"index": 0, "delta": delta, "finish_reason": chunk.finish_reason, "logprobs": None}
    return {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [choice],
    }


def usage_chunk(usage: Usage, *, response_id: str, model: str, created: int) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [],
        "usage": usage_body(usage),
    }


def _tool_delta(delta: ToolCallDelta) -> dict[str, Any]:
    body: dict[str, Any] = {"index": delta.index}
    function: dict[str, Any] = {"arguments": delta.arguments}
    if delta.id is not None:
        body["id"] = delta.id
        body["type"] = "function"
    if delta.name is not None:
        function["name"] = delta.name
    body["function"] = function
    return body


def embeddings(result: EmbeddingResult, *, model: str, encoding: str) -> dict[str, Any]:
    data = []
    for index, vector in enumerate(result.vectors):
        if encoding == "base64":
            packed = struct.pack(f"<{len(vector)}f", *vector)
            data.append({"object": "embedding", "index": index, "embedding": base64.b64encode(packed).decode()})
        else:
            data.append({"object": "embedding", "index": index, "embedding": vector})
    usage = {"prompt_tokens": result.usage.prompt_tokens, "total_tokens": result.usage.prompt_tokens}
    return {"object": "list", "data": data, "model": model, "usage": usage}


def rerank(result: RerankResult, *, response_id: str, model: str, return_documents: bool) -> dict[str, Any]:
    results = []
    for hit in result.hits:
        item: dict[str, Any] = {"index": hit.index, "relevance_score": hit.score}
        if return_documents:
            item["document"] = {"text": hit.document}
        results.append(item)
    return {
        "id": response_id,
        "object": "rerank",
        "model": model,
        "results": results,
        "usage": {"prompt_tokens": result.usage.prompt_tokens, "total_tokens": result.usage.prompt_tokens},
    }


def moderation(result: ModerationResult, *, response_id: str, model: str) -> dict[str, Any]:
    results = [
        {
            "flagged": verdict.flagged,
            "categories": dict(verdict.categories),
            "category_scores": dict(verdict.scores),
            "category_applied_input_types": {name: ["text"] for name in verdict.categories},
        }
        for verdict in result.verdicts
    ]
    return {"id": response_id, "model": model, "results": results}
