"""Volcengine's legacy MaaS v2 API (before Ark v3): chat and embeddings on an inference endpoint, AK/SK signed.

`POST {host}/api/v2/endpoint/{endpoint_id}/chat` with the sampling options under `parameters`; the answer is
OpenAI-like (`choices[].message`, `usage`) plus `req_id` and an `error` object whose nonzero `code_n` means failure,
on a 200 as well as in any stream event (volcengine SDK 1.0.229, `volcengine.maas.v2`; shared/providers-b §11.2).
Streams send `choices[].message` pieces (not `delta`), usage on the last event, and end with `[DONE]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import ContentFilteredError, UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import JSON_HEADERS, ChatStreamParser, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.errors import Where, error_for_status, redact, upstream_message, where_reported
from modelyard.protocols.openai.responses import FINISH_REASONS, arguments_text, parse_usage, reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from modelyard.types.chat import CHAT_PARAMETERS

# The `code` of an error object, by what it means (volcengine SDK examples, Dify's legacy client, providers-b §11.2).
_STATUS_BY_CODE: Mapping[str, int] = {
    **dict.fromkeys(
        (
            "SignatureDoesNotMatch",
            "MissingAuthenticationHeader",
            "AuthenticationHeaderIsInvalid",
            "AuthenticationExpire",
            "UnauthorizedUserForEndpoint",
            "ServiceNotOpen",
        ),
        401,
    ),
    **dict.fromkeys(
        (
            "MissingParameter",
            "InvalidParameter",
            "EndpointIsInvalid",
            "EndpointIsNotEnable",
            "InvalidEndpointWithNoURL",
            "ModelNotSupportStreamMode",
        ),
        400,
    ),
    **dict.fromkeys(
        (
            "EndpointRateLimitExceeded",
            "EndpointAccountRpmRateLimitExceeded",
            "EndpointAccountTpmRateLimitExceeded",
            "ServiceResourceWaitQueueFull",
        ),
        429,
    ),
    **dict.fromkeys(("RequestTimeout", "ServiceConnectionTimeout"), 408),
    **dict.fromkeys(
        ("InternalServiceError", "EndpointIsPending", "ServiceConnectionRefused", "ServiceConnectionClosed"), 503
    ),
}
_CONTENT_RISK = frozenset({"ReqTextExistRisk", "RespTextExistRisk"})


class VolcengineMaaSV2(WireProtocol):
    name = "volcengine_maas_v2"
    chat_parameters = CHAT_PARAMETERS - {
        "seed",
        "reasoning_effort",
        "response_format",
        "parallel_tool_calls",
        "user",
    }  # MaaS v2 takes no field for these

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        parameters: dict[str, Any] = {}
        for field, value in (
            ("max_new_tokens", request.max_tokens),
            ("temperature", request.temperature),
            ("top_p", request.top_p),
            ("presence_penalty", request.presence_penalty),
            ("frequency_penalty", request.frequency_penalty),
        ):
            if value is not None:
                parameters[field] = value
        if request.stop:
            parameters["stop"] = list(request.stop)
        extra = dict(request.extra)
        if "top_k" in extra:
            parameters["top_k"] = extra.pop("top_k")
        body: dict[str, Any] = {"messages": _messages(request.messages), "parameters": parameters, "stream": stream}
        if request.tool_choice not in (None, "auto", "none"):  # MaaS v2 has no tool_choice: the model decides
            raise UnsupportedFeatureError("MaaS v2 takes no tool_choice but 'auto' or 'none'", field="tool_choice")
        if request.tools and request.tool_choice != "none":
            body["tools"] = [_tool(t) for t in request.tools]
        body.update(extra)
        return UpstreamRequest("POST", _endpoint(target, "chat"), JSON_HEADERS, orjson.dumps(body))

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        with reading(target, "chat"):
            data = _load(target, body)
            choice = _first_choice(data)
            message = choice.get("message") or {}
            return ChatResult(
                model=target.model.id,
                content=message.get("content") or "",
                reasoning=message.get("reasoning_content") or None,
                tool_calls=tuple(
                    ToolCall(*_call_fields(raw, i)) for i, raw in enumerate(message.get("tool_calls") or ())
                ),
                finish_reason=FINISH_REASONS.get(choice.get("finish_reason") or ""),
                usage=parse_usage(data.get("usage")),
                id=data.get("req_id"),
            )

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return _ChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        body = orjson.dumps({"input": list(request.texts)})
        return UpstreamRequest("POST", _endpoint(target, "embeddings"), JSON_HEADERS, body)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        with reading(target, "embeddings"):
            data = _load(target, body)
            items = sorted(data["data"], key=lambda item: item.get("index", 0))
            return EmbeddingResult(
                model=target.model.id,
                vectors=tuple(list(item["embedding"]) for item in items),
                usage=parse_usage(data.get("usage")),
            )

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        try:
            data = orjson.loads(body) if body else {}
        except orjson.JSONDecodeError:
            data = {"error": {"message": body[:300].decode("utf-8", "replace")}}
        error = data.get("error") if isinstance(data, dict) else None
        return _error(target, status, error if isinstance(error, Mapping) else {}, headers)


class _ChatStream(ChatStreamParser):
    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if event.data == b"[DONE]":
            self.finished = True
            return None
        if not event.data:
            return None
        with reading(self._target, "chat stream"):
            data = _load(self._target, event.data, in_stream=True)
            usage = parse_usage(data["usage"]) if data.get("usage") else None
            choices = data.get("choices") or ([data["choice"]] if data.get("choice") else [])
            if not choices:
                return ChatChunk(usage=usage) if usage else None
            choice = choices[0]
            message = choice.get("message") or choice.get("delta") or {}
            finish = choice.get("finish_reason")
            calls = message.get("tool_calls") or ()
            return ChatChunk(
                content=message.get("content") or "",
                reasoning=message.get("reasoning_content") or "",
                tool_calls=tuple(
                    ToolCallDelta(raw.get("index", i), *_call_fields(raw, i)) for i, raw in enumerate(calls)
                ),
                finish_reason=FINISH_REASONS.get(finish) if finish else None,
                usage=usage,
            )


def _endpoint(target: Target, api: str) -> str:
    return f"{target.base_url}/api/v2/endpoint/{target.upstream_model}/{api}"


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    # MaaS v2 answers tool calls without ids; we name them by their function (as Dify's client did), and a tool's
    # result goes back as a `function` message named after the function that was called.
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    wire: list[dict[str, Any]] = []
    for message in messages:
        if not isinstance(message.content, str) and not all(isinstance(p, TextPart) for p in message.content):
            raise UnsupportedFeatureError("MaaS v2 endpoints take text only", field="messages")
        if message.role == "tool":
            name = names.get(message.tool_call_id or "", message.tool_call_id or "")
            wire.append({"role": "function", "name": name, "content": message.text})
            continue
        item: dict[str, Any] = {"role": message.role, "content": message.text}
        if message.tool_calls:
            item["tool_calls"] = [
                {"type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls
            ]
        wire.append(item)
    return wire


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _call_fields(raw: Mapping[str, Any], index: int) -> tuple[str, str, str]:
    function = raw.get("function") or raw  # a flat {name, arguments} is tolerated too
    name = function.get("name") or ""
    return raw.get("id") or name or f"call_{index}", name, arguments_text(function.get("arguments") or "")


def _first_choice(data: Mapping[str, Any]) -> dict[str, Any]:
    choices = data.get("choices")
    choice: dict[str, Any] = choices[0] if choices else data["choice"]  # `choice` is the v1 shape; tolerated
    return choice


def _load(target: Target, body: bytes, *, in_stream: bool = False) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    error = data.get("error")
    if isinstance(error, Mapping) and (error.get("code_n") or error.get("code")):
        raise _error(target, 200, error, {}, where=where_reported(200, in_stream=in_stream))
    return data


def _error(
    target: Target, status: int, error: Mapping[str, Any], headers: Mapping[str, str], *, where: Where = "status"
) -> UpstreamError:
    code = str(error.get("code") or "") or None
    secrets = [value for key, value in target.credentials.items() if key in target.provider.secret_variables()]
    message = redact(str(error.get("message") or ""), secrets)
    vendor_code = f"{code} ({error.get('code_n')})" if code and error.get("code_n") else code
    if code in _CONTENT_RISK:
        return ContentFilteredError(
            upstream_message("blocked by the provider's content filter", message, status, vendor_code, where=where),
            provider=target.provider.id,
            status_code=status,
            vendor_code=vendor_code,
        )
    mapped = _STATUS_BY_CODE.get(code or "")
    if mapped is None:
        mapped = status if status != 200 else 502
    return error_for_status(
        provider=target.provider.id, status=mapped, message=message, code=vendor_code, headers=headers, where=where
    )
