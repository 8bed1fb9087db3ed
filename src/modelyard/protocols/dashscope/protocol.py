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
# Multimodal embedders have no compatible-mode route: they stay native, as rerank does.
COMPATIBLE_TEXT_EMBEDDINGS = Switch(
    lambda target: requests.is_compatible_mode(target) and not target.model.supports("vision"), adapt=compatible
)


class DashScope(WireProtocol):
    """DashScope's native API (text and multimodal generation, text and multimodal embedding, text rerank, short
    speech recognition); with the credential `api_mode: compatible`, chat and text embeddings go through its
    OpenAI-compatible mode instead. The rest is native either way: compatible-mode has no route for it."""

    name = "dashscope"
    chat_parameters = CHAT_PARAMETERS - {
        "frequency_penalty",
        "user",
    }  # the native generation API has no field for these

    build_chat = staticmethod(COMPATIBLE.choose(openai_requests.build_chat, requests.build_chat))
    parse_chat = staticmethod(COMPATIBLE.choose(openai_responses.parse_chat, responses.parse_chat))
    chat_stream_parser = staticmethod(COMPATIBLE.choose(OpenAIChatStream, DashScopeChatStream))
    build_embeddings = staticmethod(
        COMPATIBLE_TEXT_EMBEDDINGS.choose(openai_requests.build_embeddings, requests.build_embeddings)
    )
    parse_embeddings = staticmethod(
        COMPATIBLE_TEXT_EMBEDDINGS.choose(openai_responses.parse_embeddings, responses.parse_embeddings)
    )
    build_rerank = staticmethod(requests.build_rerank)
    parse_rerank = staticmethod(responses.parse_rerank)
    # Speech to text (Qwen-ASR, Fun-ASR-Flash): one native multimodal-generation call, in either mode.
    build_transcription = staticmethod(requests.build_transcription)
    parse_transcription = staticmethod(responses.parse_transcription)
    # Speech (CosyVoice, Sambert) runs over the WebSocket task protocol: protocols/dashscope/tts.py.
    build_speech_socket = staticmethod(tts.build_speech_socket)
    speech_frame_parser = staticmethod(tts.DashScopeSpeech)
    # Both modes' error bodies carry DashScope's codes (Arrearage, DataInspectionFailed ...): one reader.
    parse_error = staticmethod(responses.parse_error)
