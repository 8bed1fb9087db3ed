from __future__ import annotations

from modelyard.protocols.base import WireProtocol
from modelyard.protocols.cohere import requests, responses
from modelyard.protocols.cohere.stream import CohereChatStream
from modelyard.types.chat import CHAT_PARAMETERS


class Cohere(WireProtocol):
    """Cohere's v2 API: chat with typed stream events, embed (input_type, embedding_types), rerank."""

    name = "cohere"
    chat_parameters = CHAT_PARAMETERS - {"parallel_tool_calls", "user"}  # Chat v2 has no field for these

    build_chat = staticmethod(requests.build_chat)
    parse_chat = staticmethod(responses.parse_chat)
    chat_stream_parser = staticmethod(CohereChatStream)
    build_embeddings = staticmethod(requests.build_embeddings)
    parse_embeddings = staticmethod(responses.parse_embeddings)
    build_rerank = staticmethod(requests.build_rerank)
    parse_rerank = staticmethod(responses.parse_rerank)
    parse_error = staticmethod(responses.parse_error)
