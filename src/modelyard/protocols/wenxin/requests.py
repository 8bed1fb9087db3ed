"""Unified requests to the legacy Wenxin workshop API (per-model paths; shapes as the qianfan SDK 0.4.12.3 sends).

ERNIE's chat rules: the system prompt is its own `system` field, and `messages` must alternate user and
assistant, start and end with the user, hence an odd count. Consecutive plain messages of one role are merged
(a blank line between them); what cannot be made to fit is refused naming the rule, before any call.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.protocols.wenxin.styles import LEGACY_PREFIX, WenxinQuirks, host_of
from modelyard.types import ChatRequest, EmbeddingRequest, Message, RerankRequest, Tool
from modelyard.types.chat import NamedToolChoice

_USER_SIDE = frozenset({"user", "function"})  # a function result takes the user's turn


def quirks_of(target: Target) -> WenxinQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, WenxinQuirks) else WenxinQuirks()


def url(target: Target, kind: str) -> str:
    """`{host}/rpc/2.0/ai_custom/v1/wenxinworkshop/{chat|embeddings|reranker}/{endpoint}` for the target's model."""
    quirks = quirks_of(target)
    path = quirks.legacy_endpoints.get(target.upstream_model) or quirks.legacy_endpoints.get(target.model.id)
    if path is None:
        raise UnsupportedFeatureError(
            f"{target.model.id} has no endpoint on the legacy Wenxin API; choose the v2 API style in the credentials"
        )
    if not path.startswith(f"{kind}/"):
        raise UnsupportedFeatureError(f"{target.model.id} is not a {kind} model on the legacy Wenxin API")
    host = host_of(target.credentials, "legacy", variable=quirks.endpoint_credential)
    return f"{host}{LEGACY_PREFIX}/{path}"


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    system = "\n\n".join(m.text for m in request.messages if m.role == "system")
    body: dict[str, Any] = {
        "messages": chat_messages(request.messages),
        "stream": stream,
    }  # sent even if false, as the SDK does
    if system:
        body["system"] = system
    if request.temperature is not None:
        # ERNIE takes temperature in (0, 1]: zero is refused, so the lowest it accepts stands in for it.
        body["temperature"] = min(max(request.temperature, 0.01), 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.user:
        body["user_id"] = request.user
    if request.tools:
        body["functions"] = [_function(tool) for tool in request.tools]
        if isinstance(request.tool_choice, NamedToolChoice):  # OpenAI's shape; unverified for ERNIE (providers-b)
            body["tool_choice"] = {"type": "function", "function": {"name": request.tool_choice.name}}
    if request.response_format is not None and request.response_format.type == "json_object":
        body["response_format"] = "json_object"
    body.update(request.extra)
    return UpstreamRequest("POST", url(target, "chat"), JSON_HEADERS, orjson.dumps(body))


def chat_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """ERNIE's `messages`: no system, user/assistant alternating, user first and last (so an odd count)."""
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        item = _message(message, names)
        previous = wire[-1] if wire else None
        if previous is not None and (previous["role"] in _USER_SIDE) == (item["role"] in _USER_SIDE):
            if previous["role"] != item["role"] or "function_call" in previous or "function_call" in item:
                raise InvalidRequestError(
                    "ERNIE needs user and assistant turns to alternate; two "
                    f"{'user-side' if item['role'] in _USER_SIDE else 'assistant'} turns follow each other here",
                    field="messages",
                )
            previous["content"] = f"{previous['content']}\n\n{item['content']}"
            continue
        wire.append(item)
    if not wire or wire[0]["role"] != "user":
        raise InvalidRequestError("ERNIE needs the conversation to start with a user message", field="messages")
    if wire[-1]["role"] not in _USER_SIDE:
        raise InvalidRequestError(
            "ERNIE needs the conversation to end with a user message (an odd number of turns)", field="messages"
        )
    return wire


def _message(message: Message, names: dict[str, str]) -> dict[str, Any]:
    if message.role == "tool":
        name = message.name or names.get(message.tool_call_id or "")
        if not name:
            raise InvalidRequestError("a tool result must answer a tool call of an earlier message", field="messages")
        return {"role": "function", "name": name, "content": message.text}
    if message.role == "assistant" and message.tool_calls:
        if len(message.tool_calls) > 1:
            raise UnsupportedFeatureError("ERNIE's legacy API takes one function call per assistant turn")
        call = message.tool_calls[0]
        return {
            "role": "assistant",
            "content": message.text,
            "function_call": {"name": call.name, "arguments": call.arguments},
        }
    return {"role": message.role, "content": message.text}


def _function(tool: Tool) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "parameters": dict(tool.parameters)}


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    if request.dimensions is not None:
        raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter")
    body = {"input": list(request.texts)}
    return UpstreamRequest("POST", url(target, "embeddings"), JSON_HEADERS, orjson.dumps(body))


def build_rerank(target: Target, request: RerankRequest) -> UpstreamRequest:
    # An empty query is refused upstream, and top_n may not exceed the number of documents (Dify's plugin).
    body: dict[str, Any] = {"query": request.query or " ", "documents": list(request.documents)}
    if request.top_n is not None:
        body["top_n"] = min(request.top_n, len(request.documents))
    return UpstreamRequest("POST", url(target, "reranker"), JSON_HEADERS, orjson.dumps(body))
