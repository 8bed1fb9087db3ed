from __future__ import annotations

from typing import ClassVar

from msgspec.structs import replace

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import Framing, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.compose import Switch
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.wenxin import requests, responses
from modelyard.protocols.wenxin.stream import LegacyChatStream, V2ChatStream
from modelyard.protocols.wenxin.styles import V2_PREFIX, WenxinQuirks, style_of
from modelyard.types import ChatRequest
from modelyard.types.chat import CHAT_PARAMETERS

_V2_QUIRKS = OpenAIQuirks()  # Qianfan v2 takes OpenAI's fields as they are, max_tokens included
# The legacy workshop body has no seed, penalties, reasoning effort or parallel-call switch.
_LEGACY_PARAMETERS = CHAT_PARAMETERS - {
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "parallel_tool_calls",
}


def _is_legacy(target: Target) -> bool:
    return style_of(target.credentials, requests.quirks_of(target).style_credential) == "legacy"


def _v2(target: Target) -> Target:
    """The target as the openai functions want it: `{host}/v2` as base URL, v2's model name, OpenAI quirks."""
    quirks = requests.quirks_of(target)
    host = (target.credentials.get(quirks.endpoint_credential) or target.base_url).rstrip("/")
    upstream = quirks.v2_models.get(target.upstream_model, target.upstream_model)
    return replace(target, base_url=f"{host}{V2_PREFIX}", upstream_model=upstream, quirks=_V2_QUIRKS)


def _is_v2(target: Target) -> bool:
    return not _is_legacy(target)


# v2 calls go to the openai protocol's functions, on the target as `_v2` makes it.
V2 = Switch(_is_v2, adapt=_v2)


class Wenxin(WireProtocol):
    """Baidu Wenxin on Qianfan; each call takes the wire its credentials chose (`api_style`).

    v2: OpenAI's shapes at `{host}/v2`, so the openai protocol's functions build and read them. legacy: the
    per-model workshop paths with ERNIE's own body and `error_code`s inside HTTP 200 answers.
    """

    name = "wenxin"
    quirks_model = WenxinQuirks
    stream_framing: ClassVar[Framing] = "ndjson"  # lines, so a bare JSON error line is seen (stream.py)

    def carried_parameters(self, target: Target) -> frozenset[str]:
        return _LEGACY_PARAMETERS if _is_legacy(target) else self.chat_parameters

    def build_chat(self, target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
        if _is_legacy(target):
            return requests.build_chat(target, request, stream=stream)
        if requests.quirks_of(target).last_message_user and request.messages[-1].role != "user":
            raise UnsupportedFeatureError(
                f"{target.model.id} on Qianfan v2 takes a conversation that ends with the user's message, "
                f"not a {request.messages[-1].role} message (Baidu's text-generation API); after tool results, "
                "add the user's next message",
                field="messages",
            )
        return openai_requests.build_chat(_v2(target), request, stream=stream)

    parse_chat = staticmethod(V2.choose(openai_responses.parse_chat, responses.parse_chat))
    chat_stream_parser = staticmethod(V2.choose(V2ChatStream, LegacyChatStream))
    build_embeddings = staticmethod(V2.choose(openai_requests.build_embeddings, requests.build_embeddings))
    parse_embeddings = staticmethod(V2.choose(openai_responses.parse_embeddings, responses.parse_embeddings))
    build_rerank = staticmethod(V2.choose(openai_requests.build_rerank, requests.build_rerank))
    parse_rerank = staticmethod(V2.choose(openai_responses.parse_rerank, responses.parse_rerank))
    parse_error = staticmethod(V2.choose(openai_responses.parse_error, responses.parse_error))
