"""Legacy Wenxin answers back to unified results, and Baidu's error codes, which arrive inside HTTP 200 bodies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import UpstreamError
from modelyard.protocols.base import Target
from modelyard.protocols.errors import error_for_status, redact, where_reported
from modelyard.protocols.openai.responses import reading
from modelyard.types import ChatResult, EmbeddingResult, RerankHit, RerankRequest, RerankResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

# `normal` is ERNIE's ordinary end; `stop` means a stop sequence matched (Baidu's chat docs).
FINISH_REASONS: Mapping[str, FinishReason] = {
    "normal": "stop",
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "function_call": "tool_calls",
}

# Baidu's `error_code` to the HTTP status it amounts to (providers-b §6.1; qianfan SDK's APIErrorCode).
_AUTH = frozenset({6, 13, 14, 15, 100, 110, 111, 336004})  # 110/111: the access token is invalid or expired
_RATE_LIMIT = frozenset({4, 18, 336501, 336502})
_QUOTA = frozenset({17, 19})  # daily and total request limits: they do not lift by retrying soon
_UNAVAILABLE = frozenset({1, 2, 336000, 336100, 336200})


def load_object(target: Target, body: bytes) -> dict[str, Any]:
    """The JSON object of an answer; an `error_code` in it is raised as the error it stands for."""
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("error_code"):
        raise error_from_body(target, 200, data)
    return data


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    if not raw:
        return UNREPORTED
    prompt = raw.get("prompt_tokens") or 0
    completion = raw.get("completion_tokens")
    if completion is None:  # embeddings and rerank report prompt and total only
        completion = max((raw.get("total_tokens") or 0) - prompt, 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def tool_calls_of(data: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    call = data.get("function_call")
    if not call:
        return ()
    arguments = call.get("arguments") or ""
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
    return (ToolCall(str(data.get("id") or "call_0"), call["name"], text),)


def finish_reason_of(data: Mapping[str, Any]) -> FinishReason | None:
    reason = data.get("finish_reason")
    if reason:
        return FINISH_REASONS.get(reason, "stop")
    if data.get("function_call"):
        return "tool_calls"
    return "length" if data.get("is_truncated") else None


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "chat"):
        data = load_object(target, body)
        calls = tool_calls_of(data)
        return ChatResult(
            model=target.model.id,
            content=data.get("result") or "",
            tool_calls=calls,
            finish_reason=finish_reason_of(data) or "stop",
            usage=parse_usage(data.get("usage")),
            id=data.get("id"),
        )


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = load_object(target, body)
        items = sorted(data["data"], key=lambda item: item.get("index", 0))
        return EmbeddingResult(
            model=target.model.id,
            vectors=tuple(list(item["embedding"]) for item in items),
            usage=parse_usage(data.get("usage")),
        )


def parse_rerank(target: Target, request: RerankRequest, body: bytes) -> RerankResult:
    with reading(target, "rerank"):
        data = load_object(target, body)
        hits = []
        for item in data["results"]:
            index = int(item["index"])
            hits.append(RerankHit(index=index, score=float(item["relevance_score"]), document=request.documents[index]))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return RerankResult(model=target.model.id, hits=tuple(hits), usage=parse_usage(data.get("usage")))


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"error_msg": body[:300].decode("utf-8", "replace")}
    return error_from_body(target, status, data if isinstance(data, dict) else {}, headers)


def error_from_body(
    target: Target,
    status: int,
    data: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    in_stream: bool = False,
) -> UpstreamError:
    """`{"error_code": int, "error_msg": str}`, classified by the code (the status is 200 for most of them)."""
    code = data.get("error_code")
    message = str(data.get("error_msg") or data.get("error_description") or data.get("error") or "")
    where = where_reported(status, in_stream=in_stream)
    if isinstance(code, int):
        status = _status_of(code, status)
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    return error_for_status(
        provider=target.provider.id,
        status=status,
        message=redact(message, secrets),
        code=str(code) if code is not None else None,
        headers=headers,
        where=where,
    )


def _status_of(code: int, status: int) -> int:
    if code in _AUTH:
        return 401
    if code in _RATE_LIMIT:
        return 429
    if code in _QUOTA:
        return 402
    if code in _UNAVAILABLE:
        return 503
    if code == 336005:  # the API (a model's path) does not exist
        return 404
    if 336000 <= code < 338000 or code == 3:  # invalid arguments, JSON, parameters, message rules
        return 400
    return status if status >= 400 else 502
