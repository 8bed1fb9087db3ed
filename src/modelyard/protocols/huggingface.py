"""Hugging Face: Inference Providers (the router), Inference Endpoints and self-hosted TGI.

The model credential `api_type` picks the route shapes:

* `inference_providers`: chat through the router's OpenAI-style `/v1/chat/completions`; embeddings through
  the hf-inference feature-extraction pipeline `/hf-inference/models/{model}/pipeline/feature-extraction`.
* `inference_endpoint`: a dedicated endpoint or server; chat through its OpenAI-style Messages API (TGI 1.4+,
  vLLM, ...) at `{url}/v1/chat/completions`, embeddings by POSTing `{"inputs": [...]}` to the endpoint's root
  (TEI serves its embedding route there, and so do custom handlers).
* `tgi`: TGI's native `/generate` and `/generate_stream` (SSE without a terminator), for servers without
  a chat template: the conversation goes as one prompt text.

Checked against `huggingface_hub` 2.4.0 (2026-11): its `text_generation` sends `{"inputs", "parameters"}` and
parses `details.finish_reason` / `generated_tokens`; its `feature_extraction` sends parameters at the root.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from msgspec.structs import replace

from modelyard.errors import UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import JSON_HEADERS, ChatStreamParser, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.openai.requests import OpenAIQuirks
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.plain import prompt_text
from modelyard.protocols.sse import ServerSentEvent
from modelyard.protocols.tei import hf_error, hf_error_in_answer, vectors_of
from modelyard.types import ChatChunk, ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, Usage
from modelyard.types.chat import CHAT_PARAMETERS, FinishReason
from modelyard.types.usage import UNREPORTED

API_TYPE = "api_type"  # the model credential that picks the routes
ROUTER, ENDPOINT, TGI = "inference_providers", "inference_endpoint", "tgi"

TGI_FINISH_REASONS: Mapping[str, FinishReason] = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


class HuggingFaceQuirks(OpenAIQuirks):
    """The OpenAI-style routes' quirks, plus where the router serves feature extraction."""

    router_embeddings_path: str = "/hf-inference/models/{model}/pipeline/feature-extraction"


def api_type(target: Target) -> str:
    return target.credentials.get(API_TYPE) or ROUTER


# TGI's /generate takes no presence penalty, reasoning effort, parallel-call switch or user.
_TGI_PARAMETERS = CHAT_PARAMETERS - {"presence_penalty", "reasoning_effort", "parallel_tool_calls", "user"}


class HuggingFace(WireProtocol):
    name = "huggingface"
    quirks_model = HuggingFaceQuirks

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return _TGI_PARAMETERS if api_type(target) == TGI else self.chat_parameters

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if api_type(target) == TGI:
            return build_generate(target, request, stream=stream)
        return openai_requests.build_chat(_openai_style(target), request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        if api_type(target) == TGI:
            return parse_generate(target, body)
        return openai_responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return TGIChatStream(target) if api_type(target) == TGI else OpenAIChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        if request.dimensions is not None:
            raise UnsupportedFeatureError("Hugging Face feature extraction takes no dimensions", field="dimensions")
        if api_type(target) == ROUTER:
            path = _quirks(target).router_embeddings_path.format(model=target.upstream_model)
            url = f"{target.base_url}{path}"
        else:
            url = target.base_url
        body = orjson.dumps({"inputs": list(request.texts)})
        return UpstreamRequest("POST", url, JSON_HEADERS, body)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        with reading(target, "embeddings"):
            return EmbeddingResult(
                model=target.model.id, vectors=vectors_of(target, orjson.loads(body)), usage=UNREPORTED
            )

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return hf_error(target, status, headers, body)


def _quirks(target: Target) -> HuggingFaceQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, HuggingFaceQuirks) else HuggingFaceQuirks()


def _openai_style(target: Target) -> Target:
    """The target with the OpenAI-style API root, whether or not the user pasted the URL with `/v1`."""
    return replace(target, base_url=f"{target.base_url.removesuffix('/v1')}/v1")


# --- TGI native ---------------------------------------------------------------------------------------------------


def build_generate(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    if request.tools:
        raise UnsupportedFeatureError("TGI's /generate has no tool calls; use the Messages API", field="tools")
    parameters: dict[str, Any] = {"details": True}  # finish reason and token counts come only with details
    if request.max_tokens is not None:
        parameters["max_new_tokens"] = request.max_tokens
    # TGI refuses temperature 0 and top_p 1 ("must be strictly positive" / "< 1"); leaving them out is greedy
    # decoding and no nucleus cut, which is what those values mean.
    if request.temperature:
        parameters["temperature"] = request.temperature
    if request.top_p is not None and 0 < request.top_p < 1:
        parameters["top_p"] = request.top_p
    if request.stop:
        parameters["stop"] = list(request.stop)
    if request.seed is not None:
        parameters["seed"] = request.seed
    if request.frequency_penalty is not None:
        parameters["frequency_penalty"] = request.frequency_penalty
    grammar = _grammar(request)
    if grammar is not None:
        parameters["grammar"] = grammar
    parameters.update(request.extra)
    body = {"inputs": prompt_text(request), "parameters": parameters}
    url = f"{target.base_url}/generate_stream" if stream else f"{target.base_url}/generate"
    return UpstreamRequest("POST", url, JSON_HEADERS, orjson.dumps(body))


def _grammar(request: ChatRequest) -> dict[str, Any] | None:
    response_format = request.response_format
    if response_format is None or response_format.type == "text":
        return None
    schema = response_format.schema if response_format.type == "json_schema" else None
    return {"type": "json", "value": dict(schema) if schema is not None else {"type": "object"}}


def parse_generate(target: Target, body: bytes) -> ChatResult:
    with reading(target, "chat"):
        data = orjson.loads(body)
        if isinstance(data, list):  # the compat route `/` answers a one-element list
            data = data[0]
        if data.get("error"):
            raise hf_error_in_answer(target, data)
        details = data.get("details") or {}
        # /generate reports generated_tokens but not the prompt's length: the runtime estimates both, rather
        # than bill a prompt of zero tokens.
        return ChatResult(
            model=target.model.id,
            content=data["generated_text"],
            finish_reason=TGI_FINISH_REASONS.get(details.get("finish_reason") or "", "stop"),
            usage=UNREPORTED,
        )


class TGIChatStream(ChatStreamParser):
    """`/generate_stream` events: one token each; the last one carries `generated_text` and `details`."""

    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        if not event.data:
            return None
        with reading(self._target, "chat stream"):
            data = orjson.loads(event.data)
            if data.get("error"):
                raise hf_error_in_answer(self._target, data, in_stream=True)
            token = data.get("token") or {}
            text = "" if token.get("special") else token.get("text") or ""
            details = data.get("details")
            if details is None and data.get("generated_text") is None:
                return ChatChunk(content=text) if text else None
            self.finished = True
            details = details or {}
            usage = None
            if details.get("generated_tokens") is not None:
                usage = Usage(
                    prompt_tokens=details.get("input_length") or 0, completion_tokens=details["generated_tokens"]
                )
            return ChatChunk(
                content=text,
                finish_reason=TGI_FINISH_REASONS.get(details.get("finish_reason") or "", "stop"),
                usage=usage,
            )
