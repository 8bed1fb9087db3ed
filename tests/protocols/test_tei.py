"""Text Embeddings Inference: `/embed` and `/rerank` on bytes, against TEI's documented shapes, and `/embed` held to
the `huggingface_hub` SDK's feature_extraction (the SDK has no rerank call: that one is held to TEI's OpenAPI)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from huggingface_hub import AsyncInferenceClient

from modelyard.errors import (
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.tei import TEI
from modelyard.types import EmbeddingRequest, RerankRequest
from modelyard.types.usage import UNREPORTED
from tests.fakes.huggingface import FakeHuggingFace
from tests.fakes.registry import FAKES, serving
from tests.protocols.targets import target
from tests.support import SECRET

protocol = TEI()


def tei_target(model_type: str = "text-embedding"):
    return target(model_type, protocol="tei", base_url="http://tei.test:8080")


@pytest.fixture
async def fake() -> AsyncIterator[FakeHuggingFace]:
    async with serving(FAKES["tei"]) as upstream:
        yield upstream


def test_embed_sends_inputs_and_reads_the_bare_vector_list() -> None:
    sent = protocol.build_embeddings(tei_target(), EmbeddingRequest(("a", "b"), dimensions=256))
    assert sent.url == "http://tei.test:8080/embed"
    assert orjson.loads(sent.body) == {"inputs": ["a", "b"], "dimensions": 256}
    result = protocol.parse_embeddings(tei_target(), b"[[0.5, -0.5], [1, 0]]")
    assert result.vectors == ([0.5, -0.5], [1.0, 0.0])
    assert result.usage is UNREPORTED  # TEI counts tokens only in headers


def test_rerank_sends_texts_and_maps_scores_back_to_documents_best_first() -> None:
    request = RerankRequest("capital of France?", ("Berlin", "Paris", "Rome"))
    sent = protocol.build_rerank(tei_target("rerank"), request)
    assert sent.url == "http://tei.test:8080/rerank"
    assert orjson.loads(sent.body) == {
        "query": "capital of France?",
        "texts": ["Berlin", "Paris", "Rome"],
        "raw_scores": False,
        "return_text": False,
    }
    answer = [{"index": 2, "score": 0.01}, {"index": 1, "score": 0.98}, {"index": 0, "score": 0.02}]
    result = protocol.parse_rerank(tei_target("rerank"), request, orjson.dumps(answer))
    assert [(h.index, h.document) for h in result.hits] == [(1, "Paris"), (0, "Berlin"), (2, "Rome")]


@pytest.mark.parametrize("body", [b"{}", b'{"embeddings": 1}', b"nope", b'[["x"]]'])
def test_unreadable_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(UpstreamProtocolError, match=r"^\[acme\] unreadable embeddings response"):
        protocol.parse_embeddings(tei_target(), body)


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (401, "Unauthorized", UpstreamAuthError),
        (413, "validation", UpstreamBadRequestError),  # more inputs than --max-client-batch-size
        (422, "tokenizer", UpstreamBadRequestError),
        (424, "backend", UpstreamUnavailableError),  # the route of the other model kind, or the model failed
        (429, "overloaded", UpstreamRateLimitError),
        (503, "unhealthy", UpstreamUnavailableError),
    ],
)
def test_documented_errors_map_into_the_hierarchy(status, error_type, expected) -> None:
    body = orjson.dumps({"error": "Batch size error", "error_type": error_type})
    error = protocol.parse_error(tei_target(), status, {}, body)
    assert type(error) is expected
    assert error.status_code == status
    assert "Batch size error" in str(error)


async def test_embed_request_matches_the_sdk_feature_extraction(fake, runtime) -> None:
    sdk = AsyncInferenceClient(model=f"{fake.url}/embed", token=SECRET)
    vectors = await sdk.feature_extraction(["a", "b", "c"])
    await sdk.close()
    assert vectors.shape == (3, 4)
    result = await runtime.embed(
        provider="huggingface_tei",
        model="bge-m3",
        credentials={"server_url": fake.url, "api_key": SECRET, "max_chunks": "3"},
        texts=["a", "b", "c"],
    )
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == "/embed"
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert len(result.vectors) == 3


async def test_large_embedding_calls_are_split_at_the_batch_size(fake, runtime) -> None:
    result = await runtime.embed(
        provider="huggingface_tei",
        model="bge-m3",
        credentials={"server_url": fake.url, "max_chunks": "2"},
        texts=["a", "b", "c", "d", "e"],
    )
    assert [len(r.json["inputs"]) for r in fake.requests] == [2, 2, 1]
    assert len(result.vectors) == 5
    assert result.usage.is_estimated


async def test_rerank_round_trip_honours_top_n(fake, runtime) -> None:
    result = await runtime.rerank(
        provider="huggingface_tei",
        model="bge-reranker-v2-m3",
        credentials={"server_url": fake.url},
        query="q",
        documents=["a", "b", "c"],
        top_n=2,
    )
    assert [h.index for h in result.hits] == [2, 1]
    assert fake.last.path == "/rerank"
