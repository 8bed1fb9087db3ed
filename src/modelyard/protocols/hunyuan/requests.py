"""Unified requests to Hunyuan's native API (shapes as in tencentcloud-sdk-python's hunyuan v20230901 models)."""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import Target, UpstreamRequest
from modelyard.protocols.tencent_cloud import cloud_request
from modelyard.types import ChatRequest, EmbeddingRequest, ImagePart, Message, TextPart, Tool
from modelyard.types.chat import NamedToolChoice

VERSION = "2023-09-01"


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    body: dict[str, Any] = {
        "Model": target.upstream_model,
        "Messages": [_message(m) for m in request.messages],
        "Stream": stream,
    }
    if request.temperature is not None:
        body["Temperature"] = request.temperature
    if request.top_p is not None:
        body["TopP"] = request.top_p
    if request.seed is not None:
        body["Seed"] = request.seed
    if request.stop:
        body["Stop"] = list(request.stop)
    if request.tools:
        body["Tools"] = [_tool(t) for t in request.tools]
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice) or choice == "required":
        # Hunyuan forces a call only by naming the tool (`custom`); `required` is that when one tool is offered.
        named = choice.name if isinstance(choice, NamedToolChoice) else _only_tool(request.tools)
        tool = next((t for t in request.tools if t.name == named), None)
        if tool is None:
            raise UnsupportedFeatureError(f"tool_choice names {named!r}, which is not among the tools", field="tools")
        body["ToolChoice"] = "custom"
        body["CustomTool"] = _tool(tool)
    elif choice is not None:
        body["ToolChoice"] = choice
    if request.reasoning_effort == "none":
        body["EnableThinking"] = False
    # The native API has no output-length field (the model's own limit applies) and no response_format; the
    # OpenAI-compatible endpoint takes both.
    if request.extra:
        body.update(request.extra)
    return cloud_request(target, "ChatCompletions", VERSION, body)


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    if request.dimensions is not None:
        raise UnsupportedFeatureError(f"{target.model.id} has a fixed size; it takes no dimensions parameter")
    return cloud_request(target, "GetEmbedding", VERSION, {"InputList": list(request.texts)})


def _only_tool(tools: tuple[Tool, ...]) -> str:
    if len(tools) != 1:
        raise UnsupportedFeatureError("Hunyuan forces a tool call only by naming one tool", field="tool_choice")
    return tools[0].name


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"Role": "tool", "Content": message.text, "ToolCallId": message.tool_call_id or ""}
    if message.role == "assistant":
        wire: dict[str, Any] = {"Role": "assistant", "Content": message.text}
        if message.tool_calls:
            wire["ToolCalls"] = [
                {"Id": c.id, "Type": "function", "Function": {"Name": c.name, "Arguments": c.arguments}}
                for c in message.tool_calls
            ]
        # ReasoningContent is not sent back: the vendor says reasoning must not be replayed in later turns.
        return wire
    if isinstance(message.content, str):
        return {"Role": message.role, "Content": message.content}
    if message.role == "system":
        return {"Role": "system", "Content": message.text}
    return {"Role": "user", "Contents": [_part(p) for p in message.content]}


def _part(part: object) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"Type": "text", "Text": part.text}
    if isinstance(part, ImagePart):
        return {"Type": "image_url", "ImageUrl": {"Url": part.url}}
    raise UnsupportedFeatureError("Hunyuan chat takes text and image parts only", field="messages")


def _tool(tool: Tool) -> dict[str, Any]:
    # Parameters is a JSON *string* on this wire, not an object (ToolFunction.Parameters in the SDK).
    function: dict[str, Any] = {"Name": tool.name, "Parameters": orjson.dumps(dict(tool.parameters)).decode()}
    if tool.description:
        function["Description"] = tool.description
    return {"Type": "function", "Function": function}
