"""NVIDIA ranking (R2): where the request goes, what it says, and how logits become scores."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import orjson
import pytest

from modelyard.errors import UpstreamAuthError, UpstreamBadRequestError, UpstreamProtocolError, UpstreamRateLimitError
from modelyard.protocols.nvidia import NVIDIA, NVIDIAQuirks, sigmoid
from modelyard.runtime.bindings import default_bindings
from modelyard.types import RerankRequest
from tests.fakes.loopback import served
from tests.fakes.nvidia import FakeNVIDIA, rankings
from tests.protocols.targets import target
from tests.support import SECRET

nvidia = NVIDIA()
HOSTED = NVIDIAQuirks(
    ranking_base_url="https://ai.api.nvidia.test/v1",
    ranking_base_url_credential="ranking_endpoint_url",
    ranking_path="/retrieval/{model_path}/reranking",
)
REQUEST = RerankRequest("capital of France?", ("Berlin", "Paris", "Rome"), top_n=2)


def ranker(model_id: str = "nvidia/llama-3.2-nv-rerankqa-1b-v2", quirks: NVIDIAQuirks = HOSTED, **credentials: str):
    return target(
        "rerank",
        model_id=model_id,
        quirks=quirks,
        base_url="https://integrate.api.nvidia.test/v1",
        credentials={"api_key": "nvapi-test", **credentials},
    )


@pytest.fixture
async def fake_nvidia() -> AsyncIterator[FakeNVIDIA]:
    async with served(FakeNVIDIA()) as fake:
        yield fake


# --- requests ------------------------------------------------------------------------------------------------------


def test_hosted_ranking_goes_to_the_models_own_url_with_dots_as_underscores() -> None:
    upstream = nvidia.build_rerank(ranker(), REQUEST)
    assert upstream.url == "https://ai.api.nvidia.test/v1/retrieval/nvidia/llama-3_2-nv-rerankqa-1b-v2/reranking"
    assert orjson.loads(upstream.body) == {
        "model": "nvidia/llama-3.2-nv-rerankqa-1b-v2",
        "query": {"text": "capital of France?"},
        "passages": [{"text": "Berlin"}, {"text": "Paris"}, {"text": "Rome"}],
        "truncate": "END",
    }


def test_a_ranking_endpoint_credential_redirects_ranking_and_a_nim_uses_its_base_url() -> None:
    proxied = ranker(ranking_endpoint_url="https://proxy.test/nv/")
    assert nvidia.build_rerank(proxied, REQUEST).url.startswith("https://proxy.test/nv/retrieval/nvidia/")
    nim = ranker("nvidia/llama-nemotron-rerank-1b-v2", quirks=NVIDIAQuirks())
    assert nvidia.build_rerank(nim, REQUEST).url == "https://integrate.api.nvidia.test/v1/ranking"


def test_the_shipped_files_point_hosted_ranking_at_ai_api_nvidia_com_and_nims_at_ranking() -> None:
    hosted = default_bindings()["nvidia"].quirks
    assert isinstance(hosted, NVIDIAQuirks)
    assert hosted.ranking_base_url == "https://ai.api.nvidia.com/v1"
    assert hosted.ranking_path == "/retrieval/{model_path}/reranking"
    nim = default_bindings()["nvidia_nim"].quirks
    assert isinstance(nim, NVIDIAQuirks)
    assert (nim.ranking_base_url, nim.ranking_path) == (None, "/ranking")


# --- answers -------------------------------------------------------------------------------------------------------


def test_logits_become_sigmoid_scores_best_first() -> None:
    result = nvidia.parse_rerank(ranker(), REQUEST, orjson.dumps(rankings(-2.5, 4.0, 0.0)))
    assert [(h.index, h.document) for h in result.hits] == [(1, "Paris"), (2, "Rome"), (0, "Berlin")]
    assert [round(h.score, 4) for h in result.hits] == [0.982, 0.5, 0.0759]
    assert result.usage.is_estimated  # ranking reports no usage; the runtime estimates it


def test_sigmoid_is_stable_for_extreme_logits_and_keeps_the_order() -> None:
    assert sigmoid(1000.0) == 1.0
    assert sigmoid(-1000.0) == 0.0
    assert sigmoid(-30.0) < sigmoid(-29.0) < sigmoid(0.0) == 0.5
    assert math.isclose(sigmoid(2.0) + sigmoid(-2.0), 1.0)


def test_reported_usage_is_kept() -> None:
    body = {**rankings(1.0, 2.0, 3.0), "usage": {"prompt_tokens": 42, "total_tokens": 42}}
    assert nvidia.parse_rerank(ranker(), REQUEST, orjson.dumps(body)).usage.prompt_tokens == 42


@pytest.mark.parametrize("body", [b"{}", b'{"rankings": [{"index": 0}]}', b'{"rankings": [{"index": 9, "logit": 1}]}'])
def test_unreadable_rankings_are_a_protocol_error(body: bytes) -> None:
    with pytest.raises(UpstreamProtocolError, match="unreadable ranking response"):
        nvidia.parse_rerank(ranker(), REQUEST, body)


@pytest.mark.parametrize(
    ("status", "expected"), [(401, UpstreamAuthError), (404, UpstreamBadRequestError), (429, UpstreamRateLimitError)]
)
def test_problem_json_errors_map_into_the_hierarchy(status, expected) -> None:
    body = orjson.dumps({"type": "about:blank", "status": status, "title": "Error", "detail": "Function not found"})
    error = nvidia.parse_error(ranker(), status, {}, body)
    assert type(error) is expected
    assert "Function not found" in str(error)


# --- through the runtime ---------------------------------------------------------------------------------------------


async def test_hosted_ranking_through_the_runtime_applies_threshold_and_top_n_on_probabilities(
    runtime, fake_nvidia
) -> None:
    credentials = {"api_key": SECRET, "ranking_endpoint_url": fake_nvidia.url}
    result = await runtime.rerank(
        provider="nvidia",
        model="nvidia/llama-nemotron-rerank-1b-v2",
        credentials=credentials,
        query="q",
        documents=["a", "b", "c", "d"],  # the fake's logits: -3, -1, 1, 3
        score_threshold=0.5,
        top_n=1,
    )
    assert fake_nvidia.last.path == "/retrieval/nvidia/llama-nemotron-rerank-1b-v2/reranking"
    assert fake_nvidia.last.headers["authorization"] == f"Bearer {SECRET}"
    assert [h.document for h in result.hits] == ["d"]
    assert math.isclose(result.hits[0].score, sigmoid(3.0))

    everything = await runtime.rerank(
        provider="nvidia",
        model="nvidia/llama-nemotron-rerank-1b-v2",
        credentials=credentials,
        query="q",
        documents=["a", "b", "c", "d"],
        score_threshold=0.5,
    )
    assert [h.document for h in everything.hits] == ["d", "c"]  # sigmoid(1) ≈ 0.73 passes, sigmoid(-1) does not


async def test_a_ranking_nim_through_the_runtime(runtime, fake_nvidia) -> None:
    result = await runtime.rerank(
        provider="nvidia_nim",
        model="nvidia/llama-nemotron-rerank-1b-v2",
        credentials={"endpoint_url": f"{fake_nvidia.url}/v1"},
        query="q",
        documents=["a", "b"],
    )
    assert fake_nvidia.last.path == "/v1/ranking"
    assert "authorization" not in fake_nvidia.last.headers
    assert [h.index for h in result.hits] == [1, 0]


async def test_chat_on_the_nvidia_protocol_is_still_openai(runtime, fake_nvidia) -> None:
    result = await runtime.chat(
        provider="nvidia",
        model="meta/llama-3.3-70b-instruct",
        credentials={"api_key": SECRET},
        base_url=f"{fake_nvidia.url}/v1",
        messages=[{"role": "user", "content": "Hi"}],
    )
    assert result.content == "Hello!"
    assert fake_nvidia.last.path == "/v1/chat/completions"


async def test_a_ranking_error_from_the_host_is_raised(runtime, fake_nvidia) -> None:
    fake_nvidia.fail(404, "Function 'x' not found for account")
    with pytest.raises(UpstreamBadRequestError, match="not found for account"):
        await runtime.rerank(
            provider="nvidia",
            model="nvidia/llama-nemotron-rerank-1b-v2",
            credentials={"api_key": SECRET, "ranking_endpoint_url": fake_nvidia.url},
            query="q",
            documents=["a"],
        )
