"""Cohere, Jina AI, NVIDIA ranking and Azure AI Studio through the gateway: the `openai` SDK sees OpenAI's shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import openai
import orjson
import pytest
from aiohttp.test_utils import TestServer

from tests.fakes.cohere import FakeCohere, event, sse_events
from tests.fakes.nvidia import FakeNVIDIA
from tests.support import SECRET

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


async def serve(fake):
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    return server


@pytest.fixture
async def fake_cohere() -> AsyncIterator[FakeCohere]:
    fake = FakeCohere()
    server = await serve(fake)
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def fake_nvidia() -> AsyncIterator[FakeNVIDIA]:
    fake = FakeNVIDIA()
    server = await serve(fake)
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def client(gateway, fake_cohere, fake_nvidia, fake_openai) -> AsyncIterator[openai.AsyncOpenAI]:
    ws = gateway.workspace_id
    add = gateway.services.credentials.create
    await add(
        workspace_id=ws, provider="cohere", values={"api_key": SECRET, "endpoint_url": fake_cohere.url}, validate=False
    )
    await add(
        workspace_id=ws,
        provider="jina",
        values={"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"},
        validate=False,
    )
    await add(
        workspace_id=ws,
        provider="nvidia",
        values={"api_key": SECRET, "ranking_endpoint_url": fake_nvidia.url},
        validate=False,
    )
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


async def rerank(gateway, body: dict) -> dict:
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{gateway.url}/v1/rerank", json=body, headers={"Authorization": f"Bearer {gateway.api_key}"}
        )
        assert response.status == 200, await response.text()
        return await response.json()


# --- Cohere -------------------------------------------------------------------------------------------------------


async def test_cohere_chat_answers_in_openai_shape(client, fake_cohere) -> None:
    answer = await client.chat.completions.create(
        model="cohere/command-a-03-2025", messages=[{"role": "user", "content": "Hi"}], temperature=0.3
    )
    assert answer.choices[0].message.content == "Hello!"
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (9, 3)
    assert fake_cohere.last.path == "/v2/chat"
    assert fake_cohere.last.json["temperature"] == 0.3
    assert fake_cohere.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_cohere_stream_arrives_as_chat_completion_chunks_with_usage(client) -> None:
    stream = await client.chat.completions.create(
        model="cohere/command-r-08-2024",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = [], None, None
    async for chunk in stream:
        if chunk.choices:
            text.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        usage = chunk.usage or usage
    assert "".join(text) == "Hello!"
    assert finish == "stop"
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (9, 3)


async def test_cohere_streamed_tool_calls_and_plan_become_openai_tool_call_deltas(client) -> None:
    stream = await client.chat.completions.create(
        model="cohere/command-a-plus-05-2026",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        stream=True,
    )
    arguments, names, finish = [], [], None
    async for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            names.append(delta.function.name)
            arguments.append(delta.function.arguments or "")
        if chunk.choices:
            finish = chunk.choices[0].finish_reason or finish
    assert [n for n in names if n] == ["get_weather"]
    assert orjson.loads("".join(arguments)) == {"q": "x"}
    assert finish == "tool_calls"


async def test_cohere_error_inside_the_stream_ends_the_openai_stream_with_an_error(client, fake_cohere) -> None:
    fake_cohere.stream(
        sse_events(
            event("content-delta", index=0, delta={"message": {"content": {"text": "Half"}}}),
            event("message-end", delta={"finish_reason": "ERROR", "error": "the model crashed"}),
        )
    )
    stream = await client.chat.completions.create(
        model="cohere/command-a-03-2025", messages=[{"role": "user", "content": "Hi"}], stream=True
    )
    received = []
    with pytest.raises(openai.APIError, match="the model crashed"):
        async for chunk in stream:
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "".join(received) == "Half"


async def test_cohere_embeddings_and_rerank_in_openai_shape(client, gateway, fake_cohere) -> None:
    embedded = await client.embeddings.create(model="cohere/embed-v4.0", input=["a", "b"], encoding_format="float")
    assert [len(d.embedding) for d in embedded.data] == [4, 4]
    assert fake_cohere.last.json["input_type"] == "search_document"

    body = await rerank(
        gateway, {"model": "cohere/rerank-v3.5", "query": "q", "documents": ["a", "b", "c"], "top_n": 2}
    )
    assert [r["index"] for r in body["results"]] == [2, 1]
    assert fake_cohere.last.path == "/v2/rerank"


async def test_a_refused_cohere_key_is_an_openai_shaped_upstream_error(client, fake_cohere) -> None:
    fake_cohere.fail(498, "invalid api token")
    with pytest.raises(openai.APIStatusError) as caught:
        await client.chat.completions.create(
            model="cohere/command-a-03-2025", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 502  # our stored key was refused, not the caller's
    assert "invalid api token" in str(caught.value)


# --- Jina, NVIDIA ranking, Azure AI Studio ---------------------------------------------------------------------------


async def test_jina_embeddings_and_rerank_in_openai_shape(client, gateway, fake_openai) -> None:
    embedded = await client.embeddings.create(model="jina/jina-embeddings-v3", input=["a"], encoding_format="float")
    assert len(embedded.data) == 1
    assert fake_openai.last.json["task"] == "retrieval.passage"

    body = await rerank(gateway, {"model": "jina/jina-reranker-v3", "query": "q", "documents": ["a", "b"]})
    assert [r["index"] for r in body["results"]] == [1, 0]


async def test_nvidia_ranking_answers_probabilities_in_openai_shape(client, gateway, fake_nvidia) -> None:
    body = await rerank(
        gateway,
        {"model": "nvidia/nvidia/llama-nemotron-rerank-1b-v2", "query": "q", "documents": ["a", "b", "c"], "top_n": 2},
    )
    assert [r["index"] for r in body["results"]] == [2, 1]
    assert all(0 < r["relevance_score"] < 1 for r in body["results"])
    assert fake_nvidia.last.path == "/retrieval/nvidia/llama-nemotron-rerank-1b-v2/reranking"


async def test_azure_ai_studio_chat_through_the_gateway(client, gateway, fake_openai) -> None:
    await gateway.services.models.add_custom(
        workspace_id=gateway.workspace_id,
        provider="azure_ai_studio",
        model="mistral-large-2411",
        model_type="llm",
        values={"endpoint_url": f"{fake_openai.url}/v1", "api_key": SECRET, "function_calling_type": "tool_call"},
        validate=False,
    )
    answer = await client.chat.completions.create(
        model="azure_ai_studio/mistral-large-2411",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        extra_body={"safe_prompt": True},
    )
    assert answer.choices[0].message.tool_calls[0].function.name == "get_weather"
    assert fake_openai.last.query == {"api-version": "2024-05-01-preview"}
    assert fake_openai.last.headers["api-key"] == SECRET
    assert fake_openai.last.headers["extra-parameters"] == "pass-through"
    assert fake_openai.last.json["safe_prompt"] is True
