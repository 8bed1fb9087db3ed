"""Unified requests to DashScope's native API (`/api/v1/services/...`), shapes as the `dashscope` SDK 2.0.2 sends them.

Every native body is `{"model", "input": {...}, "parameters": {...}}`; streaming is asked for with the
`X-DashScope-SSE: enable` header, never in the body.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.types import (
    AudioPart,
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    TextPart,
    Tool,
    TranscriptionRequest,
)
from modelyard.types.chat import NamedToolChoice, ResponseFormat

TEXT_GENERATION = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION = "/api/v1/services/aigc/multimodal-generation/generation"
TEXT_EMBEDDING = "/api/v1/services/embeddings/text-embedding/text-embedding"
MULTIMODAL_EMBEDDING = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
TEXT_RERANK = "/api/v1/services/rerank/text-rerank/text-rerank"
COMPATIBLE_MODE = "/compatible-mode/v1"

STREAM_HEADERS: Mapping[str, str] = {
    **JSON_HEADERS,
    "Accept": "text/event-stream",
    "X-DashScope-SSE": "enable",
}
# Pasted base URLs often carry one of these; requests are built from the host root.
_API_PREFIXES = ("/api/v1", COMPATIBLE_MODE)
# The SDK leaves incremental_output alone for these (ParamUtil.should_modify_incremental_output, SDK 2.0.2).
_NOT_INCREMENTAL = ("tts", "omni", "qwen-deep-research")


def root(target: Target) -> str:
    """The service root (scheme and host) of the configured endpoint."""
    base = target.base_url
    for prefix in _API_PREFIXES:
        if base.endswith(prefix):
            return base[: -len(prefix)]
    return base


def is_compatible_mode(target: Target) -> bool:
    return target.credentials.get("api_mode") == "compatible"


def asks_incremental(target: Target) -> bool:
    """Whether a stream request for this model says `incremental_output: true`."""
    model = target.upstream_model.lower()
    return not any(name in model for name in _NOT_INCREMENTAL)


def is_multimodal(target: Target, request: ChatRequest) -> bool:
    """Vision models live at multimodal-generation; the gateway answers the other path with 400 "url error"."""
    if target.model.supports("vision"):
        return True
    return any(not isinstance(m.content, str) and _has_media(m) for m in request.messages)


def _has_media(message: Message) -> bool:
    return any(not isinstance(part, TextPart) for part in message.content)


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    multimodal = is_multimodal(target, request)
    parameters: dict[str, Any] = {"result_format": "message"}
    if stream and asks_incremental(target):
        # Without it every event repeats the whole text so far; the SDK asks for it on every stream too.
        parameters["incremental_output"] = True
    parameters.update(_sampling(request))
    if request.tools:
        parameters["tools"] = [_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        choice = request.tool_choice
        parameters["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}} if isinstance(choice, NamedToolChoice) else choice
        )
    if request.parallel_tool_calls is not None:
        parameters["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        parameters["response_format"] = _response_format(request.response_format)
    if request.reasoning_effort is not None:
        # Qwen3 hybrid models think or not (enable_thinking); a budget goes in `thinking_budget` via extra.
        parameters["enable_thinking"] = request.reasoning_effort != "none"
    if request.extra:
        parameters.update(request.extra)  # vendor parameters: top_k, enable_search, repetition_penalty ...
    body = {
        "model": target.upstream_model,
        "input": {"messages": [_message(m, multimodal=multimodal) for m in request.messages]},
        "parameters": parameters,
    }
    path = MULTIMODAL_GENERATION if multimodal else TEXT_GENERATION
    headers = STREAM_HEADERS if stream else JSON_HEADERS
    return UpstreamRequest("POST", f"{root(target)}{path}", headers, orjson.dumps(body))


def _sampling(request: ChatRequest) -> dict[str, Any]:
    # No frequency_penalty natively (the SDK has none either); `user` has no counterpart.
    values = {
        "temperature": request.temperature,
        "top_p": request.top_p,
        "max_tokens": request.max_tokens,
        "seed": request.seed,
        "presence_penalty": request.presence_penalty,
        "stop": list(request.stop) if request.stop else None,
    }
    return {key: value for key, value in values.items() if value is not None}


def _message(message: Message, *, multimodal: bool) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role}
    if message.role == "tool":
        wire["content"] = message.text
        wire["tool_call_id"] = message.tool_call_id or ""
        return wire
    if multimodal and not (message.role == "assistant" and message.tool_calls):
        # multimodal-generation content is a list of single-key items: {"text": ...}, {"image": ...}
        parts = (TextPart(message.content),) if isinstance(message.content, str) else message.content
        wire["content"] = [_part(p) for p in parts]
    else:
        if not isinstance(message.content, str) and _has_media(message):
            raise UnsupportedFeatureError("this DashScope model takes text only", field="messages")
        wire["content"] = message.text
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return wire


def _part(part: object) -> dict[str, str]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    if isinstance(part, ImagePart):
        return {"image": part.url}  # an https URL or a data: URL; both are accepted natively
    if isinstance(part, AudioPart):  # omni and audio models: a data URL, as the SDK passes one through
        return {"audio": f"data:{_audio_type(part.format)};base64,{part.data}"}
    raise UnsupportedFeatureError("DashScope chat takes text, image and audio parts", field="messages")


def _audio_type(name: str) -> str:
    """The media type of an audio format or file name (mp3 -> audio/mpeg)."""
    guessed = mimetypes.guess_type(name if "." in name else f"audio.{name}")[0]
    return guessed or f"audio/{name.rsplit('.', 1)[-1]}"


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _response_format(response_format: ResponseFormat) -> dict[str, Any]:
    if response_format.type != "json_schema":
        return {"type": response_format.type}
    schema: dict[str, Any] = {"name": response_format.name, "schema": dict(response_format.schema or {})}
    if response_format.strict is not None:
        schema["strict"] = response_format.strict
    return {"type": "json_schema", "json_schema": schema}


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    parameters: dict[str, Any] = {}
    if request.dimensions is not None:
        if not target.model.properties.supports_dimensions:
            raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter")
        parameters["dimension"] = request.dimensions
    if target.model.supports("vision"):
        # Multimodal embedders (qwen3-vl-embedding, tongyi-embedding-vision-*) have their own endpoint: each text is
        # one `contents` item with a vector of its own (SDK 2.0.2, MultimodalEmbeddings); they take no text_type.
        contents = [{"text": text} for text in request.texts]
        body = {"model": target.upstream_model, "input": {"contents": contents}, "parameters": parameters}
        return UpstreamRequest("POST", f"{root(target)}{MULTIMODAL_EMBEDDING}", JSON_HEADERS, orjson.dumps(body))
    if request.input_type is not None:
        parameters["text_type"] = request.input_type  # query | document, the same words as ours
    body = {"model": target.upstream_model, "input": {"texts": list(request.texts)}, "parameters": parameters}
    return UpstreamRequest("POST", f"{root(target)}{TEXT_EMBEDDING}", JSON_HEADERS, orjson.dumps(body))


def build_transcription(target: Target, request: TranscriptionRequest) -> UpstreamRequest:
    """Qwen-ASR and Fun-ASR-Flash recognise a short recording in one multimodal-generation call: the audio as a
    data URL in the user turn, the prompt (context words) as the system turn, the language in asr_options (Qwen-ASR
    API reference, DashScope synchronous call, read 2026-12; the SDK's MultiModalConversation sends the same)."""
    audio = base64.b64encode(request.audio).decode()
    messages = [
        {"role": "system", "content": [{"text": request.prompt or ""}]},
        {"role": "user", "content": [{"audio": f"data:{_audio_type(request.filename)};base64,{audio}"}]},
    ]
    parameters: dict[str, Any] = {"result_format": "message"}
    if request.language:
        parameters["asr_options"] = {"language": request.language}
    body = {"model": target.upstream_model, "input": {"messages": messages}, "parameters": parameters}
    return UpstreamRequest("POST", f"{root(target)}{MULTIMODAL_GENERATION}", JSON_HEADERS, orjson.dumps(body))


def build_rerank(target: Target, request: RerankRequest) -> UpstreamRequest:
    # Documents come back by index; the runtime maps them to the texts, so none are sent back.
    parameters: dict[str, Any] = {"return_documents": False}
    if request.top_n is not None:
        parameters["top_n"] = request.top_n
    body = {
        "model": target.upstream_model,
        "input": {"query": request.query, "documents": list(request.documents)},
        "parameters": parameters,
    }
    return UpstreamRequest("POST", f"{root(target)}{TEXT_RERANK}", JSON_HEADERS, orjson.dumps(body))
