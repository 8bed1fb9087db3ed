"""Unified requests to Anthropic's Messages API (`POST /v1/messages`)."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

import orjson
from pydantic import Field

from modelyard.catalog.spec import Spec
from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.anthropic.options import apply_options, cache_control
from modelyard.protocols.anthropic.thinking import ReasoningBlock, reasoning_blocks
from modelyard.protocols.base import Target, UpstreamRequest
from modelyard.types import (
    AudioPart,
    ChatRequest,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    Tool,
)
from modelyard.types.chat import CHAT_PARAMETERS, NamedToolChoice

# The version the `anthropic` 2.x SDK sends (anthropic 2.14.0, `_constants.ANTHROPIC_API_VERSION`). A provider file
# pins its own with a static `anthropic-version` header; 2023-06-01 still takes temperature and top_p.
DEFAULT_VERSION = "2026-10-21"
_SAMPLING_REMOVED_IN = "2026-10-21"  # temperature, top_p and top_k answer 400 from this version on (migration guide)


class AnthropicQuirks(Spec):
    """How an Anthropic-compatible server differs; every key a provider file may set."""

    # `max_tokens` is required upstream; this is sent when the caller sets none, capped by the model's output limit.
    # Not the model's maximum: the output rate limit is charged against max_tokens when a request starts.
    default_max_tokens: int = Field(default=16384, gt=0)
    # How `thinking: true` turns thinking on: adaptive (Claude 4.6 and later), or a token budget (the 4.5 models,
    # which take no adaptive thinking); the budget is `thinking_budget`, else this default (the API's minimum).
    thinking_style: Literal["adaptive", "budget"] = "adaptive"
    default_thinking_budget: int = Field(default=1024, ge=1024)


def quirks_of(target: Target) -> AnthropicQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, AnthropicQuirks) else AnthropicQuirks()


def api_version(target: Target) -> str:
    for name, value in target.provider.headers.items():
        if name.lower() == "anthropic-version":
            return value
    return DEFAULT_VERSION


MESSAGES_PARAMETERS = CHAT_PARAMETERS - {"seed", "presence_penalty", "frequency_penalty"}  # no Messages API field


def carried_parameters(target: Target) -> frozenset[str]:
    """From API version 2026-10-21 temperature, top_p and top_k answer 400: the runtime drops them, and says so."""
    removed = {"temperature", "top_p", "top_k"}
    return MESSAGES_PARAMETERS - removed if api_version(target) >= _SAMPLING_REMOVED_IN else MESSAGES_PARAMETERS


def messages_url(target: Target) -> str:
    return f"{target.base_url}/v1/messages"


def build_list_models(target: Target) -> UpstreamRequest:
    headers = {"anthropic-version": api_version(target)}
    return UpstreamRequest("GET", f"{target.base_url}/v1/models?limit=1000", headers)


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    version = api_version(target)
    system, turns = conversation(request.messages)
    body: dict[str, Any] = {"model": target.upstream_model, "max_tokens": _max_tokens(target, request)}
    body["messages"] = turns
    if system is not None:
        body["system"] = system
    if request.stop:
        body["stop_sequences"] = list(request.stop)
    if version < _SAMPLING_REMOVED_IN:
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
    # Otherwise sampling parameters are left out rather than refused: OpenAI-shaped clients send them out of habit.
    # seed and the penalties have no Anthropic counterpart and are left out too.
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
        choice = _tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
    output_config: dict[str, Any] = {}
    _reasoning(request.reasoning_effort, body, output_config)
    if request.response_format is not None and request.response_format.type != "text":
        output_config["format"] = _output_format(request)
    quirks = quirks_of(target)
    extra, betas = apply_options(
        request.extra,
        body,
        output_config,
        style=quirks.thinking_style,
        default_budget=quirks.default_thinking_budget,
    )
    if output_config:
        body["output_config"] = output_config
    if request.user is not None:
        body["metadata"] = {"user_id": request.user}
    if stream:
        body["stream"] = True
    if extra:
        body.update(extra)
    headers = {"Content-Type": "application/json", "anthropic-version": version}
    if betas:
        headers["anthropic-beta"] = ",".join(betas)
    return UpstreamRequest("POST", messages_url(target), headers, orjson.dumps(body))


def _max_tokens(target: Target, request: ChatRequest) -> int:
    if request.max_tokens is not None:
        return request.max_tokens
    default = quirks_of(target).default_max_tokens
    limit = target.model.properties.max_output_tokens
    return min(default, limit) if limit else default


def _reasoning(effort: str | None, body: dict[str, Any], output_config: dict[str, Any]) -> None:
    """OpenAI's reasoning_effort to Anthropic's: `none` turns thinking off, the rest set output_config.effort."""
    if effort is None:
        return
    if effort == "none":
        body["thinking"] = {"type": "disabled"}
    else:
        output_config["effort"] = "low" if effort == "minimal" else effort


def _output_format(request: ChatRequest) -> dict[str, Any]:
    response_format = request.response_format
    assert response_format is not None
    if response_format.type == "json_object" or response_format.schema is None:
        # Anthropic constrains output to a schema only; "any JSON" has no wire form (structured outputs docs, 2026-11)
        raise UnsupportedFeatureError(
            "Anthropic takes JSON output only with a schema: use json_schema", field="response_format"
        )
    return {"type": "json_schema", "schema": dict(response_format.schema)}


# --- messages -----------------------------------------------------------------------------------------------------


def conversation(messages: tuple[Message, ...]) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """The top-level system prompt and the alternating user/assistant turns.

    System messages all go to the top-level `system` (mid-conversation system messages exist only on Opus 4.8 and
    later). Tool results become user turns, and consecutive turns of one role merge into one, as the API requires.
    A cache breakpoint on a message or a part becomes `cache_control` on its block (the message's last block).
    """
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            system.extend(_system_blocks(message))
            continue
        role, content = _turn(message, f"messages[{index}]")
        if content == "" or content == []:
            continue  # an empty turn is refused upstream; an assistant turn with nothing in it carries nothing
        if message.cache is not None:
            content = _as_blocks(content)
            content[-1] = {**content[-1], "cache_control": cache_control(message.cache)}
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] = _as_blocks(turns[-1]["content"]) + _as_blocks(content)
        else:
            turns.append({"role": role, "content": content})
    if not system:
        return None, turns
    if len(system) == 1 and "cache_control" not in system[0]:
        return system[0]["text"], turns
    return system, turns


def _system_blocks(message: Message) -> list[dict[str, Any]]:
    """A system message's text blocks (empty ones left out), its breakpoints on them."""
    parts = (TextPart(message.content),) if isinstance(message.content, str) else message.content
    blocks = []
    for part in parts:
        if isinstance(part, TextPart) and part.text:
            block: dict[str, Any] = {"type": "text", "text": part.text}
            if part.cache is not None:
                block["cache_control"] = cache_control(part.cache)
            blocks.append(block)
    if blocks and message.cache is not None:
        blocks[-1]["cache_control"] = cache_control(message.cache)
    return blocks


def _as_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _turn(message: Message, where: str) -> tuple[str, str | list[dict[str, Any]]]:
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id or ""}
        result["content"] = message.content if isinstance(message.content, str) else _parts(message.content, where)
        return "user", [result]
    if message.role == "assistant":
        return "assistant", _assistant(message, where)
    if isinstance(message.content, str):
        return "user", message.content
    return "user", _parts(message.content, where)


