"""Unified requests to Cohere's v2 API: /v2/chat, /v2/embed, /v2/rerank (shapes as in the `cohere` SDK 7.3.1)."""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    TextPart,
    Tool,
)
from modelyard.types.chat import NamedToolChoice, ResponseFormat

# Cohere takes no named tool choice: a named tool is sent alone, with the choice REQUIRED (same effect).
_TOOL_CHOICES = {"required": "REQUIRED", "none": "NONE"}
_INPUT_TYPES = {"query": "search_query", "document": "search_document"}


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    tools = request.tools
    if isinstance(request.tool_choice, NamedToolChoice):
        tools = tuple(tool for tool in tools if tool.name == request.tool_choice.name)
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "messages": [_message(m) for m in request.messages],
        "stream": stream,  # the SDK always says it, true or false
    }
    if tools:
        body["tools"] = [_tool(t) for t in tools]
        if any(t.strict for t in tools):
            body["strict_tools"] = True  # Cohere's strictness is per request, not per tool
    if isinstance(request.tool_choice, NamedToolChoice):
        body["tool_choice"] = "REQUIRED"
    elif request.tool_choice in _TOOL_CHOICES:
        body["tool_choice"] = _TOOL_CHOICES[request.tool_choice]
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.seed is not None:
        body["seed"] = request.seed
    if request.frequency_penalty is not None:
        body["frequency_penalty"] = request.frequency_penalty
    if request.presence_penalty is not None:
        body["presence_penalty"] = request.presence_penalty
    if request.top_p is not None:
        body["p"] = request.top_p
    if request.reasoning_effort is not None:
        # Cohere's reasoning is on or off (plus a token budget, which callers can send as `thinking` in extra).
        body["thinking"] = {"type": "disabled" if request.reasoning_effort == "none" else "enabled"}
    # `user` and `parallel_tool_calls` have no Cohere counterpart: the model decides how many calls it makes.
    if request.extra:
        extra = dict(request.extra)
        if "top_k" in extra and "k" not in extra:  # OpenAI-style clients say top_k; Cohere calls it k
            extra["k"] = extra.pop("top_k")
        body.update(extra)
    return UpstreamRequest("POST", f"{target.base_url}/v2/chat", JSON_HEADERS, orjson.dumps(body))


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id or "", "content": message.text}
    if message.role == "assistant":
        wire: dict[str, Any] = {"role": "assistant"}
        if message.text:
            wire["content"] = message.text
        if message.tool_calls:
            wire["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in message.tool_calls
            ]
            if message.reasoning:  # the plan Cohere wrote before these calls goes back with them
                wire["tool_plan"] = message.reasoning
        return wire
    if isinstance(message.content, str):
        return {"role": message.role, "content": message.content}
    if message.role == "system":
        return {"role": "system", "content": [_text_part(p) for p in message.content]}
    return {"role": "user", "content": [_user_part(p) for p in message.content]}


def _text_part(part: object) -> dict[str, Any]:
    if not isinstance(part, TextPart):
        raise UnsupportedFeatureError("Cohere system messages take text only", field="messages")
    return {"type": "text", "text": part.text}


def _user_part(part: object) -> dict[str, Any]:
    if isinstance(part, ImagePart):
        image: dict[str, Any] = {"url": part.url}
        if part.detail != "auto":  # auto is Cohere's default
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    raise UnsupportedFeatureError("Cohere chat takes text and image parts only", field="messages")


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _response_format(response_format: ResponseFormat) -> dict[str, Any]:
    # Cohere has json_object with an optional schema where OpenAI has json_object and json_schema.
    if response_format.type == "text":
        return {"type": "text"}
    wire: dict[str, Any] = {"type": "json_object"}
    if response_format.type == "json_schema" and response_format.schema is not None:
        wire["json_schema"] = dict(response_format.schema)
    return wire


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "texts": list(request.texts),
        # Required by every v3+ model; an untyped text is embedded as a document, the common case.
        "input_type": _INPUT_TYPES[request.input_type or "document"],
        "embedding_types": ["float"],
    }
    if request.dimensions is not None:
        if not target.model.properties.supports_dimensions:
            raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter")
        body["output_dimension"] = request.dimensions
    return UpstreamRequest("POST", f"{target.base_url}/v2/embed", JSON_HEADERS, orjson.dumps(body))


def build_rerank(target: Target, request: RerankRequest) -> UpstreamRequest:
    # v2 rerank takes plain strings and has no return_documents: the runtime maps indexes back to the texts.
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "query": request.query,
        "documents": list(request.documents),
    }
    if request.top_n is not None:
        body["top_n"] = request.top_n
    return UpstreamRequest("POST", f"{target.base_url}/v2/rerank", JSON_HEADERS, orjson.dumps(body))
