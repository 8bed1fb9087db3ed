"""Text Embeddings Inference (TEI) native routes: `/embed` and `/rerank`.

Shapes from TEI's OpenAPI document (1.7-1.9, 2026-11) and held to the `huggingface_hub` SDK, whose
`feature_extraction` sends the same `/embed` body. A TEI instance serves one model, an embedder or a
reranker; the other route answers 424. Token counts come only in response headers (`x-compute-tokens`),
which protocols do not see, so usage is left for the runtime to estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from modelyard.errors import UpstreamError
from modelyard.protocols.base import JSON_HEADERS, Target, UpstreamRequest, WireProtocol
from modelyard.protocols.openai.responses import reading
from modelyard.protocols.plain import body_error, error_from_data
from modelyard.types import EmbeddingRequest, EmbeddingResult, RerankHit, RerankRequest, RerankResult
from modelyard.types.usage import UNREPORTED

# TGI and TEI `error_type`s, for errors that arrive after HTTP 200 (in a stream); documented statuses otherwise.
HF_STATUS_OF_ERROR_TYPE: Mapping[str, int] = {
    "overloaded": 429,
    "validation": 422,
    "tokenizer": 422,
    "empty": 400,
    "backend": 424,
    "generation": 424,
    "incomplete_generation": 500,
    "unhealthy": 503,
}


def hf_error(target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
    """TGI/TEI `{"error", "error_type"}`, or the OpenAI-style bodies of their `/v1` routes and the HF router."""
    return body_error(target, status, headers, body, status_of_code=HF_STATUS_OF_ERROR_TYPE, failing_statuses=(424,))


def hf_error_in_answer(target: Target, data: Any, *, in_stream: bool = False) -> UpstreamError:
    """An error object inside an HTTP 200 answer or stream; its `error_type` says what kind."""
    return error_from_data(
        target, 200, {}, data, status_of_code=HF_STATUS_OF_ERROR_TYPE, failing_statuses=(424,), in_stream=in_stream
    )


def vectors_of(target: Target, data: Any) -> tuple[list[float], ...]:
    """A feature-extraction answer: one pooled vector per input, as TEI and sentence-transformers give."""
    if isinstance(data, dict) and data.get("error"):
        raise hf_error_in_answer(target, data)
    if not isinstance(data, list):
        raise TypeError(f"expected a list of vectors, got {type(data).__name__}")
    vectors = []
    for vector in data:
        if vector and isinstance(vector[0], list):
            raise ValueError("the model answered token-level embeddings; deploy a pooled (sentence) embedding model")
        vectors.append([float(x) for x in vector])
    return tuple(vectors)


class TEI(WireProtocol):
    name = "tei"

    def build_embeddings(self, target: Target, request: EmbeddingRequest) -> UpstreamRequest:
        # `truncate` is left to the server's default (an error on over-long input unless it runs with
        # --auto-truncate): cutting a document silently would hide that its tail was never embedded.
        body: dict[str, Any] = {"inputs": list(request.texts)}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions  # Matryoshka models, TEI 1.9 and later
        return UpstreamRequest("POST", f"{target.base_url}/embed", JSON_HEADERS, orjson.dumps(body))

    def parse_embeddings(self, target: Target, body: bytes) -> EmbeddingResult:
        with reading(target, "embeddings"):
            return EmbeddingResult(
                model=target.model.id, vectors=vectors_of(target, orjson.loads(body)), usage=UNREPORTED
            )

    def build_rerank(self, target: Target, request: RerankRequest) -> UpstreamRequest:
        # raw_scores false: scores pass through a sigmoid into [0, 1], comparable with a score threshold.
        body = {"query": request.query, "texts": list(request.documents), "raw_scores": False, "return_text": False}
        return UpstreamRequest("POST", f"{target.base_url}/rerank", JSON_HEADERS, orjson.dumps(body))

    def parse_rerank(self, target: Target, request: RerankRequest, body: bytes) -> RerankResult:
        with reading(target, "rerank"):
            data = orjson.loads(body)
            if isinstance(data, dict) and data.get("error"):
                raise hf_error_in_answer(target, data)
            hits = [
                RerankHit(
                    index=int(item["index"]), score=float(item["score"]), document=request.documents[item["index"]]
                )
                for item in data
            ]
            hits.sort(key=lambda hit: hit.score, reverse=True)
            return RerankResult(model=target.model.id, hits=tuple(hits), usage=UNREPORTED)

    def parse_error(self, target: Target, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return hf_error(target, status, headers, body)
