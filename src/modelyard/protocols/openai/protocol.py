from __future__ import annotations

from collections.abc import Mapping

from modelyard.errors import UpstreamError
from modelyard.protocols.base import ChatStreamParser, RemoteModel, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.openai import requests, responses
from modelyard.protocols.openai.requests import OpenAIQuirks
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.types import (
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    ModerationRequest,
    ModerationResult,
    RerankRequest,
    RerankResult,
    SpeechRequest,
    TranscriptionRequest,
    TranscriptionResult,
)


class OpenAI(WireProtocol):
    name = "openai"
    quirks_model = OpenAIQuirks

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return requests.carried_parameters(target)

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return requests.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        return responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return OpenAIChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        return requests.build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        return responses.parse_embeddings(target, body)

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        return requests.build_rerank(target, request)

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        return responses.parse_rerank(target, request, body)

    def build_transcription(self, target: Target, request: TranscriptionRequest) -> UpstreamRequest:
        return requests.build_transcription(target, request)

    def parse_transcription(self, target: Target, body: bytes) -> TranscriptionResult:
        return responses.parse_transcription(target, body)

    def build_speech(self, target: Target, request: SpeechRequest) -> UpstreamRequest:
        return requests.build_speech(target, request)

    def build_moderation(self, target: Target, request: ModerationRequest) -> UpstreamRequest:
        return requests.build_moderation(target, request)

    def parse_moderation(self, target: Target, body: bytes) -> ModerationResult:
        return responses.parse_moderation(target, body)

    def build_list_models(self, target: Target) -> UpstreamRequest:
        return requests.build_list_models(target)

    def parse_list_models(self, target: Target, body: bytes) -> list[RemoteModel]:
        return responses.parse_list_models(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return responses.parse_error(target, status, headers, body)
