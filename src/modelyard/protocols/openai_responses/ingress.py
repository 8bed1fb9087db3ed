"""What a Responses API client sent the gateway (`POST /v1/responses`), read into a unified request.

Every problem is an InvalidRequestError naming the field (`input[2].call_id`), never a KeyError. Input items are
read into unified messages: a run of `reasoning`, assistant `message` and `function_call` items is one assistant
turn, a `function_call_output` a tool message. Only function tools are taken: built-in tools (web search, file
search, code interpreter, MCP ...) run inside OpenAI and are refused by name. Responses-only options with no
unified meaning (`include`, `truncation`, `prompt_cache_key`, `service_tier`, `text.verbosity` ...) are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols import fields
from modelyard.protocols.openai.responses import arguments_text
from modelyard.protocols.openai_responses.requests import function_tool
from modelyard.protocols.openai_responses.responses import reasoning_text
from modelyard.types import ChatRequest, ContentPart, DocumentPart, ImagePart, Message, ResponseFormat, TextPart, Tool
from modelyard.types.chat import NamedToolChoice, ToolCall, ToolChoice
from modelyard.types.value import Value

_SUMMARIES = frozenset({"auto", "concise", "detailed"})
_REFUSED = {
    "background": "background responses are not supported; poll-free calls (stream or not) are",
    "conversation": "conversation objects are not supported; continue with previous_response_id",
    "prompt": "saved prompts are not supported; send the instructions and input",
}


class ResponsesCall(Value, frozen=True):
    """One `POST /v1/responses`: the unified request (its messages: this call's input only) and the options
    that shape the answer and its storage."""

    request: ChatRequest
    input: list[dict[str, Any]]  # the input items, normalised (a string input is one user message item)
    model: str | None
    instructions: str | None
    stream: bool
    store: bool
    previous_response_id: str | None
    reasoning_summary: str | None  # asked for: reasoning text is answered as a summary only when it is
    metadata: dict[str, str]
    echo: dict[str, Any]  # request fields the response object repeats as they were sent (tools, text, reasoning ...)


def read(body: Mapping[str, Any]) -> ResponsesCall:
    for key, reason in _REFUSED.items():
        if body.get(key) not in (None, False):
            raise UnsupportedFeatureError(reason, field=key)
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or not model):
        raise InvalidRequestError("model must be 'provider/model', a model name, or 'default'", field="model")
    items = input_items(body.get("input"))
    reasoning = fields.mapping(body, "reasoning") or {}
    summary = reasoning.get("summary", reasoning.get("generate_summary"))
    if summary is not None and summary not in _SUMMARIES:
        raise InvalidRequestError("reasoning.summary must be auto, concise or detailed", field="reasoning.summary")
    effort = reasoning.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise InvalidRequestError("reasoning.effort must be a string", field="reasoning.effort")
    text = fields.mapping(body, "text") or {}
    tools = tuple(_tool(raw, f"tools[{i}]") for i, raw in enumerate(fields.array(body, "tools")))
    user = fields.typed(body, "safety_identifier", str) or fields.typed(body, "user", str)
    request = ChatRequest(
        messages=messages_of(items, "input"),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=fields.typed(body, "parallel_tool_calls", bool),
        response_format=_text_format(text.get("format")),
        temperature=fields.number(body, "temperature"),
        top_p=fields.number(body, "top_p"),
        max_tokens=fields.positive_int(body.get("max_output_tokens"), "max_output_tokens"),
        reasoning_effort=effort,
        user=user,
    )
    instructions = fields.typed(body, "instructions", str)
    previous = fields.typed(body, "previous_response_id", str)
    store = fields.typed(body, "store", bool)
    return ResponsesCall(
        request=request,
        input=items,
        model=model,
        instructions=instructions or None,
        stream=fields.typed(body, "stream", bool) is True,
        store=store is not False,  # the API's default: stored unless told otherwise
        previous_response_id=previous or None,
        reasoning_summary=summary,
        metadata=_metadata(body.get("metadata")),
        echo=_echo(body, tools, text),
    )


def conversation(call: ResponsesCall, history: Sequence[Message] = ()) -> ChatRequest:
    """The request to invoke: the instructions (never carried over from a previous response), the stored history
    of a previous response, then this call's input."""
    system = (Message.system(call.instructions),) if call.instructions else ()
    return msgspec.structs.replace(call.request, messages=(*system, *history, *call.request.messages))


def input_items(raw: Any) -> list[dict[str, Any]]:
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": raw}]
    if not isinstance(raw, list) or not raw:
        raise InvalidRequestError("input must be a string or a non-empty array of items", field="input")
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidRequestError(f"input[{index}] must be an object", field=f"input[{index}]")
    return raw


def messages_of(items: Sequence[Mapping[str, Any]], where: str) -> tuple[Message, ...]:
    """Input (or stored) items as unified messages; `where` names the list in errors."""
    messages: list[Message] = []
    turn = _AssistantTurn()
    for index, item in enumerate(items):
        at = f"{where}[{index}]"
        kind = item.get("type") or ("message" if "role" in item else None)
        role = item.get("role")
        if kind == "reasoning":
            turn.reasoning.append(reasoning_text(item))
        elif kind == "function_call":
            turn.calls.append(_function_call(item, at))
        elif kind == "message" and role == "assistant":
            if turn.calls:  # text after the calls of a turn starts the next assistant message
                messages.append(turn.message())
                turn = _AssistantTurn()
            turn.texts.append(_assistant_text(item.get("content"), f"{at}.content"))
        else:
            if turn:
                messages.append(turn.message())
                turn = _AssistantTurn()
            messages.append(_other_item(item, kind, role, at))
    if turn:
        messages.append(turn.message())
    return tuple(messages)


class _AssistantTurn:
    __slots__ = ("calls", "reasoning", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.calls: list[ToolCall] = []
        self.reasoning: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.texts or self.calls or self.reasoning)

    def message(self) -> Message:
        reasoning = "\n\n".join(text for text in self.reasoning if text) or None
        return Message.assistant("".join(self.texts), self.calls, reasoning)


def _other_item(item: Mapping[str, Any], kind: Any, role: Any, at: str) -> Message:
    if kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError(f"{at}.call_id is required", field=f"{at}.call_id")
        output = item.get("output")
        if isinstance(output, str):
            return Message.tool(call_id, output)
        if isinstance(output, list):
            parts = tuple(_part(p, f"{at}.output[{i}]") for i, p in enumerate(output))
            return Message(role="tool", content=parts, tool_call_id=call_id)
        raise InvalidRequestError(f"{at}.output must be a string or an array of parts", field=f"{at}.output")
    if kind != "message":
        raise UnsupportedFeatureError(f"{at}.type {kind!r} is not a supported input item", field=f"{at}.type")
    content = item.get("content")
    if role in ("system", "developer"):
        return Message.system(content if isinstance(content, str) else _joined_text(content, f"{at}.content"))
    if role != "user":
        raise InvalidRequestError(f"{at}.role must be user, assistant, system or developer", field=f"{at}.role")
    if isinstance(content, str):
        return Message.user(content)
    if not isinstance(content, list):
        raise InvalidRequestError(f"{at}.content must be a string or an array of parts", field=f"{at}.content")
    return Message.user([_part(p, f"{at}.content[{i}]") for i, p in enumerate(content)])


def _function_call(item: Mapping[str, Any], at: str) -> ToolCall:
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequestError(f"{at}.call_id is required", field=f"{at}.call_id")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"{at}.name is required", field=f"{at}.name")
    return ToolCall(call_id, name, arguments_text(item.get("arguments") or ""))


