"""Unified chat requests to OpenAI's Responses API (`POST /v1/responses`), and the wire pieces both directions share.

The conversation goes up whole on every call with `store: false`: modelyard keeps no state at OpenAI, so a
request means the same whichever credential of a pool serves it. Leading system messages become `instructions`;
assistant turns become `message` and `function_call` items, tool results `function_call_output` items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import orjson

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.protocols.completion_prompt import is_completion_mode
from modelyard.protocols.openai.requests import OpenAIQuirks, quirks_of
from modelyard.types import AudioPart, ChatRequest, ContentPart, DocumentPart, ImagePart, Message, TextPart, Tool
from modelyard.types.chat import NamedToolChoice, ResponseFormat, ToolChoice

API_PROTOCOLS = ("chat_completions", "responses")
ReasoningSummary = Literal["auto", "concise", "detailed"]
# A call's own summary choice (`reasoning_summary` in extra): only the Responses API has a field for it.
REASONING_SUMMARY = "reasoning_summary"


class ResponsesQuirks(OpenAIQuirks):
    """OpenAI's quirks, and which chat calls take the Responses API instead of Chat Completions."""

    api_protocol_credential: str = "api_protocol"  # the credential field that chooses chat_completions | responses
    # Models served on the Responses API only (OpenAI's *-pro models): they use it whatever the credential says.
    # Matched against the model id and, for deployments, against the base model the deployment runs.
    responses_models: tuple[str, ...] = ()
    # The reasoning summary asked of reasoning models: the only reasoning text the Responses API returns.
    reasoning_summary: ReasoningSummary | None = "auto"


def responses_quirks(target: Target) -> ResponsesQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, ResponsesQuirks) else ResponsesQuirks()


def uses_responses(target: Target) -> bool:
    """Whether chat for this target goes to the Responses API: the model exists only there, or the credential says so.

    An unset field takes the form's default, so a credential saved before the field existed keeps Chat Completions.
    """
    if is_completion_mode(target):  # a completion-mode model speaks the legacy /completions
        return False
    quirks = responses_quirks(target)
    base_model = target.credentials.get(target.provider.base_model_credential or "")
    if target.model.id in quirks.responses_models or base_model in quirks.responses_models:
        return True
    variable = quirks.api_protocol_credential
    chosen = target.credentials.get(variable) or next(
        (
            f.default or ""
            for f in (*target.provider.credentials, *target.provider.model_credentials)
            if f.variable == variable
        ),
        "",
    )
    return chosen == "responses"


def endpoint(target: Target) -> str:
    """`{base}/responses`; Azure serves it only on its version-less v1 API, `{resource}/openai/v1/responses`, with the
    deployment named in the body's `model` (learn.microsoft.com, Azure OpenAI v1 API, read 2026-12)."""
    if quirks_of(target).url_style == "azure-deployment":
        return f"{target.base_url}/v1/responses"
    return f"{target.base_url}/responses"


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    _refuse_unsupported(request)
    instructions, items = input_items(request.messages)
    body: dict[str, Any] = {"model": target.upstream_model, "input": items, "store": False}
    if instructions:
        body["instructions"] = instructions
    if request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.tools:
        body["tools"] = [function_tool(tool) for tool in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    extra = dict(request.extra)
    text: dict[str, Any] = {}
    if request.response_format is not None:
        text["format"] = text_format(request.response_format)
    if "verbosity" in extra:  # top-level on Chat Completions, text.verbosity here
        text["verbosity"] = extra.pop("verbosity")
    if text:
        body["text"] = text
    reasoning = _reasoning(target, request, extra.pop(REASONING_SUMMARY, None))
    if reasoning:
        body["reasoning"] = reasoning
    if request.user is not None:
        body["safety_identifier"] = request.user  # the Responses API's successor of `user` for abuse detection
    if stream:
        body["stream"] = True
    if extra:
        body.update(extra)
    return UpstreamRequest("POST", endpoint(target), JSON_HEADERS, orjson.dumps(body))


def _refuse_unsupported(request: ChatRequest) -> None:
    """Chat Completions parameters the Responses API has no field for: refused by name, never silently dropped."""
    for field, value in (
        ("stop", request.stop),
        ("seed", request.seed),
        ("presence_penalty", request.presence_penalty),
        ("frequency_penalty", request.frequency_penalty),
    ):
        if value not in (None, ()):
            raise UnsupportedFeatureError(
                f"the Responses API takes no {field}; leave it out, or use a credential whose API protocol is "
                "Chat Completions",
                field=field,
            )


def _reasoning(target: Target, request: ChatRequest, asked_summary: Any) -> dict[str, str]:
    """The effort, and the summary: the call's own choice, else the provider's (reasoning models, reasoning on)."""
    reasoning: dict[str, str] = {}
    if request.reasoning_effort is not None:
        reasoning["effort"] = request.reasoning_effort
    summary = asked_summary if asked_summary is not None else responses_quirks(target).reasoning_summary
    if summary is not None and target.model.supports("reasoning") and request.reasoning_effort != "none":
        reasoning["summary"] = str(summary)
    return reasoning


# --- unified values to wire items (the gateway's egress writes the same shapes) -----------------------------------


def input_items(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """The instructions (the leading system messages, joined) and the input items of a conversation."""
    leading = 0
    while leading < len(messages) and messages[leading].role == "system":
        leading += 1
    instructions = "\n\n".join(m.text for m in messages[:leading] if m.text)
    items: list[dict[str, Any]] = []
    for message in messages[leading:]:
        items.extend(message_items(message))
    return instructions, items


def message_items(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {"type": "function_call_output", "call_id": message.tool_call_id or "", "output": _tool_output(message)}
        ]
    if message.role == "assistant":
        items: list[dict[str, Any]] = []
        if message.text:
            items.append({"role": "assistant", "content": message.text})
        items.extend(function_call(call.id, call.name, call.arguments) for call in message.tool_calls)
        return items
    if isinstance(message.content, str):
        return [{"role": message.role, "content": message.content}]
    return [{"role": message.role, "content": [content_part(part) for part in message.content]}]


def function_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def _tool_output(message: Message) -> str | list[dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    return [content_part(part) for part in message.content]


def content_part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "input_text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "input_image", "image_url": part.url, "detail": part.detail}
    if isinstance(part, DocumentPart):
        file = {"type": "input_file", "file_data": f"data:{part.media_type};base64,{part.data}"}
        return file | {"filename": part.name} if part.name else file
    assert isinstance(part, AudioPart)
    raise UnsupportedFeatureError("the Responses API takes no audio input parts", field="messages")


def function_tool(tool: Tool) -> dict[str, Any]:
    wire: dict[str, Any] = {"type": "function", "name": tool.name, "parameters": dict(tool.parameters)}
    wire["strict"] = tool.strict  # required by the API (null: the default, non-strict)
    if tool.description:
        wire["description"] = tool.description
    return wire


def tool_choice(choice: ToolChoice) -> Any:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "name": choice.name}
    return choice


def text_format(response_format: ResponseFormat) -> dict[str, Any]:
    if response_format.type != "json_schema":
        return {"type": response_format.type}
    wire: dict[str, Any] = {
        "type": "json_schema",
        "name": response_format.name,
        "schema": dict(response_format.schema or {}),
    }
    if response_format.strict is not None:
        wire["strict"] = response_format.strict
    return wire
