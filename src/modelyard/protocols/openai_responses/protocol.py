from __future__ import annotations

from modelyard.protocols.base import ChatStreamParser, Target, UpstreamRequest
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.openai_responses import requests, responses
from modelyard.protocols.openai_responses.requests import ResponsesQuirks
from modelyard.protocols.openai_responses.stream import ResponsesChatStream
from modelyard.types import ChatRequest, ChatResult


class OpenAIResponses(OpenAI):
    """OpenAI's platform (OpenAI itself, Azure OpenAI): chat over the Responses API where the credential's
    `api_protocol` or the model asks for it, else Chat Completions; every other endpoint as the openai protocol.
    Errors come back in the same envelope on both chat APIs, so `parse_error` is the openai protocol's."""

    name = "openai_responses"
    quirks_model = ResponsesQuirks

    def carried_parameters(self, target: Target) -> frozenset[str]:
        carried = super().carried_parameters(target)
        return carried | {requests.REASONING_SUMMARY} if requests.uses_responses(target) else carried

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if requests.uses_responses(target):
            return requests.build_chat(target, request, stream=stream)
        return super().build_chat(target, request, stream=stream)

    def parse_chat(self, target: Target, body: bytes) -> ChatResult:
        if requests.uses_responses(target):
            return responses.parse_chat(target, body)
        return super().parse_chat(target, body)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        if requests.uses_responses(target):
            return ResponsesChatStream(target)
        return super().chat_stream_parser(target)
