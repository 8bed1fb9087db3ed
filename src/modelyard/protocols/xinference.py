"""Xorbits Inference: the OpenAI wire for every call, and the server's description of a launched model
(`GET {server}/v1/models/{model_uid}`) to read what a custom model's form leaves to it.

The description (xinference's `describe_model`, restful_api.py; the LLM's `to_dict` in model/llm/core.py, read
2026-12) carries `model_type` (LLM, embedding, rerank, audio ...), `model_ability` (chat, generate, tools, vision,
reasoning, hybrid, audio ...) and `context_length`; some releases add an LLM's `max_tokens`, and an embedder's
`max_tokens` is its input limit (EmbeddingModelDescription.to_dict). They become the form values of
catalog/custom.py: a context size (4,096 when the server does not say, as Dify's plugin assumes a default too),
an output limit when given, tool calls, image input, thinking, and completion mode for generate-only models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from modelyard.errors import CredentialValidationError
from modelyard.protocols.base import Target, UpstreamRequest
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.openai.responses import reading

DEFAULT_CONTEXT_SIZE = 4096
# Xinference's model types, as ours; audio models serve speech-to-text or text-to-speech by family.
_TYPES = {"llm": "llm", "embedding": "text-embedding", "rerank": "rerank", "audio": "audio"}


class Xinference(OpenAI):
    name = "xinference"
    describes_models = True

    def build_model_description(self, target: Target) -> UpstreamRequest:
        # /v1/models/{uid} on the server root; a uid with "/", "?" or "#" is escaped rather than refused.
        return UpstreamRequest("GET", f"{target.base_url}/models/{quote(target.upstream_model, safe='')}", {})

    def parse_model_description(self, target: Target, body: bytes) -> dict[str, str]:
        with reading(target, "model description"):
            data: dict[str, Any] = orjson.loads(body)
            if not isinstance(data, dict):
                raise TypeError(f"expected a JSON object, got {type(data).__name__}")
            _check_type(target, str(data.get("model_type") or ""))
            if target.model.type != "llm":  # an embedder's `max_tokens` is its input limit (EmbeddingModelDescription)
                limit = _positive(data.get("context_length")) or _positive(data.get("max_tokens"))
                return {"context_size": str(limit or DEFAULT_CONTEXT_SIZE)}
            return described_values(data)


def described_values(data: Mapping[str, Any]) -> dict[str, str]:
    """An LLM's description as the form values of catalog/custom.py."""
    abilities = {str(ability) for ability in data.get("model_ability") or ()}
    values = {"context_size": str(_positive(data.get("context_length")) or DEFAULT_CONTEXT_SIZE)}
    output = _positive(data.get("max_tokens"))  # not in every release's description
    if output is not None:
        values["max_tokens_to_sample"] = str(output)
    values["mode"] = "completion" if "generate" in abilities and "chat" not in abilities else "chat"
    values["function_calling_type"] = "tool_call" if "tools" in abilities else "no_call"
    values["vision_support"] = "support" if "vision" in abilities else "no_support"
    values["reasoning_support"] = "supported" if abilities & {"reasoning", "hybrid"} else "not_supported"
    return values


def _check_type(target: Target, described: str) -> None:
    kind = _TYPES.get(described.lower())
    asked = target.model.type
    if kind is None or kind == asked or (kind == "audio" and asked in ("speech2text", "tts")):
        return
    variable = target.provider.upstream_model_credential
    raise CredentialValidationError(
        f"{target.upstream_model!r} is a {described} model on this server, not a {asked} model: add it as {kind}",
        field=variable,
    )


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
