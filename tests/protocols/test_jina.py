"""Jina AI: embeddings with `task` for the task-tuned models, object inputs for multimodal ones, R1 rerank."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import (
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.jina import Jina, JinaQuirks
from modelyard.runtime.bindings import default_bindings
from modelyard.types import EmbeddingRequest, RerankRequest
from tests.protocols.targets import target
from tests.support import SECRET

jina = Jina()
QUIRKS = JinaQuirks(
    task_models=("jina-embeddings-v3", "jina-embeddings-v4", "jina-embeddings-v5"),
    object_input_models=("jina-embeddings-v4", "jina-clip", "jina-reranker-m0"),
)


def jina_target(model_id: str, model_type: str = "text-embedding", **properties):
    return target(
        model_type, model_id=model_id, quirks=QUIRKS, base_url="https://api.jina.test/v1", properties=properties
    )


def sent(upstream) -> dict:
    return orjson.loads(upstream.body)


def test_the_shipped_provider_file_names_the_task_and_multimodal_models() -> None:
    quirks = default_bindings()["jina"].quirks
    assert isinstance(quirks, JinaQuirks)
    assert quirks.task_models == QUIRKS.task_models
    assert quirks.object_input_models == QUIRKS.object_input_models


@pytest.mark.parametrize(
    ("input_type", "task"),
    [("query", "retrieval.query"), ("document", "retrieval.passage"), (None, "retrieval.passage")],
)
def test_task_tuned_models_get_the_retrieval_task_for_queries_and_documents(input_type, task) -> None:
    upstream = jina.build_embeddings(
        jina_target("jina-embeddings-v3"), EmbeddingRequest(("a", "b"), input_type=input_type)
    )
    assert upstream.url == "https://api.jina.test/v1/embeddings"
    assert sent(upstream) == {
        "model": "jina-embeddings-v3",
        "input": ["a", "b"],
        "embedding_type": "float",
        "task": task,
    }


def test_multimodal_models_take_text_objects_and_only_task_models_get_a_task() -> None:
    v4 = sent(jina.build_embeddings(jina_target("jina-embeddings-v4"), EmbeddingRequest(("a",), input_type="query")))
    assert v4["input"] == [{"text": "a"}]
    assert v4["task"] == "retrieval.query"

    clip = sent(jina.build_embeddings(jina_target("jina-clip-v2"), EmbeddingRequest(("a",), input_type="query")))
    assert clip["input"] == [{"text": "a"}]
    assert "task" not in clip


def test_dimensions_are_sent_only_to_models_that_take_them() -> None:
    flexible = jina_target("jina-embeddings-v5-text-small", supports_dimensions=True)
    assert sent(jina.build_embeddings(flexible, EmbeddingRequest(("a",), dimensions=256)))["dimensions"] == 256
    with pytest.raises(UnsupportedFeatureError):
        jina.build_embeddings(jina_target("jina-embeddings-v2-base-en"), EmbeddingRequest(("a",), dimensions=256))


def test_rerank_asks_for_no_documents_back_and_wraps_them_for_the_multimodal_reranker() -> None:
    request = RerankRequest("capital?", ("Paris", "Rome"), top_n=1)
    text = jina.build_rerank(jina_target("jina-reranker-v3", "rerank"), request)
    assert text.url == "https://api.jina.test/v1/rerank"
    assert sent(text) == {
        "model": "jina-reranker-v3",
        "query": "capital?",
        "documents": ["Paris", "Rome"],
        "return_documents": False,
        "top_n": 1,
    }
    multimodal = sent(jina.build_rerank(jina_target("jina-reranker-m0", "rerank"), request))
    assert multimodal["documents"] == [{"text": "Paris"}, {"text": "Rome"}]
    assert multimodal["query"] == "capital?"


def test_jina_answers_are_read_as_openai_shapes() -> None:
    embedded = {
        "model": "jina-embeddings-v3",
        "object": "list",
        "usage": {"total_tokens": 5, "prompt_tokens": 5},
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
    }
    result = jina.parse_embeddings(jina_target("jina-embeddings-v3"), orjson.dumps(embedded))
    assert result.vectors == ([0.1, 0.2],)
    assert result.usage.prompt_tokens == 5

    ranked = {
        "model": "jina-reranker-v3",
        "usage": {"total_tokens": 12},
        "results": [
            {"index": 1, "relevance_score": 0.2, "document": {"text": "Rome"}},
            {"index": 0, "relevance_score": 0.9, "document": {"text": "Paris"}},
        ],
    }
    request = RerankRequest("capital?", ("Paris", "Rome"))
    hits = jina.parse_rerank(jina_target("jina-reranker-v3", "rerank"), request, orjson.dumps(ranked))
    assert [(h.index, h.document, h.score) for h in hits.hits] == [(0, "Paris", 0.9), (1, "Rome", 0.2)]
    assert hits.usage.prompt_tokens == 12


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, {"detail": "Invalid API key"}, UpstreamAuthError),
        (
            403,
            {"detail": "Insufficient account balance", "code": "AUTHZ_INSUFFICIENT_BALANCE"},
            ProviderQuotaExhaustedError,
        ),
        (
            403,
            {"error": {"message": "Insufficient account balance", "code": "AUTHZ_INSUFFICIENT_BALANCE"}},
            ProviderQuotaExhaustedError,
        ),
        (400, {"detail": "Model 'x' not found", "code": "INPUT_MODEL_NOT_FOUND"}, UpstreamBadRequestError),
        (422, {"detail": [{"loc": ["body", "input"], "msg": "field required"}]}, UpstreamBadRequestError),
        (429, {"detail": "Rate limit exceeded"}, UpstreamRateLimitError),
        (500, {"detail": "Internal error"}, UpstreamUnavailableError),
    ],
)
def test_jina_errors_map_into_the_hierarchy(status, body, expected) -> None:
    error = jina.parse_error(jina_target("jina-embeddings-v3"), status, {}, orjson.dumps(body))
    assert type(error) is expected
    assert error.status_code == status


async def test_the_runtime_sends_the_query_task_through_the_catalog(runtime, fake_openai) -> None:
    credentials = {"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"}
    result = await runtime.embed(
        provider="jina", model="jina-embeddings-v3", credentials=credentials, texts=["a"], input_type="query"
    )
    assert fake_openai.last.json["task"] == "retrieval.query"
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"
    assert result.vectors and not result.usage.is_estimated

    ranked = await runtime.rerank(
        provider="jina", model="jina-reranker-m0", credentials=credentials, query="q", documents=["a", "b"], top_n=1
    )
    assert fake_openai.last.path == "/v1/rerank"
    assert [h.document for h in ranked.hits] == ["b"]
