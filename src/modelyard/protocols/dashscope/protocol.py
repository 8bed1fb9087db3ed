from __future__ import annotations

import msgspec

from modelyard.protocols.base import Target, WireProtocol
from modelyard.protocols.compose import Switch
from modelyard.protocols.dashscope import requests, responses, tts
from modelyard.protocols.dashscope.stream import DashScopeChatStream
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai import requests as openai_requests
from modelyard.protocols.openai import responses as openai_responses
from modelyard.protocols.openai.stream import OpenAIChatStream
from modelyard.types.chat import CHAT_PARAMETERS

_COMPATIBLE_QUIRKS = OpenAIQuirks()  # compatible-mode takes max_tokens and stream_options, as OpenAI's defaults


def compatible(target: Target) -> Target:
    """The target as the openai protocol sees it: the same model at `{root}/compatible-mode/v1`."""
    return msgspec.structs.replace(
        target, base_url=f"{requests.root(target)}{requests.COMPATIBLE_MODE}", quirks=_COMPATIBLE_QUIRKS
    )


# With the credential `api_mode: compatible`, chat and embeddings go through the OpenAI-compatible mode.
COMPATIBLE = Switch(requests.is_compatible_mode, adapt=compatible)


class DashScope(WireProtocol):
    """DashScope's native API (text and multimodal generation, text embedding, text rerank); with the credential
    `api_mode: compatible`, chat and embeddings go through its OpenAI-compatible mode instead. Rerank is native
    either way: compatible-mode has no rerank route."""

    name = "dashscope"
    chat_parameters = CHAT_PARAMETERS - {
        "frequency_penalty",
        "user",
    }  # the native generation API has no field for these

    build_chat = staticmethod(COMPATIBLE.choose(openai_requests.build_chat, requests.build_chat))
    parse_chat = staticmethod(COMPATIBLE.choose(openai_responses.parse_chat, responses.parse_chat))
    chat_stream_parser = staticmethod(COMPATIBLE.choose(OpenAIChatStream, DashScopeChatStream))
    build_embeddings = staticmethod(COMPATIBLE.choose(openai_requests.build_embeddings, requests.build_embeddings))
    parse_embeddings = staticmethod(COMPATIBLE.choose(openai_responses.parse_embeddings, responses.parse_embeddings))
    build_rerank = staticmethod(requests.build_rerank)
    parse_rerank = staticmethod(responses.parse_rerank)
    # Speech (CosyVoice, Sambert) runs over the WebSocket task protocol: protocols/dashscope/tts.py.
    build_speech_socket = staticmethod(tts.build_speech_socket)
    speech_frame_parser = staticmethod(tts.DashScopeSpeech)
    # Both modes' error bodies carry DashScope's codes (Arrearage, DataInspectionFailed ...): one reader.
    parse_error = staticmethod(responses.parse_error)
