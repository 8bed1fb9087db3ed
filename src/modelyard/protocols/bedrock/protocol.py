from __future__ import annotations

from modelyard.protocols import aws
from modelyard.protocols.aws import AWSQuirks
from modelyard.protocols.base import WireProtocol
from modelyard.protocols.bedrock import requests, responses
from modelyard.protocols.bedrock.stream import ConverseStream
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

    build_chat = staticmethod(requests.build_chat)
    parse_chat = staticmethod(responses.parse_chat)
    chat_stream_parser = staticmethod(ConverseStream)
    build_embeddings = staticmethod(requests.build_embeddings)
    parse_embeddings = staticmethod(responses.parse_embeddings)
    build_rerank = staticmethod(requests.build_rerank)
    parse_rerank = staticmethod(responses.parse_rerank)
    parse_error = staticmethod(aws.parse_error)
