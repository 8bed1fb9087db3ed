"""Completion mode: a chat call to a model served on the legacy `/completions` endpoint (base models, some fine-tunes,
self-hosted servers' generate-only models), as the same unified request and result.

The conversation becomes one prompt by protocols/completion_prompt.py; the answer's `choices[0].text` is the
content. The request carries what `client.completions.create` takes (openai 3.63.0): max_tokens (never
max_completion_tokens), temperature, top_p, stop, seed, the penalties, user, stream and stream_options; the chat
parameters it has no field for (response_format, tool_choice, parallel_tool_calls, reasoning_effort) are dropped
and reported by the runtime.
"""

from __future__ import annotations

from typing import Any

import orjson

from modelyard.protocols.base import JSON_HEADERS, ChatStreamParser, Target, UpstreamRequest
from modelyard.protocols.completion_prompt import completion_prompt, is_completion_mode
from modelyard.protocols.compose import Switch
from modelyard.protocols.openai import requests
from modelyard.protocols.openai.requests import endpoint, quirks_of
from modelyard.protocols.openai.responses import FINISH_REASONS, error_from_body, load_object, parse_usage, reading
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatChunk, ChatRequest, ChatResult

_DONE = b"[DONE]"
# The chat parameters /completions has a field for (openai 3.63.0, Completions.create).
COMPLETION_PARAMETERS = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty", "user", "top_k"}
)


COMPLETION = Switch(is_completion_mode)


def carried_parameters(target: Target) -> frozenset[str]:
    return requests.carried_parameters(target) & COMPLETION_PARAMETERS


def build_chat(target: Target, request: ChatRequest, *, stream: bool) -> UpstreamRequest:
    quirks = quirks_of(target)
    prompt = completion_prompt(request, model=target.model.id)
    body: dict[str, Any] = {"model": target.upstream_model, "prompt": prompt.text}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens  # the only token limit /completions knows
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if prompt.stop:
        body["stop"] = list(prompt.stop)
    if request.seed is not None:
        body[quirks.seed_field] = request.seed
    if request.presence_penalty is not None:
        body["presence_penalty"] = request.presence_penalty
    if request.frequency_penalty is not None:
        body["frequency_penalty"] = request.frequency_penalty
    if request.user is not None:
        body["user"] = request.user
    if stream:
        body["stream"] = True
        if quirks.supports_stream_options:
            body["stream_options"] = {"include_usage": True}
    if request.extra:
        body.update(request.extra)
    return UpstreamRequest("POST", endpoint(target, "/completions"), JSON_HEADERS, orjson.dumps(body))


def parse_chat(target: Target, body: bytes) -> ChatResult:
    with reading(target, "completion"):
        data = load_object(target, body)
        choice = data["choices"][0]
        return ChatResult(
            model=data.get("model") or target.model.id,
            content=choice.get("text") or "",
            finish_reason=FINISH_REASONS.get(choice.get("finish_reason") or "", None),
            usage=parse_usage(data.get("usage")),
            id=data.get("id"),
        )


class CompletionStream(ChatStreamParser):
    """`text_completion` chunks to unified chunks: each choice's text is content; usage arrives on its own chunk
    (stream_options.include_usage) or on the last one, depending on the server."""

    __slots__ = ("_target", "finished")

    def __init__(self, target: Target) -> None:
        self._target = target
        self.finished = False

    def feed(self, event: ServerSentEvent) -> ChatChunk | None:
        data = event.data
        if data == _DONE:
            self.finished = True
            return None
        if not data:
            return None
        with reading(self._target, "completion stream"):
            chunk: dict[str, Any] = orjson.loads(data)
            if chunk.get("error"):
                raise error_from_body(self._target, 200, {}, chunk, in_stream=True)
            usage = parse_usage(chunk["usage"]) if chunk.get("usage") else None
            choices = chunk.get("choices")
            if not choices:
                return ChatChunk(usage=usage) if usage else None
            choice = choices[0]
            finish = choice.get("finish_reason")
            return ChatChunk(
                content=choice.get("text") or "",
                finish_reason=FINISH_REASONS.get(finish) if finish else None,
                usage=usage,
            )
