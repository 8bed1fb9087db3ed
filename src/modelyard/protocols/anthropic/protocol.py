from __future__ import annotations

from collections.abc import Mapping

from modelyard.errors import UpstreamError
from modelyard.protocols.anthropic import requests, responses
from modelyard.protocols.anthropic.requests import AnthropicQuirks
from modelyard.protocols.anthropic.stream import AnthropicChatStream
from modelyard.protocols.base import ChatStreamParser, RemoteModel, Target, UpstreamRequest, WireProtocol
from modelyard.types import ChatRequest, ChatResult
from modelyard.types.chat import CHAT_PARAMETERS


class Anthropic(WireProtocol):
    """Anthropic's Messages API: chat only (Anthropic serves no embeddings, rerank or audio)."""

    name = "anthropic"
    chat_parameters = CHAT_PARAMETERS - {"seed", "presence_penalty", "frequency_penalty"}  # no Messages API field
    quirks_model = AnthropicQuirks

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return requests.carried_parameters(target, self.chat_parameters)

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return requests.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        return responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return AnthropicChatStream(target)

    def build_list_models(self, target: Target) -> UpstreamRequest:
        headers = {"anthropic-version": requests.api_version(target)}
        return UpstreamRequest("GET", f"{target.base_url}/v1/models?limit=1000", headers)

    def parse_list_models(self, target: Target, body: bytes) -> list[RemoteModel]:
        return responses.parse_list_models(target, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return responses.parse_error(target, status, headers, body)
