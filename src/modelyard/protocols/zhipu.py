"""Zhipu AI's BigModel API v4: OpenAI's wire shapes with Zhipu's own parameter rules and error codes.

Requests are the OpenAI family's, adjusted the way the vendor SDK (zhipuai 2.1.5) adjusts them: sampling values
inside the open interval (0, 1), inline images as bare base64, `user_id` for `user`. Errors carry a business code
(a string) that says more than the HTTP status: 1113 (arrears) arrives as a 429, for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec
import orjson

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.base import ChatStreamParser, Target, UpstreamRequest
from modelyard.protocols.errors import error_for_status, redact, retry_after_s, upstream_message, where_reported
from modelyard.protocols.openai import OpenAIQuirks, requests, responses
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.openai.subset import ChatAndEmbeddings, error_object
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingResult,
)
from modelyard.types.chat import FinishReason, NamedToolChoice


class ZhipuQuirks(OpenAIQuirks):
    """The OpenAI quirks with Zhipu's defaults, plus the models that end badly when sent `stop`."""

    embedding_encoding: Literal["float", "base64"] | None = None  # the documented body has no encoding_format
    supports_stream_options: bool = False  # the SDK never sends it; usage comes on the last chunk anyway
    context_length_codes: tuple[str, ...] = ("1261",)
    # glm-4v-plus answers `finish_reason: network_error` when the request has `stop` (Dify's adapter, 2025).
    models_without_stop: tuple[str, ...] = ()
    # Fields the chat endpoint does not define (SDK 2.1.5, docs.bigmodel.cn 2026): dropped and reported by the runtime.
    unsupported_parameters: tuple[str, ...] = (
        "presence_penalty",
        "frequency_penalty",
        "parallel_tool_calls",
        "reasoning_effort",
    )


# Finish reasons beyond OpenAI's: `sensitive` (moderation cut the answer), `network_error` (inference failed).
_FINISH_REASONS: Mapping[str, FinishReason] = {"sensitive": "content_filter", "network_error": "error"}
# Switches a caller sets as plain parameters: `thinking` (true/false, Zhipu's {type: enabled|disabled}; an object
# goes as given) and `web_search` (true: Zhipu's built-in web_search tool joins the request's tools), as the
# zhipuai SDK 2.1.5 sends `thinking` and Dify's zhipuai plugin the search tool (read 2026-12).
_WEB_SEARCH_TOOL = {"type": "web_search", "web_search": {"enable": True}}


