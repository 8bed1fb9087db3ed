from __future__ import annotations

from typing import ClassVar
from urllib.parse import urlsplit

from modelyard.protocols import tencent_cloud
from modelyard.protocols.base import Framing, Target, WireProtocol
from modelyard.protocols.compose import Switch
from modelyard.protocols.hunyuan import requests, responses
from modelyard.protocols.hunyuan.stream import HunyuanChatStream, OpenAILines
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.types.chat import CHAT_PARAMETERS

ENDPOINT_CREDENTIAL = "endpoint"
NATIVE_DOMAIN = ".tencentcloudapi.com"  # Tencent Cloud API 3.0 (the SDK's HttpProfile root domain)


def is_native(target: Target) -> bool:
    """Whether the chosen endpoint is the native API (SecretId/SecretKey) rather than the OpenAI-compatible one.

    Decided by the endpoint the credentials chose, not by the URL called, which a test or proxy may replace.
    """
    endpoint = target.credentials.get(ENDPOINT_CREDENTIAL) or next(
        (f.default or "" for f in target.provider.credentials if f.variable == ENDPOINT_CREDENTIAL), ""
    )
    return (urlsplit(endpoint).hostname or "").endswith(NATIVE_DOMAIN)


# The native ChatCompletions action has no field for output length, penalties, response format or the user.
_NATIVE_PARAMETERS = CHAT_PARAMETERS - {
    "max_tokens",
    "presence_penalty",
    "frequency_penalty",
    "response_format",
    "parallel_tool_calls",
    "user",
}


NATIVE = Switch(is_native)


class Hunyuan(WireProtocol):
    """Tencent Hunyuan, over the API its credentials chose: the native Tencent Cloud API 3.0 (ChatCompletions,
    GetEmbedding; signed with TC3) or the OpenAI-compatible endpoint (bearer API key), which the OpenAI protocol
    speaks. Streams of both are read as lines; see stream.py."""

    name = "hunyuan"
    quirks_model = OpenAIQuirks  # for the OpenAI-compatible endpoint
    stream_framing: ClassVar[Framing] = "ndjson"

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return _NATIVE_PARAMETERS if is_native(target) else openai_requests.carried_parameters(target)

    build_chat = staticmethod(NATIVE.choose(requests.build_chat, openai_requests.build_chat))
    parse_chat = staticmethod(NATIVE.choose(responses.parse_chat, openai_responses.parse_chat))
    chat_stream_parser = staticmethod(NATIVE.choose(HunyuanChatStream, OpenAILines))
    build_embeddings = staticmethod(NATIVE.choose(requests.build_embeddings, openai_requests.build_embeddings))
    parse_embeddings = staticmethod(NATIVE.choose(responses.parse_embeddings, openai_responses.parse_embeddings))
    parse_error = staticmethod(NATIVE.choose(tencent_cloud.parse_error, openai_responses.parse_error))
