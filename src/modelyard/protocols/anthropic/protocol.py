from __future__ import annotations

from modelyard.protocols.anthropic import requests, responses
from modelyard.protocols.anthropic.requests import AnthropicQuirks
from modelyard.protocols.anthropic.stream import AnthropicChatStream
from modelyard.protocols.base import WireProtocol


class Anthropic(WireProtocol):
    """Anthropic's Messages API: chat only (Anthropic serves no embeddings, rerank or audio)."""

    name = "anthropic"
    chat_parameters = requests.MESSAGES_PARAMETERS
    quirks_model = AnthropicQuirks

    carried_parameters = staticmethod(requests.carried_parameters)
    build_chat = staticmethod(requests.build_chat)
    parse_chat = staticmethod(responses.parse_chat)
    chat_stream_parser = staticmethod(AnthropicChatStream)
    build_list_models = staticmethod(requests.build_list_models)
    parse_list_models = staticmethod(responses.parse_list_models)
    parse_error = staticmethod(responses.parse_error)
