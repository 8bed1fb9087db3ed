from __future__ import annotations

from collections.abc import Mapping

from modelyard.errors import UpstreamError
from modelyard.protocols.base import ChatStreamParser, RemoteModel, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.gemini import requests, responses
from modelyard.protocols.gemini.requests import GeminiQuirks
from modelyard.protocols.gemini.stream import GeminiChatStream
from modelyard.types import ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult
from modelyard.types.chat import CHAT_PARAMETERS


class Gemini(WireProtocol):
    name = "gemini"
    chat_parameters = CHAT_PARAMETERS - {"parallel_tool_calls", "user"}  # generateContent has no field for these
    quirks_model = GeminiQuirks

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return requests.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        return responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return GeminiChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        return requests.build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        return responses.parse_embeddings(target, body)

    def build_list_models(self, target: Target) -> UpstreamRequest:
        return requests.build_list_models(target)

    def parse_list_models(self, target: Target, body: bytes) -> list[RemoteModel]:
        return responses.parse_list_models(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return responses.parse_error(target, status, headers, body)
