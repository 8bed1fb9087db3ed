"""OpenAI-shaped answers back to unified results; tolerant of what compatible servers leave out or add."""

from __future__ import annotations

import base64
from array import array
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson

from modelyard.errors import UpstreamError, UpstreamProtocolError
from modelyard.protocols.base import RemoteModel, Target
from modelyard.protocols.errors import error_for_status, redact, where_reported
from modelyard.protocols.openai.requests import quirks_of
from modelyard.types import (
    ChatResult,
    EmbeddingResult,
    ModerationResult,
    ModerationVerdict,
    RerankHit,
    RerankRequest,
    RerankResult,
    ToolCall,
    TranscriptionResult,
    Usage,
)
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

FINISH_REASONS: Mapping[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",  # some self-hosted servers
    "eos_token": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "error": "error",
}


@contextmanager
def reading(target: Target, what: str) -> Iterator[None]:
    """Turns a malformed answer into an UpstreamProtocolError naming the provider and the call."""
    try:
        yield
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise UpstreamProtocolError(
            f"unreadable {what} response ({type(exc).__name__}: {exc})", provider=target.provider.id
        ) from exc


def load_object(target: Target, body: bytes) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("error"):  # some servers answer HTTP 200 with an error object
        raise error_from_body(target, 200, {}, data)
    return data


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    if not raw:
        return UNREPORTED
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    prompt = raw.get("prompt_tokens") or 0
    completion = raw.get("completion_tokens")
    if completion is None:  # embeddings and rerank report prompt and total only
        completion = max((raw.get("total_tokens") or 0) - prompt, 0)
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        # DeepSeek reports its cache hits at the top level
        cached_tokens=prompt_details.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0,
        reasoning_tokens=completion_details.get("reasoning_tokens") or 0,
    )


def arguments_text(arguments: Any) -> str:
    """Tool arguments as JSON text; a few servers send an object instead of a string."""
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "chat"):
        data = load_object(target, body)
        choice = data["choices"][0]
        message = choice["message"]
        tool_calls = tuple(
            ToolCall(
                call.get("id") or f"call_{i}",
                call["function"]["name"],
                arguments_text(call["function"].get("arguments", "")),
            )
            for i, call in enumerate(message.get("tool_calls") or ())
        )
        return ChatResult(
            model=data.get("model") or target.model.id,
            content=message.get("content") or "",
            reasoning=message.get("reasoning_content") or message.get("reasoning") or None,
            tool_calls=tool_calls,
            finish_reason=FINISH_REASONS.get(choice.get("finish_reason") or "", None),
            usage=parse_usage(data.get("usage")),
            id=data.get("id"),
        )


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = load_object(target, body)
        items = sorted(data["data"], key=lambda item: item.get("index", 0))
        return EmbeddingResult(
            model=data.get("model") or target.model.id,
            vectors=tuple(_vector(item["embedding"]) for item in items),
            usage=parse_usage(data.get("usage")),
        )


def _vector(embedding: Any) -> list[float]:
    if isinstance(embedding, str):  # encoding_format=base64: packed little-endian float32
        vector = array("f")
        vector.frombytes(base64.b64decode(embedding))
        return vector.tolist()
    return list(embedding)


def parse_rerank(target: Target, request: RerankRequest, body: bytes) -> RerankResult:
    with reading(target, "rerank"):
        data = load_object(target, body)
        hits = []
        for item in data["results"]:
            index = int(item["index"])
            score = item.get("relevance_score", item.get("score"))
            hits.append(RerankHit(index=index, score=float(score), document=request.documents[index]))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        usage = data.get("usage") or {}
        tokens = usage.get("prompt_tokens") or usage.get("total_tokens") or 0
        return RerankResult(
            model=data.get("model") or target.model.id,
            hits=tuple(hits),
            usage=Usage(prompt_tokens=tokens) if tokens else UNREPORTED,
        )


def parse_transcription(target: Target, body: bytes) -> TranscriptionResult:
    with reading(target, "transcription"):
        data = load_object(target, body)
        usage = data.get("usage") or {}
        duration = data.get("duration") or (usage.get("seconds") if usage.get("type") == "duration" else None)
        counted = Usage(prompt_tokens=usage.get("input_tokens") or 0, completion_tokens=usage.get("output_tokens") or 0)
        return TranscriptionResult(
            model=target.model.id,
            text=data["text"],
            usage=counted if usage.get("type") == "tokens" else UNREPORTED,
            duration_s=float(duration) if duration is not None else None,
        )


def parse_moderation(target: Target, body: bytes) -> ModerationResult:
    with reading(target, "moderation"):
        data = load_object(target, body)
        verdicts = tuple(
            ModerationVerdict(
                flagged=bool(result["flagged"]),
                categories={k: bool(v) for k, v in result.get("categories", {}).items()},
                scores={k: float(v) for k, v in result.get("category_scores", {}).items()},
            )
            for result in data["results"]
        )
        return ModerationResult(model=data.get("model") or target.model.id, verdicts=verdicts, usage=UNREPORTED)


def parse_list_models(target: Target, body: bytes) -> list[RemoteModel]:
    with reading(target, "model list"):
        data = orjson.loads(body)
        items = data if isinstance(data, list) else data["data"]  # together.ai answers a bare list
        return [RemoteModel(id=str(item["id"]), owned_by=item.get("owned_by")) for item in items]


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"error": {"message": body[:300].decode("utf-8", "replace")}}
    return error_from_body(target, status, headers, data if isinstance(data, dict) else {})


def error_from_body(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """OpenAI's `{"error": {...}}`, a bare `{"error": "..."}`, or FastAPI's `{"detail": ...}` (vLLM, Xinference)."""
    error = data.get("error")
    if isinstance(error, Mapping):
        message = str(error.get("message") or "")
        code = error.get("code") or error.get("type")
    else:
        message = str(error or data.get("detail") or data.get("message") or "")
        code = data.get("code")
    where = where_reported(status, in_stream=in_stream)
    if status == 200:  # an error inside a successful response or a stream: its code says what it amounts to
        status = _status_from_code(code)
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    return error_for_status(
        provider=target.provider.id,
        status=status,
        message=redact(message, secrets),
        code=str(code) if code is not None else None,
        headers=headers,
        context_length_codes=quirks_of(target).context_length_codes,
        where=where,
    )


def _status_from_code(code: Any) -> int:
    """An error that arrived with HTTP 200 (mid-stream) sometimes carries the status it would have had."""
    if isinstance(code, int) and 400 <= code < 600:
        return code  # OpenRouter puts the HTTP status in `code`
    if code in ("rate_limit_exceeded", "rate_limit_error"):
        return 429
    return 502
