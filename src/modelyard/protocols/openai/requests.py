"""Unified requests to OpenAI's wire format (chat completions, embeddings, audio, moderation, R1 rerank)."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from pydantic import field_validator

from modelyard.catalog.spec import Spec
from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import JSON_HEADERS, FilePart, Multipart, Target, UpstreamRequest
from modelyard.types import (
    AudioPart,
    ChatRequest,
    DocumentPart,
    EmbeddingRequest,
    ImagePart,
    Message,
    ModerationRequest,
    RerankRequest,
    SpeechRequest,
    TextPart,
    Tool,
    TranscriptionRequest,
)
from modelyard.types.chat import CHAT_PARAMETERS, NamedToolChoice, ResponseFormat, ToolChoice

ThinkingDialect = Literal["chat_template_kwargs", "thinking", "enable_thinking"]
# The api-version value that selects Azure OpenAI's v1 API ({resource}/openai/v1/..., no dated version; GA 2025-08).
AZURE_V1 = "v1"


class OpenAIQuirks(Spec):
    """How an OpenAI-compatible server differs from OpenAI; every key a provider file may set."""

    # azure-inference: Azure AI model inference (`{endpoint}/chat/completions?api-version=...`, model in the
    # body; body keys outside its schema need the `extra-parameters: pass-through` header, providers-a §1.3).
    url_style: Literal["openai", "azure-deployment", "azure-inference"] = "openai"
    api_version_credential: str | None = None  # azure: the credential that holds `api-version`
    default_api_version: str = "2024-10-21"
    # `auto`: max_completion_tokens for the upstream models OpenAI requires it of (o-series, GPT-5 and later), else
    # max_tokens (Dify's rule for OpenAI-compatible gateways, read 2026-12).
    max_tokens_field: Literal["max_tokens", "max_completion_tokens", "auto"] = "max_tokens"
    supports_stream_options: bool = True  # some servers reject `stream_options`
    # Self-hosted servers read a thinking switch in their own dialect: vLLM, SGLang and Xinference in
    # chat_template_kwargs (enable_thinking, thinking), Zhipu-style servers `thinking: {type}`, Qwen-style ones
    # `enable_thinking`. The caller's `enable_thinking` (or `thinking_default`, for a model that only thinks or never
    # does) goes out in the dialects listed here, and reasoning_effort also in chat_template_kwargs (llama.cpp).
    thinking_parameters: tuple[ThinkingDialect, ...] = ()
    thinking_default: bool | None = None
    # Audio parts as OpenAI's input_audio, or as a data URL in an image_url part (what LiteLLM hands to Gemini).
    audio_transfer: Literal["input_audio", "image_url"] = "input_audio"
    # Chat parameters the server's schema lacks and refuses (Mistral: `user` is a 422 extra_forbidden); the runtime
    # drops them before the request is built and reports it, as for any parameter a wire cannot carry.
    unsupported_parameters: tuple[str, ...] = ()
    seed_field: str = "seed"  # Mistral calls it random_seed
    embedding_encoding: Literal["float", "base64"] | None = "float"  # None: not sent (servers without the field)
    embedding_dimensions_field: str = "dimensions"  # Mistral: output_dimension
    # Retrieval embedders that embed queries and passages apart (NVIDIA): our query/document to their words.
    embedding_input_types: dict[str, str] | None = None
    # Embedders trained with instructions in the text (e5 "query: ", nomic "search_document: "): put before each text.
    embedding_query_prefix: str = ""
    embedding_document_prefix: str = ""
    rerank_path: str = "/rerank"
    rerank_url: str | None = None  # the whole rerank URL, for servers that serve it away from the API root
    # A speech-to-text model's language (ISO-639-1) and prompt when the request gives none.
    transcription_language: str | None = None
    transcription_prompt: str | None = None
    # Whether an assistant's reasoning goes back as `reasoning_content`: DeepSeek's first reasoner refused it
    # (400), its later thinking modes require it on turns that made tool calls. `tool-call-turns`: on every
    # assistant message between two user messages where a tool was called, the field present even when empty
    # (DeepSeek thinking mode answers 400 "Missing reasoning_content field" otherwise, api-docs 2026-11).
    # `always-and-tool-calls`: every reasoning goes back, and an assistant message with tool calls carries the field
    # even when empty (Kimi thinking models answer 400 "thinking is enabled but reasoning_content is missing in
    # assistant tool call message" otherwise).
    reasoning_replay: Literal["never", "with-tool-calls", "tool-call-turns", "always", "always-and-tool-calls"] = (
        "never"
    )
    context_length_codes: tuple[str, ...] = ("context_length_exceeded", "string_above_max_length")

    @field_validator("unsupported_parameters")
    @classmethod
    def _parameters_are_known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - CHAT_PARAMETERS)
        if unknown:
            raise ValueError(f"not chat parameters: {', '.join(unknown)} (known: {', '.join(sorted(CHAT_PARAMETERS))})")
        return value


def carried_parameters(target: Target) -> frozenset[str]:
    """The chat parameters an OpenAI-compatible server takes: all but the ones its quirks say it refuses."""
    refused = quirks_of(target).unsupported_parameters
    return CHAT_PARAMETERS - frozenset(refused) if refused else CHAT_PARAMETERS


def quirks_of(target: Target) -> OpenAIQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, OpenAIQuirks) else OpenAIQuirks()


def endpoint(target: Target, path: str) -> str:
    """The URL of an endpoint; Azure puts the deployment in the path and wants `api-version`."""
    quirks = quirks_of(target)
    if quirks.url_style == "openai":
        return f"{target.base_url}{path}"
    version = target.credentials.get(quirks.api_version_credential or "", "") or quirks.default_api_version
    if quirks.url_style == "azure-inference":
        return f"{target.base_url}{path}?api-version={version}"
    if version == AZURE_V1:  # Azure's version-less v1 API: the deployment goes in the body's `model`
        return f"{target.base_url}/v1{path}"
    return f"{target.base_url}/deployments/{target.upstream_model}{path}?api-version={version}"


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    quirks = quirks_of(target)
    replayed = _reasoning_replayed(request.messages, quirks)
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "messages": [_message(m, i in replayed, quirks) for i, m in enumerate(request.messages)],
    }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.max_tokens is not None:
        body[max_tokens_field(quirks, target.upstream_model)] = request.max_tokens
    if request.stop:
        body["stop"] = list(request.stop)
    if request.seed is not None:
        body[quirks.seed_field] = request.seed
    if request.presence_penalty is not None:
        body["presence_penalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        body["frequency_penalty"] = request.frequency_penalty
    if request.reasoning_effort is not None:
        body["reasoning_effort"] = request.reasoning_effort
    if request.user is not None:
        body["user"] = request.user
    if request.tools:
        body["tools"] = [_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        body["tool_choice"] = _tool_choice(request.tool_choice)
    if request.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = request.parallel_tool_calls
    if request.response_format is not None:
        body["response_format"] = _response_format(request.response_format)
    if stream:
        body["stream"] = True
        if quirks.supports_stream_options:
            body["stream_options"] = {"include_usage": True}
    extra = _thinking_switch(quirks, request, body) if quirks.thinking_parameters else request.extra
    if extra:
        body.update(extra)
    headers = JSON_HEADERS
    if quirks.url_style == "azure-inference" and body.keys() - _AZURE_INFERENCE_CHAT_KEYS:
        headers = {**JSON_HEADERS, "extra-parameters": "pass-through"}  # else the service refuses them (400)
    return UpstreamRequest("POST", endpoint(target, "/chat/completions"), headers, orjson.dumps(body))


# OpenAI's models that take max_completion_tokens and refuse max_tokens: the o-series and GPT-5 onwards.
_COMPLETION_TOKENS_MODELS = re.compile(r"^(o\d|gpt-([5-9]|\d{2,}))", re.IGNORECASE)


def max_tokens_field(quirks: OpenAIQuirks, upstream_model: str) -> str:
    if quirks.max_tokens_field != "auto":
        return quirks.max_tokens_field
    return "max_completion_tokens" if _COMPLETION_TOKENS_MODELS.match(upstream_model) else "max_tokens"


def _thinking_switch(quirks: OpenAIQuirks, request: ChatRequest, body: dict[str, Any]) -> dict[str, Any]:
    """Writes the thinking switch in every dialect; returns the rest of `extra` (enable_thinking taken out)."""
    extra = dict(request.extra)
    asked = extra.pop("enable_thinking", None)
    on = quirks.thinking_default if quirks.thinking_default is not None else asked
    if on is None:
        return extra
    on = bool(on)
    dialects = quirks.thinking_parameters
    if "chat_template_kwargs" in dialects:
        template = dict(extra.pop("chat_template_kwargs", None) or {})
        template.setdefault("enable_thinking", on)
        template.setdefault("thinking", on)
        if on and request.reasoning_effort is not None:
            template.setdefault("reasoning_effort", request.reasoning_effort)
        body["chat_template_kwargs"] = template
    if "thinking" in dialects:
        body["thinking"] = {"type": "enabled" if on else "disabled"}
    if "enable_thinking" in dialects:
        body["enable_thinking"] = on
    return extra


# The chat request body of Azure AI model inference (azure-ai-inference 1.0.0b9, ChatCompletionsClient.complete).
_AZURE_INFERENCE_CHAT_KEYS = frozenset(
    {"messages", "stream", "frequency_penalty", "max_tokens", "model", "presence_penalty", "response_format"}
    | {"seed", "stop", "temperature", "tool_choice", "tools", "top_p"}
)


def _reasoning_replayed(messages: Sequence[Message], quirks: OpenAIQuirks) -> frozenset[int]:
    """The indexes of the assistant messages whose reasoning goes back upstream."""
    rule = quirks.reasoning_replay
    if rule == "always-and-tool-calls":
        return frozenset(i for i, m in enumerate(messages) if m.role == "assistant" and (m.reasoning or m.tool_calls))
    if rule != "tool-call-turns":
        return frozenset(
            i
            for i, m in enumerate(messages)
            if m.reasoning and (rule == "always" or (rule == "with-tool-calls" and m.tool_calls))
        )
    replayed: set[int] = set()
    turn: list[int] = []  # the assistant messages since the last user message
    called = False
    for i, m in enumerate((*messages, Message("user"))):  # a sentinel user message closes the last turn
        if m.role == "user":
            replayed.update(turn if called else ())
            turn, called = [], False
        elif m.role == "assistant":
            turn.append(i)
            called = called or bool(m.tool_calls)
    return frozenset(replayed)


def _message(message: Message, replay_reasoning: bool = False, quirks: OpenAIQuirks | None = None) -> dict[str, Any]:
    wire: dict[str, Any] = {"role": message.role}
    if isinstance(message.content, str):
        wire["content"] = message.content
    else:
        audio_transfer = quirks.audio_transfer if quirks is not None else "input_audio"
        wire["content"] = [_part(p, audio_transfer) for p in message.content]
    if message.tool_calls:
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
        if not message.content:
            wire["content"] = None
    if message.tool_call_id is not None:
        wire["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        wire["name"] = message.name
    if replay_reasoning:
        wire["reasoning_content"] = message.reasoning or ""
    return wire


def _part(part: TextPart | ImagePart | AudioPart | DocumentPart, audio_transfer: str = "input_audio") -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        # `detail` only when the caller chose one: "auto" is OpenAI's default, and servers that document other
        # values (StepFun: low|high, default low) or none (MiniMax-Text-01: url only) get no word they do not know.
        image: dict[str, str] = {"url": part.url}
        if part.detail != "auto":
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, AudioPart):
        if audio_transfer == "image_url":
            media_type = mimetypes.guess_type(f"audio.{part.format}")[0] or f"audio/{part.format}"
            return {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{part.data}"}}
        return {"type": "input_audio", "input_audio": {"data": part.data, "format": part.format}}
    file: dict[str, str] = {"file_data": f"data:{part.media_type};base64,{part.data}"}
    if part.name:
        file["filename"] = part.name
    return {"type": "file", "file": file}


def _tool(tool: Tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": dict(tool.parameters)}
    if tool.description:
        function["description"] = tool.description
    if tool.strict is not None:
        function["strict"] = tool.strict
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> Any:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return choice


def _response_format(response_format: ResponseFormat) -> dict[str, Any]:
    if response_format.type != "json_schema":
        return {"type": response_format.type}
    schema: dict[str, Any] = {"name": response_format.name, "schema": dict(response_format.schema or {})}
    if response_format.strict is not None:
        schema["strict"] = response_format.strict
    return {"type": "json_schema", "json_schema": schema}


def build_embeddings(target: Target, request: EmbeddingRequest) -> UpstreamRequest:
    quirks = quirks_of(target)
    kind = request.input_type or "document"
    prefix = quirks.embedding_query_prefix if kind == "query" else quirks.embedding_document_prefix
    body: dict[str, Any] = {"model": target.upstream_model, "input": [prefix + text for text in request.texts]}
    if quirks.embedding_encoding is not None:
        body["encoding_format"] = quirks.embedding_encoding
    if request.dimensions is not None:
        if not target.model.properties.supports_dimensions:
            raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter")
        body[quirks.embedding_dimensions_field] = request.dimensions
    if quirks.embedding_input_types is not None:
        body["input_type"] = quirks.embedding_input_types[kind]
    return UpstreamRequest("POST", endpoint(target, "/embeddings"), JSON_HEADERS, orjson.dumps(body))


def build_rerank(target: Target, request: RerankRequest) -> UpstreamRequest:
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "query": request.query,
        "documents": list(request.documents),
        "return_documents": False,
    }
    if request.top_n is not None:
        body["top_n"] = request.top_n
    quirks = quirks_of(target)
    # Rerank deployments on Azure AI speak Cohere's API at their own URL, without api-version.
    url = f"{target.base_url}{quirks.rerank_path}" if quirks.url_style == "azure-inference" else quirks.rerank_url
    return UpstreamRequest("POST", url or endpoint(target, quirks.rerank_path), JSON_HEADERS, orjson.dumps(body))


def build_transcription(target: Target, request: TranscriptionRequest) -> UpstreamRequest:
    quirks = quirks_of(target)
    fields = {"model": target.upstream_model, "response_format": "json"}
    language = request.language or quirks.transcription_language
    if language:
        fields["language"] = language
    prompt = request.prompt or quirks.transcription_prompt
    if prompt:
        fields["prompt"] = prompt
    if request.temperature is not None:
        fields["temperature"] = str(request.temperature)
    content_type = mimetypes.guess_type(request.filename)[0] or "application/octet-stream"
    audio = FilePart(request.filename, request.audio, content_type)
    return UpstreamRequest("POST", endpoint(target, "/audio/transcriptions"), {}, Multipart(fields, {"file": audio}))


def build_speech(target: Target, request: SpeechRequest) -> UpstreamRequest:
    body: dict[str, Any] = {
        "model": target.upstream_model,
        "input": request.text,
        "voice": request.voice or target.model.properties.default_voice or "alloy",
        "response_format": request.format,
    }
    if request.speed is not None:
        body["speed"] = request.speed
    if request.instructions:
        body["instructions"] = request.instructions
    return UpstreamRequest("POST", endpoint(target, "/audio/speech"), JSON_HEADERS, orjson.dumps(body))


def build_moderation(target: Target, request: ModerationRequest) -> UpstreamRequest:
    body = {"model": target.upstream_model, "input": list(request.inputs)}
    return UpstreamRequest("POST", endpoint(target, "/moderations"), JSON_HEADERS, orjson.dumps(body))


def build_list_models(target: Target) -> UpstreamRequest:
    return UpstreamRequest("GET", f"{target.base_url}/models", {})
