from __future__ import annotations

from collections.abc import Mapping

from modelyard.errors import UpstreamError
from modelyard.protocols import aws
from modelyard.protocols.aws import AWSQuirks
from modelyard.protocols.base import ChatStreamParser, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.bedrock import requests, responses
from modelyard.protocols.bedrock.stream import ConverseStream
from modelyard.types import ChatRequest, ChatResult, EmbeddingRequest, EmbeddingResult, RerankRequest, RerankResult
from modelyard.types.chat import CHAT_PARAMETERS


class Bedrock(WireProtocol):
    """Amazon Bedrock Runtime: Converse and ConverseStream for chat, InvokeModel for Titan and Cohere embeddings;
    the Agents for Bedrock runtime's Rerank for Amazon and Cohere rerankers."""

    name = "bedrock"
    chat_parameters = CHAT_PARAMETERS - {
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "parallel_tool_calls",
        "user",
    }  # Converse has no field for these
    quirks_model = AWSQuirks
    stream_framing = "aws-eventstream"

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        return requests.build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        return responses.parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        return ConverseStream(target)

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        return requests.build_embeddings(target, request)

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        return responses.parse_embeddings(target, body)

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        return requests.build_rerank(target, request)

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        return responses.parse_rerank(target, request, body)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return aws.parse_error(target, status, headers, body)
