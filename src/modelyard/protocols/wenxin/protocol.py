from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from msgspec.structs import replace

from modelyard.errors import UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import ChatStreamParser, Framing, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.wenxin import requests, responses
from modelyard.protocols.wenxin.stream import LegacyChatStream, V2ChatStream
from modelyard.protocols.wenxin.styles import V2_PREFIX, WenxinQuirks, style_of
from modelyard.types import (
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    RerankRequest,
    RerankResult,
)
from modelyard.types.chat import CHAT_PARAMETERS

_V2_QUIRKS = OpenAIQuirks()  # Qianfan v2 takes OpenAI's fields as they are, max_tokens included
# The legacy workshop body has no seed, penalties, reasoning effort or parallel-call switch.
_LEGACY_PARAMETERS = CHAT_PARAMETERS - {
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "parallel_tool_calls",
}


class Wenxin(WireProtocol):
    """Baidu Wenxin on Qianfan; each call takes the wire its credentials chose (`api_style`).

    v2: OpenAI's shapes at `{host}/v2`, so the openai protocol's functions build and read them. legacy: the
    per-model workshop paths with ERNIE's own body and `error_code`s inside HTTP 200 answers.
    """

    name = "wenxin"
    quirks_model = WenxinQuirks
    stream_framing: ClassVar[Framing] = "ndjson"  # lines, so a bare JSON error line is seen (stream.py)

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return _LEGACY_PARAMETERS if _is_legacy(target) else self.chat_parameters

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if _is_legacy(target):
            return requests.build_chat(target, request, stream=stream)
        if requests.quirks_of(target).last_message_user and request.messages[-1].role != "user":
            raise UnsupportedFeatureError(
                f"{target.model.id} on Qianfan v2 takes a conversation that ends with the user's message, "
                f"not a {request.messages[-1].role} message (Baidu's text-generation API); after tool results, "
                "add the user's next message",
                field="messages",
            )
        return openai_requests.build_chat(_v2(target), request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        if _is_legacy(target):
            return responses.parse_chat(target, body)
        return openai_responses.parse_chat(_v2(target), body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return LegacyChatStream(target) if _is_legacy(target) else V2ChatStream(_v2(target))

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        if _is_legacy(target):
            return requests.build_embeddings(target, request)
        return openai_requests.build_embeddings(_v2(target), request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        if _is_legacy(target):
            return responses.parse_embeddings(target, body)
        return openai_responses.parse_embeddings(_v2(target), body)

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        if _is_legacy(target):
            return requests.build_rerank(target, request)
        return openai_requests.build_rerank(_v2(target), request)

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        if _is_legacy(target):
            return responses.parse_rerank(target, request, body)
        return openai_responses.parse_rerank(_v2(target), request, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        if _is_legacy(target):
            return responses.parse_error(target, status, headers, body)
        return openai_responses.parse_error(_v2(target), status, headers, body)


def _is_legacy(target: Target) -> bool:
    return style_of(target.credentials, requests.quirks_of(target).style_credential) == "legacy"


def _v2(target: Target) -> Target:
    """The target as the openai functions want it: `{host}/v2` as base URL, v2's model name, OpenAI quirks."""
    quirks = requests.quirks_of(target)
    host = (target.credentials.get(quirks.endpoint_credential) or target.base_url).rstrip("/")
    upstream = quirks.v2_models.get(target.upstream_model, target.upstream_model)
    return replace(target, base_url=f"{host}{V2_PREFIX}", upstream_model=upstream, quirks=_V2_QUIRKS)
