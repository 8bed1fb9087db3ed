"""OpenAI-shaped vendors that serve chat and embeddings only (Zhipu, Baichuan): the shared parts of their adapters."""

from __future__ import annotations

from typing import Any, ClassVar

import orjson

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.base import RemoteModel, Target, UpstreamRequest
from modelyard.protocols.openai.protocol import OpenAI
from modelyard.types import ModerationRequest, RerankRequest, SpeechRequest, TranscriptionRequest


class ChatAndEmbeddings(OpenAI):
    """OpenAI's chat and embeddings; the other OpenAI endpoints are refused, never sent to a URL the vendor lacks.

    Their quirks should set `embedding_encoding: None`: these vendors document no `encoding_format`."""

    vendor: ClassVar[str]  # the name errors give

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"{self.vendor} has no rerank endpoint")

    def build_transcription(self, target: Target, request: TranscriptionRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"{self.vendor} speech-to-text is not supported")

    def build_speech(self, target: Target, request: SpeechRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"{self.vendor} text-to-speech is not supported")

    def build_moderation(self, target: Target, request: ModerationRequest) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"{self.vendor} moderation is not supported")

    def build_list_models(self, target: Target) -> UpstreamRequest:
        raise UnsupportedFeatureError(f"{self.vendor} has no model listing endpoint")

    def parse_list_models(self, target: Target, body: bytes) -> list[RemoteModel]:
        raise UnsupportedFeatureError(f"{self.vendor} has no model listing endpoint")


def error_object(body: bytes) -> dict[str, Any]:
    """An error answer's JSON object; a body that is not JSON becomes `{"error": {"message": <its start>}}`."""
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {"error": {"message": body[:300].decode("utf-8", "replace")}}
    return data if isinstance(data, dict) else {}
