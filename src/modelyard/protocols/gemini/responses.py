"""generateContent answers, embeddings and google.rpc.Status errors back to unified results."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson

from modelyard.errors import (
    ContentFilteredError,
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
)
from modelyard.protocols.base import RemoteModel, Target
from modelyard.protocols.errors import error_for_status, redact, retry_after_s, upstream_message, where_reported
from modelyard.protocols.gemini.requests import SIGNATURE_MARK
from modelyard.types import ChatResult, EmbeddingResult, ToolCall, Usage
from modelyard.types.chat import FinishReason
from modelyard.types.usage import UNREPORTED

# FinishReason of the google-genai 3.6.1 wheel. A call ends with STOP: callers see tool_calls when parts hold one.
FINISH_REASONS: Mapping[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "CONTINUATION": "length",  # the per-request token limit: the answer is cut, as with MAX_TOKENS
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "LANGUAGE": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
    "IMAGE_RECITATION": "content_filter",
    "ESCALATION": "content_filter",
    "PUP_LIMITED_DISABLED": "content_filter",
    "MODEL_ARMOR": "content_filter",
    "MALFORMED_FUNCTION_CALL": "error",
    "UNEXPECTED_TOOL_CALL": "error",
    "TOO_MANY_TOOL_CALLS": "error",
    "MISSING_THOUGHT_SIGNATURE": "error",
    "MALFORMED_RESPONSE": "error",
    "IMAGE_OTHER": "error",
    "NO_IMAGE": "error",
    "OTHER": "error",
    "FINISH_REASON_UNSPECIFIED": "error",
}

# ErrorInfo reasons that mean the key itself was refused: Gemini answers them with 400, not 401
# (providers-a §3). API_KEY_EXPIRED is the same error for a key past its expiry date.
_AUTH_REASONS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED"})
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"


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
    if isinstance(data, list) and len(data) == 1:  # Google sometimes wraps one answer in an array
        data = data[0]
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if isinstance(data.get("error"), dict):
        raise error_from_body(target, 200, {}, data)
    return data


def parse_usage(raw: Mapping[str, Any] | None) -> Usage:
    if not raw:
        return UNREPORTED
    thoughts = raw.get("thoughtsTokenCount") or 0
    return Usage(
        # tool-use prompts (search results and the like) are billed as input, like the prompt itself
        prompt_tokens=(raw.get("promptTokenCount") or 0) + (raw.get("toolUsePromptTokenCount") or 0),
        # thinking is billed as output on top of the answer (providers-a §3)
        completion_tokens=(raw.get("candidatesTokenCount") or 0) + thoughts,
        cached_tokens=raw.get("cachedContentTokenCount") or 0,
        reasoning_tokens=thoughts,
    )


def check_prompt_feedback(target: Target, data: Mapping[str, Any]) -> None:
    """A blocked prompt answers HTTP 200 with no candidates, only `promptFeedback.blockReason`."""
    reason = (data.get("promptFeedback") or {}).get("blockReason")
    if reason and not data.get("candidates"):
        message = (data.get("promptFeedback") or {}).get("blockReasonMessage") or f"the prompt was blocked ({reason})"
        raise ContentFilteredError(
            f"blocked by the provider's content filter: {message}",
            provider=target.provider.id,
            status_code=200,
            vendor_code=str(reason),
        )


def call_id(part: Mapping[str, Any], function_call: Mapping[str, Any], index: int) -> str:
    """The id a client will echo back: Gemini's own (or one made up), with the part's thought signature."""
    base = function_call.get("id") or f"call_{index}"
    signature = part.get("thoughtSignature") or part.get("thought_signature")
    return f"{base}{SIGNATURE_MARK}{signature}" if signature else str(base)


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "chat"):
        data = load_object(target, body)
        check_prompt_feedback(target, data)
        candidate = (data.get("candidates") or [{}])[0]
        content: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        for part in (candidate.get("content") or {}).get("parts") or ():
            function_call = part.get("functionCall", part.get("function_call"))
            if function_call is not None:
                arguments = orjson.dumps(function_call.get("args") or {}).decode()
                calls.append(ToolCall(call_id(part, function_call, len(calls)), function_call["name"], arguments))
            elif isinstance(part.get("text"), str):
                (reasoning if part.get("thought") else content).append(part["text"])
        return ChatResult(
            model=data.get("modelVersion") or target.model.id,
            content="".join(content),
            reasoning="".join(reasoning) or None,
            tool_calls=tuple(calls),
            finish_reason=finish_reason(candidate.get("finishReason"), has_calls=bool(calls)),
            usage=parse_usage(data.get("usageMetadata")),
            id=data.get("responseId"),
        )


def finish_reason(raw: str | None, *, has_calls: bool) -> FinishReason | None:
    if raw is None:
        return None
    reason = FINISH_REASONS.get(raw, "error")
    return "tool_calls" if reason == "stop" and has_calls else reason


def parse_embeddings(target: Target, body: bytes) -> EmbeddingResult:
    with reading(target, "embeddings"):
        data = load_object(target, body)
        if "predictions" in data:  # Vertex `:predict`: token counts come per instance
            embeddings = [prediction["embeddings"] for prediction in data["predictions"]]
            tokens = sum(int((e.get("statistics") or {}).get("token_count") or 0) for e in embeddings)
            usage = Usage(prompt_tokens=tokens) if tokens else UNREPORTED
        else:
            embeddings = data["embeddings"]
            tokens = int((data.get("usageMetadata") or {}).get("promptTokenCount") or 0)
            usage = Usage(prompt_tokens=tokens) if tokens else UNREPORTED
        return EmbeddingResult(
            model=target.model.id,
            vectors=tuple([float(v) for v in embedding["values"]] for embedding in embeddings),
            usage=usage,
        )


def parse_list_models(target: Target, body: bytes) -> list[RemoteModel]:
    with reading(target, "model list"):
        data = orjson.loads(body)
        return [
            RemoteModel(id=str(model["name"]).removeprefix("models/"), owned_by="google")
            for model in data.get("models") or ()
        ]


def parse_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"error": {"message": body[:300].decode("utf-8", "replace")}}
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    return error_from_body(target, status, headers, data if isinstance(data, dict) else {})


def error_from_body(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """A google.rpc.Status (`{"error": {code, message, status, details}}`), by HTTP status, then status name."""
    error = data.get("error")
    error = error if isinstance(error, Mapping) else {"message": str(error or "")}
    code = error.get("code")
    where = where_reported(status, in_stream=in_stream)
    if status == 200:  # an error inside a stream carries the HTTP status it would have had
        status = code if isinstance(code, int) and 400 <= code < 600 else 502
    status_name = error.get("status")
    details = [d for d in error.get("details") or () if isinstance(d, Mapping)]
    reason = next((d.get("reason") for d in details if d.get("@type") == _ERROR_INFO), None)
    vendor_code = str(reason or status_name) if (reason or status_name) else None
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(str(error.get("message") or ""), secrets)
    provider = target.provider.id

    def text(what: str) -> str:
        return upstream_message(what, message, status, vendor_code, where=where)

    if reason in _AUTH_REASONS:
        return UpstreamAuthError(text("credentials refused"), provider=provider, status_code=status, vendor_code=reason)
    if status == 429 or status_name == "RESOURCE_EXHAUSTED":
        delay = next((d.get("retryDelay") for d in details if d.get("@type") == _RETRY_INFO), None)
        return UpstreamRateLimitError(
            text("rate limited"),
            provider=provider,
            status_code=status,
            vendor_code=vendor_code,
            retry_after_s=_seconds(delay) if delay else retry_after_s(headers),
        )
    if status == 499 or status_name == "CANCELLED":
        return UpstreamConnectionError(
            text("the request was cancelled"), provider=provider, status_code=status, vendor_code=vendor_code
        )
    return error_for_status(
        provider=provider, status=status, message=message, code=vendor_code, headers=headers, where=where
    )


def _seconds(duration: Any) -> float | None:
    """A protobuf Duration in JSON ("12.5s")."""
    try:
        return max(float(str(duration).removesuffix("s")), 0.0)
    except ValueError:
        return None
