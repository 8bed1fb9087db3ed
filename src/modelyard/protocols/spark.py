"""iFlytek Spark: its own WebSocket chat API, or its OpenAI-compatible HTTP endpoint; the base URL's scheme picks.

WebSocket (xfyun.cn/doc/spark/Web.html, 2026-11): one exchange per question on a signed URL whose path names
the version; one request frame (header.app_id, parameter.chat, payload.message.text, payload.functions), then
answer frames until `header.status` 2, which carries `payload.usage.text`. Errors arrive as a frame with
`header.code` != 0, on a socket that opened fine. HTTP (HTTP调用文档, 2026-11): OpenAI's chat completions with a
bearer APIPassword, plus `code`/`message`/`sid` in the body, `code` != 0 on errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson
from msgspec.structs import replace
from pydantic import Field

from modelyard.catalog.spec import Spec
from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import ChatStreamParser, Target, UpstreamRequest, WebSocketRequest, WireProtocol
from modelyard.protocols.errors import redact
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ChatRequest, ChatResult, Message, ToolCallDelta, Usage
from modelyard.types.chat import TextPart

# The HTTP docs list no stream_options: it is left out, and usage is read wherever a chunk carries it.
_HTTP_QUIRKS = OpenAIQuirks(supports_stream_options=False)


class SparkQuirks(Spec):
    # The WebSocket path of each domain (the model id); a domain not listed is reached at /chat/<domain>,
    # the shape the newer versions use (/chat/max-32k, /chat/pro-128k).
    socket_paths: dict[str, str] = Field(default_factory=dict)
    app_id_credential: str = "app_id"


# The WebSocket frame's `parameter.chat` carries temperature and max_tokens, its header the user (and top_k from extra).
_SOCKET_PARAMETERS = frozenset({"temperature", "max_tokens", "user", "tool_choice"})


class Spark(WireProtocol):
    name = "spark"
    quirks_model = SparkQuirks

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return self.chat_parameters if urlsplit(target.base_url).scheme in ("http", "https") else _SOCKET_PARAMETERS

    # --- WebSocket ----------------------------------------------------------------------------------------

    def build_chat_socket(self, target: Target, request: ChatRequest) -> WebSocketRequest | None:
        scheme = urlsplit(target.base_url).scheme
        if scheme in ("http", "https"):
            return None  # the OpenAI-compatible endpoint: build_chat
        quirks = _quirks(target)
        domain = target.upstream_model
        path = quirks.socket_paths.get(domain, f"/chat/{domain}")
        frame = orjson.dumps(chat_frame(target, request, app_id=target.credentials.get(quirks.app_id_credential, "")))
        return WebSocketRequest(f"{target.base_url}{path}", {}, (frame.decode(),))

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        if urlsplit(target.base_url).scheme in ("http", "https"):
            return _SparkHTTPStream(target)
        return SparkFrames(target)

    # --- HTTP (OpenAI-compatible) -------------------------------------------------------------------------

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return openai_requests.build_chat(replace(target, quirks=_HTTP_QUIRKS), request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        with reading(target, "chat"):
            data = orjson.loads(body)
            if isinstance(data, dict) and data.get("code"):
                raise spark_error(target, data["code"], str(data.get("message") or ""))
        return openai_responses.parse_chat(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            data = {}
        if isinstance(data, dict):
            code = data.get("code") or (data.get("header") or {}).get("code")
            if isinstance(code, int) and code in _ERRORS:
                return spark_error(target, code, str(data.get("message") or ""))
        return openai_responses.parse_error(target, status, headers, body)


def _quirks(target: Target) -> SparkQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, SparkQuirks) else SparkQuirks()


def chat_frame(target: Target, request: ChatRequest, *, app_id: str) -> dict[str, Any]:
    """The one request frame of a WebSocket chat."""
    header: dict[str, Any] = {"app_id": app_id}
    if request.user:
        header["uid"] = request.user[:32]  # the documented limit
    chat: dict[str, Any] = {"domain": target.upstream_model}
    if request.temperature is not None:
        chat["temperature"] = request.temperature
    if request.max_tokens is not None:
        chat["max_tokens"] = request.max_tokens
    if "top_k" in request.extra:
        chat["top_k"] = request.extra["top_k"]
    payload: dict[str, Any] = {"message": {"text": [_message(m) for m in request.messages]}}
    if request.tools:
        functions = [
            {"name": t.name, "description": t.description, "parameters": dict(t.parameters)} for t in request.tools
        ]
        payload["functions"] = {"text": functions}
    return {"header": header, "parameter": {"chat": chat}, "payload": payload}


def _message(message: Message) -> dict[str, Any]:
    content = message.content
    text = content if isinstance(content, str) else "".join(p.text for p in content if isinstance(p, TextPart))
    # The socket documents the roles system, user and assistant only: a tool's result goes back as the user's
    # words (an assumption in spark.yaml).
    role = "user" if message.role == "tool" else message.role
    wire: dict[str, Any] = {"role": role, "content": text}
    if message.tool_calls:
        call = message.tool_calls[0]  # Spark calls one function per answer
        wire["function_call"] = {"name": call.name, "arguments": call.arguments}
    return wire


class SparkFrames(ChatStreamParser):
    """A WebSocket chat's answer frames to unified chunks."""

    __slots__ = ("_called", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._called = False
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        with reading(self._target, "chat frame"):
            frame: dict[str, Any] = orjson.loads(event.data)
            header = frame["header"]
            if header.get("code"):
                raise spark_error(self._target, header["code"], str(header.get("message") or ""))
            payload = frame.get("payload") or {}
            texts = (payload.get("choices") or {}).get("text") or []
            content = "".join(item.get("content") or "" for item in texts)
            calls = tuple(
                ToolCallDelta(
                    index=0,
                    id=f"call_{header.get('sid') or 'spark'}",
                    name=item["function_call"]["name"],
                    arguments=openai_responses.arguments_text(item["function_call"].get("arguments") or "{}"),
                )
                for item in texts
                if item.get("function_call")
            )
            self._called = self._called or bool(calls)
            if header.get("status") != 2:
                return ChatChunk(content=content, tool_calls=calls) if content or calls else None
            self.finished = True
            usage = (payload.get("usage") or {}).get("text")
            return ChatChunk(
                content=content,
                tool_calls=calls,
                finish_reason="tool_calls" if self._called else "stop",
                usage=_usage(usage) if usage else None,
            )


def _usage(raw: Mapping[str, Any]) -> Usage:
    prompt = raw.get("prompt_tokens") or 0
    completion = raw.get("completion_tokens")
    if completion is None:
        completion = max((raw.get("total_tokens") or 0) - prompt, 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


class _SparkHTTPStream(OpenAIChatStream):
    """OpenAI's chunks, plus Spark's own error object (`code` != 0) inside the stream."""

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.data.startswith(b"{") and b'"code"' in event.data:
            with reading(self._target, "chat stream"):
                data = orjson.loads(event.data)
                if data.get("code"):
                    raise spark_error(self._target, data["code"], str(data.get("message") or ""))
        return super().feed(event)


# header.code (WebSocket) and code (HTTP) to errors (xfyun.cn/doc/spark/Web.html 错误码, 2026-11).
_ERRORS: dict[int, tuple[type[UpstreamError], str]] = {
    10003: (UpstreamBadRequestError, "request refused"),
    10004: (UpstreamBadRequestError, "request refused"),
    10005: (UpstreamBadRequestError, "request refused"),
    10163: (UpstreamBadRequestError, "request refused"),
    10006: (UpstreamRateLimitError, "rate limited"),
    10007: (UpstreamRateLimitError, "rate limited"),
    10008: (UpstreamUnavailableError, "provider unavailable"),
    10009: (UpstreamUnavailableError, "provider unavailable"),
    10010: (UpstreamUnavailableError, "provider unavailable"),
    10011: (UpstreamUnavailableError, "provider unavailable"),
    10012: (UpstreamUnavailableError, "provider unavailable"),
    10110: (UpstreamUnavailableError, "provider unavailable"),
    10222: (UpstreamUnavailableError, "provider unavailable"),
    10013: (ContentFilteredError, "blocked by the provider's content filter"),
    10014: (ContentFilteredError, "blocked by the provider's content filter"),
    10019: (ContentFilteredError, "blocked by the provider's content filter"),
    10021: (ContentFilteredError, "blocked by the provider's content filter"),
    10015: (UpstreamAuthError, "credentials refused"),
    10016: (ProviderQuotaExhaustedError, "provider quota or concurrency exhausted"),
    10907: (ContextLengthExceededError, "context length exceeded"),
    11200: (UpstreamAuthError, "not authorized, or over the licensed volume"),
    11201: (UpstreamRateLimitError, "daily limit reached"),
    11202: (UpstreamRateLimitError, "rate limited"),
    11203: (UpstreamRateLimitError, "rate limited"),
}


def spark_error(target: Target, code: Any, message: str) -> UpstreamError:
    """The error for a Spark error code; an unlisted 10xxx is the request's fault, anything else the service's."""
    secrets = [v for k, v in target.credentials.items() if k in target.provider.secret_variables()]
    detail = f"{redact(message, secrets)} (code {code})" if message else f"code {code}"
    number = code if isinstance(code, int) else -1
    fallback = UpstreamBadRequestError if 10000 <= number < 11000 else UpstreamUnavailableError
    kind, what = _ERRORS.get(number, (fallback, "request failed"))
    if kind is UpstreamRateLimitError:  # no HTTP status: the error came inside a frame or a 200 body
        return UpstreamRateLimitError(
            f"{what}: {detail}", provider=target.provider.id, status_code=None, vendor_code=str(code)
        )
    return kind(f"{what}: {detail}", provider=target.provider.id, vendor_code=str(code))
