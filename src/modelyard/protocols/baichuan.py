"""Baichuan (api.baichuan-ai.com/v1): OpenAI's chat and embeddings shapes, with Baichuan's error types.

Baichuan names the kind of failure in `error.type` (chat) or `error.code` (embeddings), and its HTTP status per
type is not documented, so errors are classified by that name first (as Dify's adapter does), then by status.
Its search enhancement is a built-in tool now; the older `with_search_enhance` flag is translated into it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson

from modelyard.errors import (
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import ChatStreamParser, Target, UpstreamRequest
from modelyard.protocols.errors import error_for_status, redact, retry_after_s, upstream_message, where_reported
from modelyard.protocols.openai import OpenAIQuirks, requests, responses
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.openai.subset import ChatAndEmbeddings, error_object
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingResult,
)

WEB_SEARCH_TOOL: Mapping[str, Any] = {"type": "web_search", "web_search": {"enable": True}}


class BaichuanQuirks(OpenAIQuirks):
    supports_stream_options: bool = False  # not in Baichuan's API; its streams report usage near the end anyway
    embedding_encoding: Literal["float", "base64"] | None = None  # the documented body has no encoding_format


class Baichuan(ChatAndEmbeddings):
    name = "baichuan"
    vendor = "Baichuan"
    quirks_model = BaichuanQuirks

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        built = requests.build_chat(target, request, stream=stream)
        if "with_search_enhance" not in request.extra:
            return built
        assert isinstance(built.body, bytes)
        body = orjson.loads(built.body)
        if body.pop("with_search_enhance"):
            body["tools"] = [*body.get("tools", ()), WEB_SEARCH_TOOL]
        return UpstreamRequest(built.method, built.url, built.headers, orjson.dumps(body))

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        _raise_body_error(target, body)
        return responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return BaichuanChatStream(target)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        _raise_body_error(target, body)
        return responses.parse_embeddings(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return baichuan_error(target, status, headers, error_object(body))


class BaichuanChatStream(OpenAIChatStream):
    __slots__ = ()

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if b'"error"' in event.data:  # an error after the stream started arrives as a data event
            _raise_body_error(self._target, event.data, in_stream=True)
        return super().feed(event)


def _raise_body_error(target: Target, body: bytes, *, in_stream: bool = False) -> None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # the OpenAI parser reports it as unreadable
    if isinstance(data, dict) and data.get("error"):
        raise baichuan_error(target, 200, {}, data, in_stream=in_stream)


_AUTH = frozenset({"invalid_api_key", "api_key_empty", "invalid_authentication"})


def _classify(name: str) -> tuple[type[UpstreamError], str] | None:
    """Dify's reading of Baichuan's error names (the only public list, 2025): exact names, then substrings."""
    if name in _AUTH:
        return UpstreamAuthError, "credentials refused"
    if name == "insufficient_quota":
        return ProviderQuotaExhaustedError, "provider quota or balance exhausted"
    if "rate" in name:
        return UpstreamRateLimitError, "rate limited"
    if "internal" in name:
        return UpstreamUnavailableError, "provider unavailable"
    if name == "invalid_request_error":
        return UpstreamBadRequestError, "request refused"
    return None


def baichuan_error(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """`{"error": {"type" | "code": ..., "message": ...}}` to our error: by Baichuan's name for it, else by status."""
    error = data.get("error")
    error = error if isinstance(error, Mapping) else {"message": error or data.get("message") or ""}
    name = str(error.get("type") or error.get("code") or "")
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(str(error.get("message") or ""), secrets)
    provider = target.provider.id
    known = _classify(name)
    where = where_reported(status, in_stream=in_stream)
    if known is None or (known[0] is UpstreamBadRequestError and status > 400):  # 401, 404 ... say more
        return error_for_status(
            provider=provider,
            status=status if status != 200 else 502,
            message=message,
            code=name or None,
            headers=headers,
            where=where,
        )
    kind, what = known
    shown = status if status != 200 else None  # an error in a 200 body or a stream has no status of its own
    if where == "status":
        detail = f"{what}: {message} (HTTP {status}, {name})"
    else:
        detail = upstream_message(what, message, status, name, where=where)
    if kind is UpstreamRateLimitError:
        return UpstreamRateLimitError(
            detail, provider=provider, status_code=shown, vendor_code=name, retry_after_s=retry_after_s(headers)
        )
    return kind(detail, provider=provider, status_code=shown, vendor_code=name)
