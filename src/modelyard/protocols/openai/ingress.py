"""OpenAI-shaped request JSON (what SDKs and the gateway receive) to unified requests.

The reverse of `requests.py`: it reads what a client sent, so every problem is an InvalidRequestError that
names the field, never a KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelyard.errors import InvalidRequestError
from modelyard.protocols import fields
from modelyard.types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
)
from modelyard.types.chat import NamedToolChoice, ToolChoice

# Body keys the unified request carries itself; anything else a client sends goes upstream as `extra`.
_KNOWN = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "reasoning_effort",
        "user",
        "n",
    }
)
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}


def chat_request(body: Mapping[str, Any]) -> ChatRequest:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequestError("messages must be a non-empty array", field="messages")
    if body.get("n") not in (None, 1):
        raise InvalidRequestError("only n=1 is supported", field="n")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    stop = body.get("stop")
    return ChatRequest(
        messages=tuple(message(m, f"messages[{i}]") for i, m in enumerate(messages)),
        tools=tuple(tool(t, f"tools[{i}]") for i, t in enumerate(fields.array(body, "tools"))),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=fields.typed(body, "parallel_tool_calls", bool),
        response_format=response_format(body.get("response_format")),
        temperature=fields.number(body, "temperature"),
        top_p=fields.number(body, "top_p"),
        max_tokens=fields.positive_int(max_tokens, "max_tokens"),
        stop=(stop,)
        if isinstance(stop, str)
        else tuple(fields.strings(stop or [], "stop", expected="a string or an array of strings")),
        seed=fields.typed(body, "seed", int),
        presence_penalty=fields.number(body, "presence_penalty"),
        frequency_penalty=fields.number(body, "frequency_penalty"),
        reasoning_effort=fields.typed(body, "reasoning_effort", str),
        user=fields.typed(body, "user", str),
        extra={k: v for k, v in body.items() if k not in _KNOWN},
    )


def message(raw: Any, where: str = "message") -> Message:
    if isinstance(raw, Message):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidRequestError(f"{where} must be an object", field=where)
    role = _ROLES.get(raw.get("role"))  # type: ignore[arg-type]
    if role is None:
        raise InvalidRequestError(f"{where}.role must be one of system, developer, user, assistant, tool", field=where)
    content = raw.get("content")
    if content is None:
        parsed: str | tuple[ContentPart, ...] = ""
    elif isinstance(content, str):
        parsed = content
    elif isinstance(content, list):
        parsed = tuple(_part(p, f"{where}.content[{i}]") for i, p in enumerate(content))
    else:
        raise InvalidRequestError(f"{where}.content must be a string or an array of parts", field=f"{where}.content")
    calls = tuple(_tool_call(c, f"{where}.tool_calls[{i}]") for i, c in enumerate(raw.get("tool_calls") or ()))
    if role == "tool" and not isinstance(raw.get("tool_call_id"), str):
        raise InvalidRequestError(f"{where}.tool_call_id is required on tool messages", field=f"{where}.tool_call_id")
    reasoning = raw.get("reasoning_content")
    return Message(
        role=role,  # type: ignore[arg-type]
        content=parsed,
        tool_calls=calls,
        tool_call_id=raw.get("tool_call_id"),
        name=raw.get("name") if isinstance(raw.get("name"), str) else None,
        reasoning=reasoning if isinstance(reasoning, str) else None,
        cache=fields.cache_ttl(raw, where),
    )


def _part(raw: Any, where: str) -> ContentPart:
    if not isinstance(raw, Mapping):
        raise InvalidRequestError(f"{where} must be an object", field=where)
    kind = raw.get("type")
    cache = fields.cache_ttl(raw, where)  # a breakpoint on the part, as LiteLLM and OpenRouter take it
    if kind == "text" and isinstance(raw.get("text"), str):
        return TextPart(raw["text"], cache)
    if kind == "image_url":
        image = raw.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        if not isinstance(url, str) or not url:
            raise InvalidRequestError(f"{where}.image_url.url must be a URL", field=f"{where}.image_url")
        detail = image.get("detail") if isinstance(image, Mapping) else None
        return ImagePart(url, "low" if detail == "low" else "high" if detail == "high" else "auto", cache)
    if kind == "input_audio" and isinstance(raw.get("input_audio"), Mapping):
        audio = raw["input_audio"]
        return AudioPart(str(audio.get("data", "")), str(audio.get("format", "wav")), cache)
    if kind == "file" and isinstance(raw.get("file"), Mapping):
        data = str(raw["file"].get("file_data", ""))
        header, _, payload = data.partition(",")
        media_type = header.removeprefix("data:").split(";", 1)[0] or "application/pdf"
        return DocumentPart(payload or data, media_type, raw["file"].get("filename"), cache)
    raise InvalidRequestError(f"{where}.type {kind!r} is not a supported content part", field=f"{where}.type")


def _tool_call(raw: Any, where: str) -> ToolCall:
    function = raw.get("function") if isinstance(raw, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidRequestError(f"{where}.function.name is required", field=where)
    arguments = function.get("arguments", "")
    return ToolCall(str(raw.get("id") or ""), function["name"], arguments if isinstance(arguments, str) else "")


def tool(raw: Any, where: str = "tool") -> Tool:
    if isinstance(raw, Tool):
        return raw
    function = raw.get("function") if isinstance(raw, Mapping) else None
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise InvalidRequestError(f"{where}.function.name is required", field=where)
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise InvalidRequestError(f"{where}.function.parameters must be a JSON schema object", field=where)
    return Tool(
        function["name"],
        str(function.get("description") or ""),
        parameters,
        function.get("strict"),
        fields.cache_ttl(raw, where),
    )


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None or raw in ("auto", "none", "required"):
        return raw  # type: ignore[no-any-return]
    if isinstance(raw, Mapping) and isinstance(raw.get("function"), Mapping) and raw["function"].get("name"):
        return NamedToolChoice(str(raw["function"]["name"]))
    raise InvalidRequestError("tool_choice must be auto, none, required or a named function", field="tool_choice")


def response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind in ("text", "json_object"):
        return ResponseFormat(kind)
    if kind == "json_schema" and isinstance(raw.get("json_schema"), Mapping):
        spec = raw["json_schema"]
        if not isinstance(spec.get("schema", {}), Mapping):
            raise InvalidRequestError("response_format.json_schema.schema must be an object", field="response_format")
        return ResponseFormat(
            "json_schema", str(spec.get("name") or "response"), spec.get("schema"), spec.get("strict")
        )
    raise InvalidRequestError("response_format.type must be text, json_object or json_schema", field="response_format")