def _assistant_text(content: Any, at: str) -> str:
    return content if isinstance(content, str) else _joined_text(content, at)


def _joined_text(content: Any, at: str) -> str:
    """The text of a content array that may hold only text (system turns, assistant turns)."""
    if not isinstance(content, list):
        raise InvalidRequestError(f"{at} must be a string or an array of text parts", field=at)
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind in ("input_text", "output_text") and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "refusal" and isinstance(part.get("refusal"), str):
            texts.append(part["refusal"])
        else:
            raise InvalidRequestError(f"{at}[{index}] must be a text part", field=f"{at}[{index}]")
    return "".join(texts)


def _part(raw: Any, at: str) -> ContentPart:
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind in ("input_text", "output_text") and isinstance(raw.get("text"), str):
        return TextPart(raw["text"])
    if kind == "input_image":
        url = raw.get("image_url")
        if not isinstance(url, str) or not url:
            raise UnsupportedFeatureError(f"{at}: send the image as image_url (a URL or a data URL)", field=at)
        detail = raw.get("detail")
        return ImagePart(url, detail if detail in ("low", "high") else "auto")
    if kind == "input_file":
        data = raw.get("file_data")
        if not isinstance(data, str) or not data:
            raise UnsupportedFeatureError(f"{at}: send the file inline as file_data (a data URL)", field=at)
        header, comma, payload = data.partition(",")
        media_type = header.removeprefix("data:").split(";", 1)[0] if comma else "application/pdf"
        filename = raw.get("filename") if isinstance(raw.get("filename"), str) else None
        return DocumentPart(payload if comma else data, media_type or "application/pdf", filename)
    raise UnsupportedFeatureError(f"{at}.type {kind!r} is not a supported content part", field=f"{at}.type")


