"""Partner models on Vertex AI, each in its own publisher's wire format at a `rawPredict` URL.

Claude (publisher `anthropic`): the Messages API body without `model` and with `anthropic_version`, POSTed to
`.../publishers/anthropic/models/{model}:rawPredict`, or `:streamRawPredict` with `stream: true`, answering in
Anthropic's own JSON and event stream (anthropic 2.17.0, `lib/vertex/_client.py`: the SDK removes `model` and
sets `anthropic_version` to its API version).
Mistral (publisher `mistralai`): Mistral's chat-completions body, `model` included, at `:rawPredict` /
`:streamRawPredict`, answering in OpenAI's shapes (Google's Mistral-on-Vertex page and langchain-google-vertexai's
Mistral client, read 2026-12).
"""

from __future__ import annotations

import orjson
from msgspec.structs import replace

from modelyard.protocols.anthropic import Anthropic
from modelyard.protocols.anthropic.requests import AnthropicQuirks
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.protocols.gemini.requests import model_url, quirks_of
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.openai.requests import OpenAIQuirks
from modelyard.types import ChatRequest

GOOGLE = "google"
ANTHROPIC, MISTRAL = "anthropic", "mistralai"
CLAUDE_PROTOCOL = Anthropic()
OPENAI_PROTOCOL = OpenAI()
# Mistral's chat schema: max_tokens and random_seed, and no stream_options or user (422 extra_forbidden); the
# same facts as the mistralai provider file.
MISTRAL_QUIRKS = OpenAIQuirks(max_tokens_field="max_tokens", seed_field="random_seed", supports_stream_options=False)


def publisher_of(target: Target) -> str:
    """The publisher whose API serves the model: a partner's when the model id has one of its prefixes."""
    model = target.upstream_model
    for publisher, prefixes in quirks_of(target).publishers.items():
        if model.startswith(prefixes):
            return publisher
    return GOOGLE


def as_claude(target: Target) -> Target:
    return replace(target, quirks=AnthropicQuirks())


def as_mistral(target: Target) -> Target:
    return replace(target, quirks=MISTRAL_QUIRKS)


def build_claude_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    direct = CLAUDE_PROTOCOL.build_chat(as_claude(target), request, stream=stream)
    assert isinstance(direct.body, bytes)
    body = orjson.loads(direct.body)
    body.pop("model", None)  # the model is in the URL
    body["anthropic_version"] = direct.headers["anthropic-version"]  # in the body on Vertex, not a header
    url = model_url(target, "streamRawPredict" if stream else "rawPredict", ANTHROPIC)
    return UpstreamRequest("POST", url, JSON_HEADERS, orjson.dumps(body))


def build_mistral_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    wire = OPENAI_PROTOCOL.build_chat(as_mistral(target), replace(request, user=None), stream=stream)
    return replace(wire, url=model_url(target, "streamRawPredict" if stream else "rawPredict", MISTRAL))
