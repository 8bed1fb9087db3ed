from __future__ import annotations

from modelyard.protocols.base import ChatStreamParser, Target, WireProtocol
from modelyard.protocols.completion_prompt import is_completion_mode
from modelyard.protocols.openai import completions, requests, responses
from modelyard.protocols.openai.completions import COMPLETION, CompletionStream
from modelyard.protocols.openai.requests import OpenAIQuirks
from modelyard.protocols.openai.stream import OpenAIChatStream


class OpenAI(WireProtocol):
    """Chat Completions, or for a model in completion mode the legacy /completions (protocols/openai/completions.py)."""

    name = "openai"
    quirks_model = OpenAIQuirks

    carried_parameters = staticmethod(COMPLETION.choose(completions.carried_parameters, requests.carried_parameters))
    build_chat = staticmethod(COMPLETION.choose(completions.build_chat, requests.build_chat))
    parse_chat = staticmethod(COMPLETION.choose(completions.parse_chat, responses.parse_chat))
    build_embeddings = staticmethod(requests.build_embeddings)
    parse_embeddings = staticmethod(responses.parse_embeddings)
    build_rerank = staticmethod(requests.build_rerank)
    parse_rerank = staticmethod(responses.parse_rerank)
    build_transcription = staticmethod(requests.build_transcription)
    parse_transcription = staticmethod(responses.parse_transcription)
    build_speech = staticmethod(requests.build_speech)
    build_moderation = staticmethod(requests.build_moderation)
    parse_moderation = staticmethod(responses.parse_moderation)
    build_list_models = staticmethod(requests.build_list_models)
    parse_list_models = staticmethod(responses.parse_list_models)
    parse_error = staticmethod(responses.parse_error)

    def chat_stream_parser(self, target: Target) -> ChatStreamParser:
        # A method, not OpenAIChatStream itself: subclasses (Zhipu, Baichuan, Responses) return parsers of their own.
        return CompletionStream(target) if is_completion_mode(target) else OpenAIChatStream(target)
