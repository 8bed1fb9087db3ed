"""A library caller's chat request, checked once before any protocol sees it.

Callers may pass what the gateway accepts: OpenAI-shaped dicts for messages, tools, `tool_choice` and
`response_format` (and Anthropic's tool-choice shapes), or the unified values. Anything else is an
InvalidRequestError naming the parameter, so no protocol meets a dict where it expects a value (a TypeError,
AttributeError or AssertionError deep inside) and no value vanishes without a word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from msgspec.structs import replace

from modelyard.errors import InvalidRequestError
from modelyard.protocols.openai import ingress
from modelyard.types import ChatRequest, Message, ResponseFormat, Tool
from modelyard.types.chat import NamedToolChoice, ToolChoice

_CHOICE_WORDS = {"auto": "auto", "none": "none", "required": "required", "any": "required"}  # any: Anthropic's
_NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_INTEGERS = ("max_tokens", "seed")


def checked_chat_request(request: ChatRequest) -> ChatRequest:
    """The request with dicts turned into unified values; a value of the wrong kind raises, naming its parameter."""
    changes: dict[str, Any] = {}
    messages = _sequence(request.messages, "messages")
    if not messages:
        raise InvalidRequestError("messages must not be empty", field="messages")
    if not isinstance(messages, tuple) or not all(isinstance(m, Message) for m in messages):
        changes["messages"] = tuple(ingress.message(m, f"messages[{i}]") for i, m in enumerate(messages))
    tools = _sequence(request.tools, "tools")
    if not isinstance(tools, tuple) or not all(isinstance(t, Tool) for t in tools):
        changes["tools"] = tuple(ingress.tool(t, f"tools[{i}]") for i, t in enumerate(tools))
    if request.tool_choice is not None and not isinstance(request.tool_choice, NamedToolChoice):
        choice = tool_choice(request.tool_choice)
        if choice != request.tool_choice:
            changes["tool_choice"] = choice
    if request.response_format is not None and not isinstance(request.response_format, ResponseFormat):
        changes["response_format"] = response_format(request.response_format)
    if not isinstance(request.stop, tuple):
        changes["stop"] = _stop(request.stop)
    for name in _NUMBERS:
        _check(name, getattr(request, name), (int, float))
    for name in _INTEGERS:
        _check(name, getattr(request, name), (int,))
    _check("reasoning_effort", request.reasoning_effort, (str,))
    _check("user", request.user, (str,))
    if request.parallel_tool_calls is not None and not isinstance(request.parallel_tool_calls, bool):
        raise InvalidRequestError("parallel_tool_calls must be true or false", field="parallel_tool_calls")
    if not isinstance(request.extra, Mapping):
        raise InvalidRequestError("extra must be a mapping of vendor parameters", field="extra")
    return replace(request, **changes) if changes else request


def tool_choice(raw: Any) -> ToolChoice:
    """auto | none | required, a NamedToolChoice, or the OpenAI / Anthropic dict that names either."""
    if isinstance(raw, NamedToolChoice):
        return raw
    if isinstance(raw, str) and raw in _CHOICE_WORDS:
        return _CHOICE_WORDS[raw]  # type: ignore[return-value]
    if isinstance(raw, Mapping):
        kind = raw.get("type")
        function = raw.get("function")
        if kind == "function" and isinstance(function, Mapping) and isinstance(function.get("name"), str):
            return NamedToolChoice(function["name"])
        if kind == "tool" and isinstance(raw.get("name"), str):
            return NamedToolChoice(raw["name"])
        if isinstance(kind, str) and kind in _CHOICE_WORDS and set(raw) <= {"type", "disable_parallel_tool_use"}:
            return _CHOICE_WORDS[kind]  # type: ignore[return-value]
    raise InvalidRequestError(
        "tool_choice must be auto, none, required, or a named function "
        '({"type": "function", "function": {"name": ...}})',
        field="tool_choice",
    )


def response_format(raw: Any) -> ResponseFormat:
    """A ResponseFormat, or OpenAI's dict: {"type": "json_object"}, {"type": "json_schema", "json_schema": {...}}."""
    if isinstance(raw, ResponseFormat):
        return raw
    if isinstance(raw, str) and raw in ("text", "json_object"):
        return ResponseFormat(raw)  # type: ignore[arg-type]
    if not isinstance(raw, Mapping):
        raise InvalidRequestError(
            'response_format must be a ResponseFormat or an object such as {"type": "json_object"}',
            field="response_format",
        )
    parsed = ingress.response_format(raw)
    if parsed is None:  # unreachable for a mapping; keeps the type exact
        raise InvalidRequestError("response_format must not be empty", field="response_format")
    return parsed


def _stop(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, Sequence) and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    raise InvalidRequestError("stop must be a string or a list of strings", field="stop")


def _sequence(raw: Any, name: str) -> Sequence[Any]:
    if isinstance(raw, Sequence) and not isinstance(raw, str | bytes):
        return raw
    raise InvalidRequestError(f"{name} must be a list", field=name)


def _check(name: str, value: Any, kinds: tuple[type, ...]) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
        kind = "a whole number" if kinds == (int,) else "a number" if int in kinds else "a string"
        raise InvalidRequestError(f"{name} must be {kind}, got {value!r}", field=name)