def _tool(raw: Any, at: str) -> Tool:
    if not isinstance(raw, Mapping):
        raise InvalidRequestError(f"{at} must be an object", field=at)
    if raw.get("type") != "function":
        raise UnsupportedFeatureError(
            f"{at}: only function tools are supported, not {raw.get('type')!r} (built-in tools run at OpenAI)",
            field=at,
        )
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise InvalidRequestError(f"{at}.name is required", field=f"{at}.name")
    parameters = raw.get("parameters") or {"type": "object", "properties": {}}
    if not isinstance(parameters, Mapping):
        raise InvalidRequestError(f"{at}.parameters must be a JSON schema object", field=f"{at}.parameters")
    strict = raw.get("strict")
    return Tool(
        raw["name"], str(raw.get("description") or ""), parameters, strict if isinstance(strict, bool) else None
    )


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None or raw in ("auto", "none", "required"):
        return raw  # type: ignore[no-any-return]
    if isinstance(raw, Mapping) and raw.get("type") == "function" and isinstance(raw.get("name"), str):
        return NamedToolChoice(raw["name"])
    raise InvalidRequestError(
        "tool_choice must be auto, none, required or {type: function, name: ...}", field="tool_choice"
    )


def _text_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "text":
        return None  # plain text is what every model answers anyway
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind == "json_schema":
        schema, name = raw.get("schema"), raw.get("name")
        if not isinstance(schema, Mapping):
            raise InvalidRequestError("text.format.schema must be a JSON schema object", field="text.format.schema")
        strict = raw.get("strict")
        return ResponseFormat(
            "json_schema",
            name if isinstance(name, str) and name else "response",
            schema,
            strict if isinstance(strict, bool) else None,
        )
    raise InvalidRequestError("text.format.type must be text, json_object or json_schema", field="text.format")


def _metadata(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise InvalidRequestError("metadata must be an object of string values", field="metadata")
    return dict(raw)


def _echo(body: Mapping[str, Any], tools: Sequence[Tool], text: Mapping[str, Any]) -> dict[str, Any]:
    echo: dict[str, Any] = {
        "tools": [function_tool(tool) for tool in tools],
        "tool_choice": body.get("tool_choice") or "auto",
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "text": {"format": text.get("format") or {"type": "text"}},
    }
    for key in ("temperature", "top_p", "max_output_tokens", "reasoning", "user", "safety_identifier"):
        if body.get(key) is not None:
            echo[key] = body[key]
    return echo
