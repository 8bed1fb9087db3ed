from __future__ import annotations

from modelyard.protocols.base import WireProtocol
from modelyard.protocols.gemini import requests, responses
from modelyard.protocols.gemini.requests import GeminiQuirks
from modelyard.protocols.gemini.stream import GeminiChatStream
from modelyard.types.chat import CHAT_PARAMETERS


class Gemini(WireProtocol):
    name = "gemini"
    chat_parameters = CHAT_PARAMETERS - {"parallel_tool_calls", "user"}  # generateContent has no field for these
    quirks_model = GeminiQuirks

    build_chat = staticmethod(requests.build_chat)
    parse_chat = staticmethod(responses.parse_chat)
    chat_stream_parser = staticmethod(GeminiChatStream)
    build_embeddings = staticmethod(requests.build_embeddings)
    parse_embeddings = staticmethod(responses.parse_embeddings)
    build_list_models = staticmethod(requests.build_list_models)
    parse_list_models = staticmethod(responses.parse_list_models)
    parse_error = staticmethod(responses.parse_error)
