"""Jina AI: OpenAI-shaped embeddings with Jina's own `task`, and R1 rerank (shared/providers-a.md §14.1, §12.1).

A protocol rather than OpenAI quirks because what Jina wants depends on the model, not the provider: only the
task-tuned models (jina-embeddings-v3 and later) take `task`, and the multimodal ones want `{"text": ...}`
objects where the others take strings. Which models those are is data, in the provider file's quirks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import Field

from modelyard.errors import ProviderQuotaExhaustedError, UnsupportedFeatureError, UpstreamError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest
from modelyard.protocols.openai import OpenAI, OpenAIQuirks
from modelyard.types import EmbeddingRequest, RerankRequest

# Error codes of the Jina API that mean "out of money" although they arrive as 403 (api.jina.ai/openapi.json).
_QUOTA_CODES = frozenset({"AUTHZ_INSUFFICIENT_BALANCE"})


class JinaQuirks(OpenAIQuirks):
    # Our query/document to Jina's retrieval tasks, for the models that take a task.
    embedding_tasks: dict[str, str] = Field(
        default_factory=lambda: {"query": "retrieval.query", "document": "retrieval.passage"}
    )
    task_models: tuple[str, ...] = ()  # model id prefixes that take `task`
    object_input_models: tuple[str, ...] = ()  # model id prefixes that want inputs as {"text": ...} objects


class Jina(OpenAI):
    name = "jina"
    quirks_model = JinaQuirks

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        quirks = _quirks(target)
        model = target.upstream_model
        body: dict[str, Any] = {
            "model": model,
            "input": [_input(text, model, quirks) for text in request.texts],
            "embedding_type": "float",
        }
        if request.dimensions is not None:
            if not target.model.properties.supports_dimensions:
                raise UnsupportedFeatureError(f"{target.model.id} does not take a dimensions parameter")
            body["dimensions"] = request.dimensions
        if model.startswith(quirks.task_models):
            body["task"] = quirks.embedding_tasks[request.input_type or "document"]
        return UpstreamRequest("POST", f"{target.base_url}/embeddings", JSON_HEADERS, orjson.dumps(body))

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        quirks = _quirks(target)
        model = target.upstream_model
        body: dict[str, Any] = {
            "model": model,
            "query": request.query,
            "documents": [_input(document, model, quirks) for document in request.documents],
            "return_documents": False,  # the runtime maps indexes back to the texts it sent
        }
        if request.top_n is not None:
            body["top_n"] = request.top_n
        return UpstreamRequest("POST", f"{target.base_url}{quirks.rerank_path}", JSON_HEADERS, orjson.dumps(body))

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        error = super().parse_error(target, status, headers, body)
        if error.vendor_code in _QUOTA_CODES:
            return ProviderQuotaExhaustedError(
                f"the account's token balance is used up ({error.vendor_code}, HTTP {status}): top up the API key",
                provider=target.provider.id,
                status_code=status,
                vendor_code=error.vendor_code,
            )
        return error


def _quirks(target: Target) -> JinaQuirks:
    quirks = target.quirks
    return quirks if isinstance(quirks, JinaQuirks) else JinaQuirks()


def _input(text: str, model: str, quirks: JinaQuirks) -> str | dict[str, str]:
    return {"text": text} if model.startswith(quirks.object_input_models) else text
