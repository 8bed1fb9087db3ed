from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from modelyard.types.usage import Usage
from modelyard.types.value import Value

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error"]
# A prompt-cache breakpoint: the prompt up to and including the marked part is cached this long by providers that
# cache on request (Anthropic's cache_control); others cache by themselves or not at all, and ignore it.
CacheTTL = Literal["5m", "1h"]


class TextPart(Value, frozen=True):
    text: str
    cache: CacheTTL | None = None


class ImagePart(Value, frozen=True):
    """An image by URL: `https://…`, or a `data:<media type>;base64,…` URL for inline bytes."""

    url: str
    detail: Literal["auto", "low", "high"] = "auto"
    cache: CacheTTL | None = None

    @property
    def is_inline(self) -> bool:
        return self.url.startswith("data:")

    def inline_data(self) -> tuple[str, str]:
        """(media type, base64 data) of a data URL; protocols that want raw base64 call this."""
        header, _, data = self.url.partition(",")
        media_type = header.removeprefix("data:").split(";", 1)[0] or "application/octet-stream"
        return media_type, data


class AudioPart(Value, frozen=True):
    data: str  # base64
    format: str  # wav, mp3 ...
    cache: CacheTTL | None = None


class DocumentPart(Value, frozen=True):
    data: str  # base64
    media_type: str = "application/pdf"
    name: str | None = None
    cache: CacheTTL | None = None


ContentPart = TextPart | ImagePart | AudioPart | DocumentPart


class ToolCall(Value, frozen=True):
    """A complete tool call; `arguments` is the JSON text the model produced (it may be invalid JSON)."""

    id: str
    name: str
    arguments: str


class Message(Value, frozen=True):
    role: Role
    content: str | tuple[ContentPart, ...] = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None  # on tool messages: the call this answers
    name: str | None = None
    reasoning: str | None = None  # an assistant's reasoning, for protocols that want it sent back
    cache: CacheTTL | None = None  # a cache breakpoint at the end of the message (a part may carry its own)

    @classmethod
    def system(cls, text: str) -> Message:
        return cls("system", text)

    @classmethod
    def user(cls, content: str | Sequence[ContentPart]) -> Message:
        return cls("user", content if isinstance(content, str) else tuple(content))

    @classmethod
    def assistant(cls, text: str = "", tool_calls: Sequence[ToolCall] = (), reasoning: str | None = None) -> Message:
        return cls("assistant", text, tool_calls=tuple(tool_calls), reasoning=reasoning)

    @classmethod
    def tool(cls, tool_call_id: str, content: str) -> Message:
        return cls("tool", content, tool_call_id=tool_call_id)

    @property
    def text(self) -> str:
        """The message's text parts joined; non-text parts are skipped."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))


class Tool(Value, frozen=True):
    """A function the model may call; `parameters` is a JSON schema object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = msgspec.field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None
    cache: CacheTTL | None = None  # a breakpoint after this tool: the tools up to it are cached


class NamedToolChoice(Value, frozen=True):
    name: str


ToolChoice = Literal["auto", "none", "required"] | NamedToolChoice


class ResponseFormat(Value, frozen=True):
    type: Literal["text", "json_object", "json_schema"]
    name: str = "response"
    schema: Mapping[str, Any] | None = None
    strict: bool | None = None


class ChatRequest(Value, frozen=True):
    messages: tuple[Message, ...]
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    reasoning_effort: str | None = None
    user: str | None = None
    extra: Mapping[str, Any] = msgspec.field(default_factory=dict)  # vendor parameters, sent as they are

    @classmethod
    def user_text(cls, text: str) -> ChatRequest:
        return cls(messages=(Message.user(text),))


# The ChatRequest fields that are parameters (not the conversation): what a protocol may or may not carry.
CHAT_PARAMETERS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "reasoning_effort",
        "response_format",
        "tool_choice",
        "parallel_tool_calls",
        "user",
        "top_k",  # travels in `extra`: the one vendor parameter whose support differs by wire (Anthropic 2026-10-21)
    }
)


class ToolCallDelta(Value, frozen=True):
    """A piece of a streamed tool call; pieces with the same `index` belong to one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class ChatChunk(Value, frozen=True):
    """One streamed increment. The last chunk of a stream carries `finish_reason` and `usage`."""

    content: str = ""
    reasoning: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = ()
    finish_reason: FinishReason | None = None
    usage: Usage | None = None


class ParameterAdjustment(Value, frozen=True):
    """A parameter that did not go upstream as the caller gave it: `dropped`, or `clamped` into the model's range.

    `requested` is the caller's value, `sent` what went upstream (None when dropped), `reason` why, in words.
    """

    name: str
    action: Literal["dropped", "clamped"]
    requested: Any
    sent: Any = None
    reason: str = ""


class ChatResult(Value, frozen=True):
    model: str
    content: str
    finish_reason: FinishReason | None
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    id: str | None = None
    adjusted_params: tuple[ParameterAdjustment, ...] = ()  # what the model's parameter rules changed

    @property
    def dropped_params(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.adjusted_params if a.action == "dropped")

    def message(self) -> Message:
        """The answer as an assistant message, ready to append to the conversation."""
        return Message.assistant(self.content, self.tool_calls, self.reasoning)