def _assistant(message: Message, where: str) -> str | list[dict[str, Any]]:
    # Thinking goes back only as the signed blocks the model made: unsigned reasoning text would be refused.
    blocks = [_thinking_block(b) for b in reasoning_blocks(message) if b.signature or b.redacted is not None]
    if not blocks and not message.tool_calls:
        return message.content if isinstance(message.content, str) else _parts(message.content, where)
    if isinstance(message.content, str):
        if message.content:
            blocks.append({"type": "text", "text": message.content})
    else:
        blocks.extend(_parts(message.content, where))
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": _tool_input(call.arguments, where)}
        )
    return blocks


def _thinking_block(block: ReasoningBlock) -> dict[str, Any]:
    if block.redacted is not None:
        return {"type": "redacted_thinking", "data": block.redacted}
    return {"type": "thinking", "thinking": block.text, "signature": block.signature or ""}


def _tool_input(arguments: str, where: str) -> dict[str, Any]:
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidRequestError(f"{where}: tool call arguments must be a JSON object for Anthropic", field=where)
    return value


def _parts(parts: tuple[ContentPart, ...], where: str) -> list[dict[str, Any]]:
    return [_part(part, where) for part in parts]


def _part(part: ContentPart, where: str) -> dict[str, Any]:
    block = _block(part, where)
    if part.cache is not None:
        block["cache_control"] = cache_control(part.cache)
    return block


def _block(part: ContentPart, where: str) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        if part.is_inline:
            media_type, data = part.inline_data()
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    if isinstance(part, DocumentPart):
        return _document(part, where)
    assert isinstance(part, AudioPart)
    raise UnsupportedFeatureError("Anthropic models take no audio input", field=where)


def _document(part: DocumentPart, where: str) -> dict[str, Any]:
    if part.media_type == "application/pdf":
        source: dict[str, Any] = {"type": "base64", "media_type": "application/pdf", "data": part.data}
    elif part.media_type == "text/plain":
        try:
            text = base64.b64decode(part.data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidRequestError(f"{where}: a text/plain document must be base64 UTF-8", field=where) from exc
        source = {"type": "text", "media_type": "text/plain", "data": text}
    else:
        raise UnsupportedFeatureError(
            f"Anthropic takes PDF and plain-text documents, not {part.media_type}", field=where
        )
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.name:
        block["title"] = part.name
    return block


# --- tools --------------------------------------------------------------------------------------------------------


def _tool(tool: Tool) -> dict[str, Any]:
    wire: dict[str, Any] = {"name": tool.name, "input_schema": dict(tool.parameters)}
    if tool.description:
        wire["description"] = tool.description
    if tool.strict is not None:
        wire["strict"] = tool.strict
    if tool.cache is not None:
        wire["cache_control"] = cache_control(tool.cache)
    return wire


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None and request.parallel_tool_calls is not False:
        return None
    if choice is None or choice == "auto":
        wire: dict[str, Any] = {"type": "auto"}
    elif choice == "none":
        return {"type": "none"}
    elif choice == "required":
        wire = {"type": "any"}
    else:
        assert isinstance(choice, NamedToolChoice)
        wire = {"type": "tool", "name": choice.name}
    if request.parallel_tool_calls is False:
        wire["disable_parallel_tool_use"] = True
    return wire
