from __future__ import annotations

from collections.abc import Mapping

import orjson

from modelyard.errors import UnsupportedFeatureError, UpstreamError
from modelyard.protocols.anthropic.stream import AnthropicChatStream
from modelyard.protocols.base import ChatStreamParser, RemoteModel, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.gemini import Gemini
from modelyard.protocols.gemini.requests import GeminiQuirks
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.protocols.vertex import partners
from modelyard.protocols.vertex.partners import ANTHROPIC, GOOGLE, MISTRAL, publisher_of
from modelyard.types import ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult

GEMINI = Gemini()


class Vertex(WireProtocol):
    """Vertex AI: Gemini models through generateContent, Claude and Mistral through their publishers' rawPredict.

    Which publisher serves a model is data (the provider file's `publishers:` prefixes); each publisher's wire
    format is its own protocol's, reused, at the Vertex URL of the model's location.
    """

    name = "vertex"
    quirks_model = GeminiQuirks

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        publisher = publisher_of(target)
        if publisher == ANTHROPIC:
            return partners.build_claude_chat(target, request, stream=stream)
        if publisher == MISTRAL:
            return partners.build_mistral_chat(target, request, stream=stream)
        return GEMINI.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        publisher = publisher_of(target)
        if publisher == ANTHROPIC:
            return partners.CLAUDE_PROTOCOL.parse_chat(partners.as_claude(target), body)
        if publisher == MISTRAL:
            return partners.OPENAI_PROTOCOL.parse_chat(partners.as_mistral(target), body)
        return GEMINI.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        publisher = publisher_of(target)
        if publisher == ANTHROPIC:
            return AnthropicChatStream(partners.as_claude(target))
        if publisher == MISTRAL:
            return OpenAIChatStream(partners.as_mistral(target))
        return GEMINI.chat_stream_parser(target)

    def carried_parameters(self, target: Target) -> frozenset[str]:
        publisher = publisher_of(target)
        if publisher == ANTHROPIC:
            return partners.CLAUDE_PROTOCOL.carried_parameters(partners.as_claude(target))
        if publisher == MISTRAL:
            return partners.OPENAI_PROTOCOL.carried_parameters(partners.as_mistral(target))
        return GEMINI.carried_parameters(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        if publisher_of(target) != GOOGLE:
            raise UnsupportedFeatureError(f"{target.model.id} has no embeddings on Vertex AI")
        return GEMINI.build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        return GEMINI.parse_embeddings(target, body)

    def build_list_models(self, target: Target) -> UpstreamRequest:
        return GEMINI.build_list_models(target)

    def parse_list_models(self, target: Target, body: bytes) -> list[RemoteModel]:
        return GEMINI.parse_list_models(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        """Google's front end answers in its own error shape (auth, quota, a location without the model) whatever
        the publisher; past it, a partner answers in its own."""
        publisher = publisher_of(target)
        if publisher == GOOGLE or _is_google_error(body):
            return GEMINI.parse_error(target, status, headers, body)
        if publisher == ANTHROPIC:
            return partners.CLAUDE_PROTOCOL.parse_error(partners.as_claude(target), status, headers, body)
        return partners.OPENAI_PROTOCOL.parse_error(partners.as_mistral(target), status, headers, body)


def _is_google_error(body: bytes) -> bool:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if isinstance(data, list) and data:  # some Google front ends wrap the error in a list
        data = data[0]
    error = data.get("error") if isinstance(data, dict) else None
    return isinstance(error, dict) and "status" in error
