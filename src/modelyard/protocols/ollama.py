"""Ollama's native API: `/api/chat` (NDJSON streaming), `/api/generate` for models in completion mode, `/api/embed`,
`/api/tags`.

Wire facts checked against the `ollama` 0.6.3 SDK's types and client (2026-11): options such as temperature and
num_predict go under `options`, images are bare base64 strings per message, tool-call arguments are JSON
objects and calls carry no id, a tool result names its tool in `tool_name`, reasoning is `message.thinking`,
and a stream line `{"error": ...}` after HTTP 200 is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson
from msgspec.structs import replace

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import (
    JSON_HEADERS,
    ChatStreamParser,
    Framing,
    RemoteModel,
    Target,
    UpstreamRequest,
    WireProtocol,
)
from modelyard.protocols.completion_prompt import completion_prompt, is_completion_mode
from modelyard.protocols.openai.responses import arguments_text, reading
from modelyard.protocols.plain import body_error, error_from_data
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from modelyard.types.chat import CHAT_PARAMETERS, FinishReason, ResponseFormat
from modelyard.types.usage import UNREPORTED

# Extra request keys that are model options (the SDK's `Options`): they go under `options`, the rest top level.
_OPTIONS = frozenset(
    {
        "num_ctx",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "num_keep",
        "num_predict",
        "top_k",
        "min_p",
        "typical_p",
        "repeat_last_n",
        "repeat_penalty",
        "mirostat",
        "mirostat_tau",
        "mirostat_eta",
        "penalize_newline",
        "tfs_z",
    }
)
_THINK_LEVELS = frozenset({"low", "medium", "high"})


class Ollama(WireProtocol):
    name = "ollama"
    chat_parameters = CHAT_PARAMETERS - {"parallel_tool_calls", "user"}  # /api/chat has no field for these
    stream_framing: ClassVar[Framing] = "ndjson"

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return self.chat_parameters - {"tool_choice"} if is_completion_mode(target) else self.chat_parameters

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        path = "/api/chat"
        if is_completion_mode(target):  # /api/generate: the conversation as one prompt (protocols/completion_prompt.py)
            path = "/api/generate"
            prompt = completion_prompt(request, model=target.model.id)
            body: dict[str, Any] = {"model": target.upstream_model, "prompt": prompt.text}
            request = replace(request, stop=prompt.stop)
        else:
            body = {"model": target.upstream_model, "messages": _messages(request.messages)}
        if request.tools and request.tool_choice != "none":  # no tool_choice upstream: "none" means no tools
            body["tools"] = [_tool(t) for t in request.tools]
        response_format = _format(request.response_format)
        if response_format is not None:
            body["format"] = response_format
        options = _options(request)
        think = _think(request.reasoning_effort)
        if think is not None:
            body["think"] = think
        body["stream"] = stream  # Ollama streams unless told not to
        for key, value in request.extra.items():
            if key in _OPTIONS:
                options[key] = value
            elif key == "options" and isinstance(value, Mapping):
                options.update(value)
            else:
                body[key] = value
        if options:
            body["options"] = options
        return UpstreamRequest("POST", f"{target.base_url}{path}", JSON_HEADERS, orjson.dumps(body))

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        with reading(target, "chat"):
            data = _object(target, body)
            message = _message_of(data)
            calls = tuple(
                ToolCall(call.get("id") or f"call_{i}", call["function"]["name"], _arguments(call["function"]))
                for i, call in enumerate(message.get("tool_calls") or ())
            )
            return ChatResult(
                model=data.get("model") or target.model.id,
                content=message.get("content") or "",
                reasoning=message.get("thinking") or None,
                tool_calls=calls,
                finish_reason=_finish(data, has_calls=bool(calls)),
                usage=_usage(data) or UNREPORTED,
            )

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return OllamaChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        # No query/document distinction upstream: models that want prefixes (nomic-embed) take them in the text.
        body: dict[str, Any] = {"model": target.upstream_model, "input": list(request.texts)}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions  # Ollama truncates to it; the model decides whether it may
        return UpstreamRequest("POST", f"{target.base_url}/api/embed", JSON_HEADERS, orjson.dumps(body))

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        with reading(target, "embeddings"):
            data = _object(target, body)
            count = data.get("prompt_eval_count")
            return EmbeddingResult(
                model=data.get("model") or target.model.id,
                vectors=tuple([float(x) for x in vector] for vector in data["embeddings"]),
                usage=Usage(prompt_tokens=count) if count else UNREPORTED,
            )

    def build_list_models(self, target: Target) -> UpstreamRequest:
        return UpstreamRequest("GET", f"{target.base_url}/api/tags", {})

    def parse_list_models(self, target: Target, body: bytes) -> list[RemoteModel]:
        with reading(target, "model list"):
            data = _object(target, body)
            return [RemoteModel(id=str(m.get("model") or m["name"])) for m in data["models"]]

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return body_error(target, status, headers, body)


class OllamaChatStream(ChatStreamParser):
    """NDJSON chat lines to chunks: text, thinking, whole tool calls; the `done` line ends with usage."""

    __slots__ = ("_calls", "_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self._calls = 0  # calls arrive whole, each in its own line: number them across the stream
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data:
            return None
        with reading(self._target, "chat stream"):
            data = _object(self._target, event.data, in_stream=True)
            message = _message_of(data)
            deltas = []
            for call in message.get("tool_calls") or ():
                function = call["function"]
                deltas.append(
                    ToolCallDelta(
                        index=self._calls,
                        id=call.get("id") or f"call_{self._calls}",
                        name=function["name"],
                        arguments=_arguments(function),
                    )
                )
                self._calls += 1
            chunk = ChatChunk(
                content=message.get("content") or "",
                reasoning=message.get("thinking") or "",
                tool_calls=tuple(deltas),
            )
            if not data.get("done"):
                return chunk
            self.finished = True
            return ChatChunk(
                content=chunk.content,
                reasoning=chunk.reasoning,
                tool_calls=chunk.tool_calls,
                finish_reason=_finish(data, has_calls=self._calls > 0),
                usage=_usage(data),
            )


# --- requests ---------------------------------------------------------------------------------------------------


def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    names: dict[str, str] = {}  # tool results name their tool, not a call id: remember which id was which tool
    wire = []
    for index, message in enumerate(messages):
        for call in message.tool_calls:
            names[call.id] = call.name
        wire.append(_message(message, names, f"messages[{index}]"))
    return wire


def _message(message: Message, tool_names: Mapping[str, str], where: str) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role}
    texts: list[str] = []
    images: list[str] = []
    parts = (TextPart(message.content),) if isinstance(message.content, str) else message.content
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ImagePart):
            if not part.is_inline:
                raise UnsupportedFeatureError(
                    "Ollama takes images as data, not URLs: send a data: URL", field=f"{where}.content"
                )
            images.append(part.inline_data()[1])
        else:
            raise UnsupportedFeatureError("Ollama takes text and images only", field=f"{where}.content")
    # Empty values are left out, as the official SDK does.
    if "".join(texts):
        wire["content"] = "".join(texts)
    if images:
        wire["images"] = images
    if message.role == "assistant" and message.reasoning:
        wire["thinking"] = message.reasoning
    if message.tool_calls:
        wire["tool_calls"] = [
            {"function": {"name": c.name, "arguments": _arguments_object(c, where)}} for c in message.tool_calls
        ]
    if message.role == "tool":
        name = tool_names.get(message.tool_call_id or "") or message.name
        if name:
            wire["tool_name"] = name
    return wire


def _arguments_object(call: ToolCall, where: str) -> Any:
    try:
        arguments = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        raise InvalidRequestError(
            f"Ollama takes tool-call arguments as a JSON object; call {call.id!r} has {call.arguments!r}",
            field=f"{where}.tool_calls",
        )
    return arguments


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _format(response_format: ResponseFormat | None) -> Any:
    if response_format is None or response_format.type == "text":
        return None
    if response_format.type == "json_object" or response_format.schema is None:
        return "json"
    return dict(response_format.schema)


def _options(request: ChatRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.temperature is not None:
        options["temperature"] = request.temperature
    if request.top_p is not None:
        options["top_p"] = request.top_p
    if request.max_tokens is not None:
        options["num_predict"] = request.max_tokens
    if request.stop:
        options["stop"] = list(request.stop)
    if request.seed is not None:
        options["seed"] = request.seed
    if request.presence_penalty is not None:
        options["presence_penalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        options["frequency_penalty"] = request.frequency_penalty
    return options


def _think(effort: str | None) -> bool | str | None:
    """`think`: a level for models with levels (gpt-oss), off for "none"/"minimal", else the model's default."""
    if effort is None:
        return None
    if effort in _THINK_LEVELS:
        return effort
    return effort not in ("none", "minimal")


# --- responses --------------------------------------------------------------------------------------------------


def _object(target: Target, body: bytes, *, in_stream: bool = False) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("error"):  # after HTTP 200: a stream line, or a load failure the server reports in-band
        raise error_from_data(target, 200, {}, data, in_stream=in_stream)
    return data


def _message_of(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The answer's message: /api/chat's `message`, or /api/generate's `response` and `thinking` (completion mode)."""
    if "message" in data or "response" not in data:
        return data.get("message") or {}
    return {"content": data.get("response"), "thinking": data.get("thinking")}


def _arguments(function: Mapping[str, Any]) -> str:
    return arguments_text(function.get("arguments") or {})


def _finish(data: Mapping[str, Any], *, has_calls: bool) -> FinishReason | None:
    if not data.get("done", True):
        return None
    if data.get("done_reason") == "length":
        return "length"
    return "tool_calls" if has_calls else "stop"  # "stop", or "load"/"unload" for empty requests


def _usage(data: Mapping[str, Any]) -> Usage | None:
    prompt, completion = data.get("prompt_eval_count"), data.get("eval_count")
    if prompt is None and completion is None:
        return None
    return Usage(prompt_tokens=prompt or 0, completion_tokens=completion or 0)
