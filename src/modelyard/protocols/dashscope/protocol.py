from __future__ import annotations

from collections.abc import Mapping

import msgspec

from modelyard.errors import UpstreamError
from modelyard.protocols.base import (
    ChatStreamParser,
    SpeechFrameParser,
    Target,
    UpstreamRequest,
    WebSocketRequest,
    WireProtocol,
)
from modelyard.protocols.dashscope import requests, responses, tts
from modelyard.protocols.dashscope.stream import DashScopeChatStream
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.types import (
    ChatRequest,
    ChatResult,
    EmbeddingRequest,
    EmbeddingResult,
    RerankRequest,
    RerankResult,
    SpeechRequest,
)
from modelyard.types.chat import CHAT_PARAMETERS

_COMPATIBLE_QUIRKS = OpenAIQuirks()  # compatible-mode takes max_tokens and stream_options, as OpenAI's defaults


def compatible(target: Target) -> Target:
    """The target as the openai protocol sees it: the same model at `{root}/compatible-mode/v1`."""
    return msgspec.structs.replace(
        target, base_url=f"{requests.root(target)}{requests.COMPATIBLE_MODE}", quirks=_COMPATIBLE_QUIRKS
    )


class DashScope(WireProtocol):
    """DashScope's native API (text and multimodal generation, text embedding, text rerank); with the credential
    `api_mode: compatible`, chat and embeddings go through its OpenAI-compatible mode instead. Rerank is native
    either way: compatible-mode has no rerank route."""

    name = "dashscope"
    chat_parameters = CHAT_PARAMETERS - {
        "frequency_penalty",
        "user",
    }  # the native generation API has no field for these

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if requests.is_compatible_mode(target):
            return openai_requests.build_chat(compatible(target), request, stream=stream)
        return requests.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        if requests.is_compatible_mode(target):
            return openai_responses.parse_chat(compatible(target), body)
        return responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        if requests.is_compatible_mode(target):
            return OpenAIChatStream(compatible(target))
        return DashScopeChatStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        if requests.is_compatible_mode(target):
            return openai_requests.build_embeddings(compatible(target), request)
        return requests.build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        if requests.is_compatible_mode(target):
            return openai_responses.parse_embeddings(compatible(target), body)
        return responses.parse_embeddings(target, body)

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        return requests.build_rerank(target, request)

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        return responses.parse_rerank(target, request, body)

    # Speech (CosyVoice, Sambert) runs over the WebSocket task protocol: protocols/dashscope/tts.py.
    def build_speech_socket(self, target: Target, request: SpeechRequest) -> WebSocketRequest | None:
        return tts.build_speech_socket(target, request)

    def speech_frame_parser(self, target: Target, request: SpeechRequest) -> SpeechFrameParser:
        return tts.DashScopeSpeech(target, request)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        # Both modes' error bodies carry DashScope's codes (Arrearage, DataInspectionFailed ...): one reader.
        return responses.parse_error(target, status, headers, body)
