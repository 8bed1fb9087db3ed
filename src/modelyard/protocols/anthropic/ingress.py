"""Anthropic-shaped request JSON (what `POST /v1/messages` receives) to unified requests, whatever the upstream
speaks; `egress.py` writes the answer back.

`chat_request` reads what an Anthropic client sent, so every problem is an InvalidRequestError naming the field.
Prompt-cache markers (`cache_control` on blocks, tools and the request) are carried as the unified cache
breakpoints; Anthropic-only request features with no unified form (server tools, citations, containers, service
tiers) are not: server tools are refused, the rest are dropped.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols import fields
from modelyard.protocols.anthropic.options import (
    PROMPT_CACHE,
    TASK_BUDGET,
    THINKING,
    THINKING_BUDGET,
    THINKING_DISPLAY,
)
from modelyard.protocols.anthropic.thinking import ReasoningBlock, SignedMessage
from modelyard.types import (
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
from modelyard.types.chat import CacheTTL, NamedToolChoice, ToolChoice


def chat_request(body: Mapping[str, Any]) -> ChatRequest:
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise InvalidRequestError("max_tokens is required and must be a positive integer", field="max_tokens")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise InvalidRequestError("messages must be a non-empty array", field="messages")
    messages = _system(body.get("system"))
    for index, raw in enumerate(raw_messages):
        messages.extend(_message(raw, f"messages[{index}]"))
    output_config = fields.mapping(body, "output_config") or {}
    metadata = fields.mapping(body, "metadata") or {}
    tool_choice, parallel = _tool_choice(body.get("tool_choice"))
    options = _options(body, output_config)
    return ChatRequest(
        messages=tuple(messages),
        tools=tuple(_tool(t, f"tools[{i}]") for i, t in enumerate(fields.array(body, "tools"))),
        tool_choice=tool_choice,
        parallel_tool_calls=parallel,
        response_format=_response_format(output_config.get("format") or body.get("output_format")),
        temperature=fields.number(body, "temperature"),  # clients pinned to API version 2023-06-01 still send these
        top_p=fields.number(body, "top_p"),  # (top_k has no unified counterpart and is dropped)
        max_tokens=max_tokens,
        stop=tuple(fields.strings(body.get("stop_sequences") or [], "stop_sequences")),
        reasoning_effort=_reasoning_effort(body.get("thinking"), output_config.get("effort")),
        user=metadata.get("user_id") if isinstance(metadata.get("user_id"), str) else None,
        extra=options,
    )


def _system(raw: Any) -> list[Message]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        return [Message.system(raw)]
    if isinstance(raw, list):
        return [
            Message("system", _text_block(block, f"system[{i}]"), cache=fields.cache_ttl(block, f"system[{i}]"))
            for i, block in enumerate(raw)
        ]
    raise InvalidRequestError("system must be a string or an array of text blocks", field="system")


def _message(raw: Any, where: str) -> list[Message]:
    if not isinstance(raw, Mapping):
        raise InvalidRequestError(f"{where} must be an object", field=where)
    role, content = raw.get("role"), raw.get("content")
    if not isinstance(content, str | list):
        raise InvalidRequestError(f"{where}.content must be a string or an array of blocks", field=f"{where}.content")
    if role == "user":
        return _user(content, where)
    if role == "assistant":
        return [_assistant(content, where)]
    if role == "system":  # a mid-conversation system message
        text = content if isinstance(content, str) else "".join(_text_block(b, where) for b in content)
        return [Message.system(text)]
    raise InvalidRequestError(f"{where}.role must be user, assistant or system", field=f"{where}.role")


def _user(content: str | list[Any], where: str) -> list[Message]:
    """Tool results become tool messages (they come first in a user turn); the other blocks one user message."""
    if isinstance(content, str):
        return [Message.user(content)]
    messages: list[Message] = []
    parts: list[ContentPart] = []
    for index, block in enumerate(content):
        at = f"{where}.content[{index}]"
        if isinstance(block, Mapping) and block.get("type") == "tool_result":
            messages.append(_tool_result(block, at))
        else:
            parts.append(_part(block, at))
    if parts:
        messages.append(Message.user(parts))
    return messages


def _tool_result(block: Mapping[str, Any], where: str) -> Message:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(f"{where}.tool_use_id is required", field=f"{where}.tool_use_id")
    content = block.get("content", "")
    cache = fields.cache_ttl(block, where)
    if isinstance(content, list):
        parts = tuple(_part(b, f"{where}.content[{i}]") for i, b in enumerate(content))
        if all(isinstance(part, TextPart) and part.cache is None for part in parts):
            content = "".join(part.text for part in parts if isinstance(part, TextPart))
        else:
            return Message(role="tool", content=parts, tool_call_id=call_id, cache=cache)
    if not isinstance(content, str):
        raise InvalidRequestError(f"{where}.content must be a string or an array of blocks", field=where)
    return Message("tool", content, tool_call_id=call_id, cache=cache)


def _assistant(content: str | list[Any], where: str) -> Message:
    if isinstance(content, str):
        return Message.assistant(content)
    texts: list[str] = []
    calls: list[ToolCall] = []
    blocks: list[ReasoningBlock] = []
    cache: CacheTTL | None = None  # the unified assistant message is one text and its calls: a marker goes at its end
    for index, block in enumerate(content):
        at = f"{where}.content[{index}]"
        kind = block.get("type") if isinstance(block, Mapping) else None
        if isinstance(block, Mapping):
            cache = fields.cache_ttl(block, at) or cache
        if kind == "text":
            texts.append(_text_block(block, at))
        elif kind == "tool_use":
            if not isinstance(block.get("id"), str) or not isinstance(block.get("name"), str):
                raise InvalidRequestError(f"{at}: a tool_use block needs an id and a name", field=at)
            calls.append(ToolCall(block["id"], block["name"], orjson.dumps(block.get("input") or {}).decode()))
        elif kind == "thinking":
            blocks.append(ReasoningBlock(text=str(block.get("thinking") or ""), signature=block.get("signature")))
        elif kind == "redacted_thinking":
            blocks.append(ReasoningBlock(redacted=str(block.get("data") or "")))
        else:
            raise UnsupportedFeatureError(f"{at}.type {kind!r} is not supported in assistant turns", field=at)
    reasoning = "".join(block.text for block in blocks) or None
    if not blocks:
        return Message("assistant", "".join(texts), tool_calls=tuple(calls), cache=cache)
    return SignedMessage(
        role="assistant",
        content="".join(texts),
        tool_calls=tuple(calls),
        reasoning=reasoning,
        cache=cache,
        reasoning_blocks=tuple(blocks),
    )


def _part(block: Any, where: str) -> ContentPart:
    kind = block.get("type") if isinstance(block, Mapping) else None
    if kind == "text":
        return TextPart(_text_block(block, where), fields.cache_ttl(block, where))
    if kind in ("image", "document"):
        cache = fields.cache_ttl(block, where)
        source = block.get("source")
        source_type = source.get("type") if isinstance(source, Mapping) else None  # None: no source to read
        if kind == "image" and source_type == "base64":
            return ImagePart(f"data:{source.get('media_type')};base64,{source.get('data')}", cache=cache)
        if kind == "image" and source_type == "url" and isinstance(source.get("url"), str):
            return ImagePart(source["url"], cache=cache)
        title = block.get("title") if isinstance(block.get("title"), str) else None
        if kind == "document" and source_type == "base64":
            media_type = str(source.get("media_type") or "application/pdf")
            return DocumentPart(str(source.get("data")), media_type, title, cache)
        if kind == "document" and source_type == "text":
            data = base64.b64encode(str(source.get("data") or "").encode()).decode()
            return DocumentPart(data, "text/plain", title, cache)
        raise UnsupportedFeatureError(f"{where}: {kind} source {source_type!r} is not supported", field=where)
    raise UnsupportedFeatureError(f"{where}.type {kind!r} is not a supported content block", field=where)


def _text_block(block: Any, where: str) -> str:
    if not isinstance(block, Mapping) or block.get("type") != "text" or not isinstance(block.get("text"), str):
        raise InvalidRequestError(f"{where} must be a text block", field=where)
    return str(block["text"])


def _tool(raw: Any, where: str) -> Tool:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise InvalidRequestError(f"{where}.name is required", field=where)
    if raw.get("type") not in (None, "custom"):  # web search, code execution ... run at Anthropic, not here
        raise UnsupportedFeatureError(f"{where}: server tool {raw['type']!r} is not supported", field=where)
    schema = raw.get("input_schema")
    if not isinstance(schema, Mapping):
        raise InvalidRequestError(f"{where}.input_schema must be a JSON schema object", field=f"{where}.input_schema")
    strict = raw.get("strict")
    return Tool(
        raw["name"],
        str(raw.get("description") or ""),
        schema,
        strict if isinstance(strict, bool) else None,
        fields.cache_ttl(raw, where),
    )


def _tool_choice(raw: Any) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, Mapping):
        raise InvalidRequestError("tool_choice must be an object", field="tool_choice")
    parallel = False if raw.get("disable_parallel_tool_use") is True else None
    kind = raw.get("type")
    if kind == "auto":
        return "auto", parallel
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", None
    if kind == "tool" and isinstance(raw.get("name"), str):
        return NamedToolChoice(raw["name"]), parallel
    raise InvalidRequestError("tool_choice.type must be auto, any, tool (with a name) or none", field="tool_choice")


def _response_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or raw.get("type") != "json_schema" or not isinstance(raw.get("schema"), Mapping):
        raise InvalidRequestError(
            "output_config.format must be {type: json_schema, schema: {...}}", field="output_config"
        )
    return ResponseFormat("json_schema", schema=raw["schema"])


def _options(body: Mapping[str, Any], output_config: Mapping[str, Any]) -> dict[str, Any]:
    """Thinking, its display and budget, a task budget and automatic caching, as the parameters that carry them
    (protocols/anthropic/options.py): an Anthropic upstream gets them back as sent, others see named parameters."""
    options: dict[str, Any] = {}
    thinking = fields.mapping(body, "thinking") or {}
    if thinking.get("type") == "disabled":
        options[THINKING] = False
    elif thinking.get("type") in ("adaptive", "enabled"):
        options[THINKING] = True
        if isinstance(thinking.get("budget_tokens"), int):
            options[THINKING_BUDGET] = thinking["budget_tokens"]
        if isinstance(thinking.get("display"), str):
            options[THINKING_DISPLAY] = thinking["display"]
    budget = output_config.get("task_budget")
    if isinstance(budget, Mapping):
        options[TASK_BUDGET] = budget.get("total") if set(budget) <= {"type", "total"} else dict(budget)
    ttl = fields.cache_ttl(body, "body")
    if ttl is not None:
        options[PROMPT_CACHE] = ttl
    return options


def _reasoning_effort(thinking: Any, effort: Any) -> str | None:
    """output_config.effort as it is; thinking disabled as `none` (thinking on travels as a parameter: `_options`)."""
    if isinstance(effort, str):
        return effort
    if isinstance(thinking, Mapping) and thinking.get("type") == "disabled":
        return "none"
    return None
