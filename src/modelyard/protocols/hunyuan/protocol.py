from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import urlsplit

from modelyard.errors import UpstreamError
from modelyard.protocols.base import ChatStreamParser, Framing, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.hunyuan import requests, responses
from modelyard.protocols.hunyuan.stream import HunyuanChatStream, OpenAILines
from modelyard.protocols.openai import OpenAI, OpenAIQuirks
from modelyard.protocols.tencent_cloud import parse_error
from modelyard.types import ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult
from modelyard.types.chat import CHAT_PARAMETERS

ENDPOINT_CREDENTIAL = "endpoint"
NATIVE_DOMAIN = ".tencentcloudapi.com"  # Tencent Cloud API 3.0 (the SDK's HttpProfile root domain)

_OPENAI = OpenAI()


def is_native(target: Target) -> bool:
    """Whether the chosen endpoint is the native API (SecretId/SecretKey) rather than the OpenAI-compatible one.

    Decided by the endpoint the credentials chose, not by the URL called, which a test or proxy may replace.
    """
    endpoint = target.credentials.get(ENDPOINT_CREDENTIAL) or next(
        (f.default or "" for f in target.provider.credentials if f.variable == ENDPOINT_CREDENTIAL), ""
    )
    return (urlsplit(endpoint).hostname or "").endswith(NATIVE_DOMAIN)


# The native ChatCompletions action has no field for output length, penalties, response format or the user.
_NATIVE_PARAMETERS = CHAT_PARAMETERS - {
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "parallel_tool_calls",
    "user",
}


class Hunyuan(WireProtocol):
    """Tencent Hunyuan, over the API its credentials chose: the native Tencent Cloud API 3.0 (ChatCompletions,
    GetEmbedding; signed with TC3) or the OpenAI-compatible endpoint (bearer API key), which the OpenAI protocol
    speaks. Streams of both are read as lines; see stream.py."""

    name = "hunyuan"
    quirks_model = OpenAIQuirks  # for the OpenAI-compatible endpoint
    stream_framing: ClassVar[Framing] = "ndjson"

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return _NATIVE_PARAMETERS if is_native(target) else _OPENAI.carried_parameters(target)

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if is_native(target):
            return requests.build_chat(target, request, stream=stream)
        return _OPENAI.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        if is_native(target):
            return responses.parse_chat(target, body)
        return _OPENAI.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        if is_native(target):
            return HunyuanChatStream(target)
        return OpenAILines(target, _OPENAI.chat_stream_parser(target))

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        if is_native(target):
            return requests.build_embeddings(target, request)
        return _OPENAI.build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        if is_native(target):
            return responses.parse_embeddings(target, body)
        return _OPENAI.parse_embeddings(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        if is_native(target):
            return parse_error(target, status, headers, body)
        return _OPENAI.parse_error(target, status, headers, body)