class Zhipu(ChatAndEmbeddings):
    name = "zhipu"
    vendor = "Zhipu"
    quirks_model = ZhipuQuirks

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if request.tool_choice == "none":  # only "auto" is documented; "none" is the same as offering no tools
            request = msgspec.structs.replace(request, tools=(), tool_choice=None)
        elif request.tool_choice not in (None, "auto"):
            what = request.tool_choice.name if isinstance(request.tool_choice, NamedToolChoice) else "required"
            raise UnsupportedFeatureError(
                f"Zhipu only lets the model choose its tools (tool_choice {what!r})", field="tool_choice"
            )
        if request.response_format is not None and request.response_format.type == "json_schema":
            raise UnsupportedFeatureError(
                "Zhipu takes response_format json_object, not json_schema", field="response_format"
            )
        built = requests.build_chat(target, request, stream=stream)
        assert isinstance(built.body, bytes)
        body = adjust_chat_body(orjson.loads(built.body), target)
        return UpstreamRequest(built.method, built.url, built.headers, orjson.dumps(body))

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        if b'"error"' in body:  # an error in an HTTP 200 body
            _raise_body_error(target, body)
        result = responses.parse_chat(target, body)
        if result.finish_reason is None and b'"finish_reason"' in body:
            finish = _zhipu_finish_reason(target, body)
            if finish is not None:
                return msgspec.structs.replace(result, finish_reason=finish)
        return result

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return ZhipuChatStream(target)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        if b'"error"' in body:
            _raise_body_error(target, body)
        return responses.parse_embeddings(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return zhipu_error(target, status, headers, error_object(body))


def adjust_chat_body(body: dict[str, Any], target: Target) -> dict[str, Any]:
    """An OpenAI chat body as Zhipu wants it (the SDK's own adjustments, plus field names)."""
    temperature = body.get("temperature")
    if temperature is not None:  # the SDK's clamping: 0 and 1 themselves are refused (1214) by older models
        if temperature <= 0:
            body["do_sample"] = False
            body["temperature"] = 0.01
        elif temperature >= 1:
            body["temperature"] = 0.99
    top_p = body.get("top_p")
    if top_p is not None:
        body["top_p"] = 0.99 if top_p >= 1 else 0.01 if top_p <= 0 else top_p
    if "user" in body:
        body["user_id"] = body.pop("user")
    quirks = target.quirks if isinstance(target.quirks, ZhipuQuirks) else ZhipuQuirks()
    for name in quirks.unsupported_parameters:  # the runtime dropped and reported them; never sent
        body.pop(name, None)
    if target.upstream_model in quirks.models_without_stop:
        body.pop("stop", None)
    thinking = body.get("thinking")
    if isinstance(thinking, bool):
        body["thinking"] = {"type": "enabled" if thinking else "disabled"}
    search = body.pop("web_search", None)
    if search is True or isinstance(search, dict):  # an object is the tool's own settings (search_engine ...)
        tool = _WEB_SEARCH_TOOL if search is True else {"type": "web_search", "web_search": search}
        body["tools"] = [*body.get("tools", ()), tool]
    for message in body["messages"]:
        if isinstance(message.get("content"), list):
            message["content"] = [_part(part) for part in message["content"]]
    return body


def _part(part: dict[str, Any]) -> dict[str, Any]:
    if part.get("type") != "image_url":
        return part
    url: str = part["image_url"]["url"]
    if url.startswith("data:"):  # Zhipu reads inline images as bare base64 (the SDK strips the prefix too)
        url = url.partition("base64,")[2]
    return {"type": "image_url", "image_url": {"url": url}}


class ZhipuChatStream(OpenAIChatStream):
    """OpenAI chunks, with Zhipu's error events and finish reasons."""

    __slots__ = ()

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        data = event.data
        if b'"error"' in data:  # an error after the stream started arrives as a data event
            _raise_body_error(self._target, data, in_stream=True)
        chunk = super().feed(event)
        if chunk is None or chunk.finish_reason is not None or b'"finish_reason"' not in data:
            return chunk
        finish = _zhipu_finish_reason(self._target, data)
        return chunk if finish is None else msgspec.structs.replace(chunk, finish_reason=finish)


def _zhipu_finish_reason(target: Target, body: bytes) -> FinishReason | None:
    """The finish reason of a completion or chunk, when it is one only Zhipu sends (OpenAI's parser drops those)."""
    with reading(target, "chat"):
        choices = orjson.loads(body).get("choices") or [{}]
        return _FINISH_REASONS.get(choices[0].get("finish_reason") or "")


def _raise_body_error(target: Target, body: bytes, *, in_stream: bool = False) -> None:
    """Raises Zhipu's error when the body is one (HTTP 200 or a stream event); anything else is left to the parser."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # the OpenAI parser reports it as unreadable
    if isinstance(data, dict) and data.get("error"):
        raise zhipu_error(target, 200, {}, data, in_stream=in_stream)


# Business codes (docs.bigmodel.cn/cn/api/api-code, 2026) -> the error, and the HTTP status it would have had.
_BY_CODE: Mapping[str, tuple[type[UpstreamError], int]] = {
    **dict.fromkeys(("1000", "1001", "1002", "1003", "1004", "1005"), (UpstreamAuthError, 401)),
    **dict.fromkeys(("1110", "1111", "1112", "1121", "1220", "1311"), (UpstreamAuthError, 403)),
    **dict.fromkeys(("1113", "1309"), (ProviderQuotaExhaustedError, 429)),  # in arrears; coding plan expired
    "1261": (ContextLengthExceededError, 400),
    "1301": (ContentFilteredError, 400),
    **dict.fromkeys(("1302", "1303", "1304", "1305", "1308", "1310", "1312", "1313"), (UpstreamRateLimitError, 429)),
    **dict.fromkeys(("500", "1120", "1200", "1230", "1234"), (UpstreamUnavailableError, 503)),
    **dict.fromkeys(("1210", "1211", "1212", "1213", "1214", "1215", "1221", "1222"), (UpstreamBadRequestError, 400)),
}
_WHAT: Mapping[type[UpstreamError], str] = {
    UpstreamAuthError: "credentials refused",
    ProviderQuotaExhaustedError: "provider quota or balance exhausted",
    ContextLengthExceededError: "context length exceeded",
    ContentFilteredError: "blocked by the provider's content filter",
    UpstreamUnavailableError: "provider unavailable",
    UpstreamBadRequestError: "request refused",
}


def zhipu_error(
    target: Target, status: int, headers: Mapping[str, str], data: Mapping[str, Any], *, in_stream: bool = False
) -> UpstreamError:
    """`{"error": {"code": "1302", "message": ...}}` to our error: by business code, else by HTTP status."""
    error = data.get("error")
    error = error if isinstance(error, Mapping) else {"message": error or data.get("message") or ""}
    code = str(error["code"]) if error.get("code") is not None else None
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(str(error.get("message") or ""), secrets)
    known = _BY_CODE.get(code or "")
    where = where_reported(status, in_stream=in_stream)
    if known is None:
        return error_for_status(
            provider=target.provider.id,
            status=status if status != 200 else 502,
            message=message,
            code=code,
            headers=headers,
            context_length_codes=("1261",),
            where=where,
        )
    kind, usual_status = known
    status = status if status != 200 else usual_status  # a stream's error has no status of its own

    def text(what: str) -> str:
        if where == "status":
            return f"{what}: {message} (HTTP {status}, code {code})"
        return upstream_message(what, message, status, code, where=where)

    if kind is UpstreamRateLimitError:
        return UpstreamRateLimitError(
            text("rate limited"),
            provider=target.provider.id,
            status_code=status,
            vendor_code=code,
            retry_after_s=retry_after_s(headers),
        )
    return kind(text(_WHAT[kind]), provider=target.provider.id, status_code=status, vendor_code=code)
