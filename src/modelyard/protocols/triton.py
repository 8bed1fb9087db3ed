"""NVIDIA Triton Inference Server's generate extension: `/v2/models/{model}[/versions/{v}]/generate[_stream]`.

From Triton's `docs/protocol/extension_generate.md` (2026-11): the request is `{"text_input", "parameters"}`, the
answer `{"model_name", "model_version", "text_output"}`; `/generate_stream` sends one SSE `data:` JSON per
response and ends at EOF with no terminator; an error is `{"error": "..."}`, and can arrive inside a 200 stream.
There is no Python SDK for this route worth a dependency, so this module is held to the documented shapes.

Parameters are model-specific. The document puts them in `parameters` (the vLLM and Python backends read them
there); TensorRT-LLM ensembles declare `max_tokens`, `temperature` ... as input tensors, which the extension
fills from top-level keys ("any additional properties are passed as parameters or tensors"), so the model
credential `parameter_style` chooses. Triton reports no token usage and no stop reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from modelyard.errors import UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import JSON_HEADERS, ChatStreamParser, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.plain import body_error, error_from_data, prompt_text
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ChatRequest, ChatResult
from modelyard.types.chat import CHAT_PARAMETERS, FinishReason
from modelyard.types.usage import UNREPORTED

VERSION = "model_version"  # model credentials
PARAMETER_STYLE = "parameter_style"  # "parameters" (default) | "top_level"
STREAM_OUTPUT = "stream_output"  # "incremental" (default) | "cumulative"


class Triton(WireProtocol):
    name = "triton"
    chat_parameters = CHAT_PARAMETERS - {
        "presence_penalty",
        "frequency_penalty",
        "reasoning_effort",
        "parallel_tool_calls",
        "user",
    }  # the generate endpoint takes no field for these

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if request.tools:
            raise UnsupportedFeatureError("Triton's generate endpoint has no tool calls", field="tools")
        if request.response_format is not None and request.response_format.type != "text":
            raise UnsupportedFeatureError(
                "Triton's generate endpoint takes no response format", field="response_format"
            )
        if request.stop:
            # Parameters must be scalars, and each backend names its stop list differently (TensorRT-LLM's
            # `stop_words` tensor, vLLM's sampling parameters): pass the backend's own field as a parameter.
            raise UnsupportedFeatureError("Triton's generate endpoint takes no stop list", field="stop")
        parameters: dict[str, Any] = {"stream": stream}
        if request.max_tokens is not None:
            parameters["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            parameters["temperature"] = request.temperature
        if request.top_p is not None:
            parameters["top_p"] = request.top_p
        if request.seed is not None:
            parameters["seed"] = request.seed
        parameters.update(request.extra)
        body: dict[str, Any] = {"text_input": prompt_text(request)}
        if target.credentials.get(PARAMETER_STYLE) == "top_level":
            body.update(parameters)
        else:
            body["parameters"] = parameters
        route = "generate_stream" if stream else "generate"
        return UpstreamRequest("POST", f"{model_url(target)}/{route}", JSON_HEADERS, orjson.dumps(body))

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        with reading(target, "generate"):
            data = _object(target, body)
            return ChatResult(
                model=target.model.id, content=str(data["text_output"]), finish_reason="stop", usage=UNREPORTED
            )

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return TritonChatStream(target, cumulative=target.credentials.get(STREAM_OUTPUT) == "cumulative")

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return body_error(target, status, headers, body)


def model_url(target: Target) -> str:
    url = f"{target.base_url}/v2/models/{quote(target.upstream_model, safe='')}"
    version = target.credentials.get(VERSION)
    return f"{url}/versions/{quote(version, safe='')}" if version else url


def _object(target: Target, body: bytes, *, in_stream: bool = False) -> dict[str, Any]:
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("error"):
        raise error_from_data(target, 200, {}, data, in_stream=in_stream)
    return data


class TritonChatStream(ChatStreamParser):
    """One `text_output` per event. Backends send the increment, or (configured so) the text so far: with
    `cumulative`, each event's text is diffed against what was already passed on. The stream ends at EOF."""

    __slots__ = ("_cumulative", "_seen", "_target", "finished")
    # Triton sends no stop reason; its non-streamed answers read as "stop" too.
    finish_at_end: FinishReason | None = "stop"

    def __init__(self, target: Target, *, cumulative: bool) -> None:
        self._target = target
        self._cumulative = cumulative
        self._seen = ""
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data:
            return None
        with reading(self._target, "generate stream"):
            text = str(_object(self._target, event.data, in_stream=True).get("text_output") or "")
        if self._cumulative:
            text, self._seen = (text[len(self._seen) :] if text.startswith(self._seen) else text), text
        return ChatChunk(content=text) if text else None
