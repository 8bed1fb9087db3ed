"""Azure AI Studio (Azure AI model inference) through the openai protocol's `azure-inference` url style.

Held to the vendor's own code: the `azure-ai-inference` SDK (1.0.0b9) parses the fake's answers, and for the
same logical call our request matches the SDK's: URL, api-version, both auth headers, `extra-parameters`, body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from azure.ai.inference.aio import ChatCompletionsClient, EmbeddingsClient
from azure.ai.inference.models import ChatCompletionsToolDefinition, FunctionDefinition
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from modelyard.errors import UpstreamAuthError, UpstreamRateLimitError
from modelyard.protocols.openai import OpenAI, OpenAIQuirks
from modelyard.types import ChatRequest, Message, RerankRequest
from tests.fakes.openai import chat_chunk, sse, usage_chunk
from tests.protocols.targets import target
from tests.support import SECRET

AZURE = OpenAIQuirks(
    url_style="azure-inference", default_api_version="2024-05-01-preview", supports_stream_options=False
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
SDK_WEATHER = ChatCompletionsToolDefinition(
    function=FunctionDefinition(
        name="get_weather",
        description="Weather for a city",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}},
    )
)


def azure_target(model_type: str = "llm", **credentials: str):
    values = {"api_key": SECRET, "endpoint_url": "https://res.services.ai.azure.com/models", **credentials}
    return target(
        model_type,
        model_id="my-deployment",
        quirks=AZURE,
        base_url="https://res.services.ai.azure.com/models",
        credentials=values,
    )


# --- pure: URLs and headers ----------------------------------------------------------------------------------------


def test_chat_goes_to_the_endpoint_with_api_version_and_the_deployment_as_model() -> None:
    upstream = OpenAI().build_chat(azure_target(), ChatRequest.user_text("Hi"), stream=False)
    assert upstream.url == "https://res.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview"
    assert orjson.loads(upstream.body)["model"] == "my-deployment"
    assert "extra-parameters" not in upstream.headers


def test_extra_body_keys_go_with_the_pass_through_header() -> None:
    openai = OpenAI()
    with_extra = ChatRequest(messages=(Message.user("Hi"),), extra={"top_k": 5})
    upstream = openai.build_chat(azure_target(), with_extra, stream=True)
    assert upstream.headers["extra-parameters"] == "pass-through"
    assert orjson.loads(upstream.body) == {
        "model": "my-deployment",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "top_k": 5,
    }
    # keys OpenAI has and Azure AI model inference does not (user, parallel_tool_calls) count as extra too
    with_user = ChatRequest(messages=(Message.user("Hi"),), user="u-1")
    assert openai.build_chat(azure_target(), with_user, stream=False).headers["extra-parameters"] == "pass-through"


def test_api_version_comes_from_the_credential_when_set() -> None:
    upstream = OpenAI().build_chat(azure_target(api_version="2025-05-01"), ChatRequest.user_text("Hi"), stream=False)
    assert upstream.url.endswith("/chat/completions?api-version=2024-05-01-preview")  # no credential named
    quirks = OpenAIQuirks(url_style="azure-inference", api_version_credential="api_version")
    named = target(quirks=quirks, base_url="https://x.test", credentials={"api_key": "k", "api_version": "2025-05-01"})
    assert OpenAI().build_chat(named, ChatRequest.user_text("Hi"), stream=False).url.endswith("?api-version=2025-05-01")


def test_rerank_goes_to_the_deployment_url_without_api_version() -> None:
    request = RerankRequest("q", ("a", "b"), top_n=1)
    upstream = OpenAI().build_rerank(azure_target("rerank"), request)
    assert upstream.url == "https://res.services.ai.azure.com/models/rerank"
    assert orjson.loads(upstream.body) == {
        "model": "my-deployment",
        "query": "q",
        "documents": ["a", "b"],
        "return_documents": False,
        "top_n": 1,
    }


# --- the SDK as oracle -------------------------------------------------------------------------------------------


@pytest.fixture
def credentials(fake_openai) -> dict[str, str]:
    return {"endpoint_url": f"{fake_openai.url}/v1", "api_key": SECRET, "api_version": "2024-05-01-preview"}


@pytest.fixture
async def chat_sdk(fake_openai) -> AsyncIterator[ChatCompletionsClient]:
    async with ChatCompletionsClient(endpoint=f"{fake_openai.url}/v1", credential=AzureKeyCredential(SECRET)) as client:
        yield client


@pytest.fixture
async def embeddings_sdk(fake_openai) -> AsyncIterator[EmbeddingsClient]:
    async with EmbeddingsClient(endpoint=f"{fake_openai.url}/v1", credential=AzureKeyCredential(SECRET)) as client:
        yield client


def assert_same_request(fake) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    assert ours.query == theirs.query == {"api-version": "2024-05-01-preview"}
    assert ours.json == theirs.json
    for header in ("authorization", "api-key", "extra-parameters"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    assert ours.headers["api-key"] == SECRET


async def test_chat_request_matches_the_sdk_and_the_sdk_reads_the_answer(
    chat_sdk, runtime, fake_openai, credentials
) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    answer = await chat_sdk.complete(
        model="my-deployment", messages=messages, temperature=0.5, top_p=0.9, max_tokens=100, stop=["END"], seed=3
    )
    assert answer.choices[0].message.content == "Hello!"
    assert answer.usage.prompt_tokens == 9
    result = await runtime.chat(
        provider="azure_ai_studio",
        model="my-deployment",
        credentials=credentials,
        messages=messages,
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
        seed=3,
    )
    assert_same_request(fake_openai)
    assert result.content == "Hello!"


async def test_model_extras_match_the_sdk_with_the_pass_through_header(
    chat_sdk, runtime, fake_openai, credentials
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    await chat_sdk.complete(model="my-deployment", messages=messages, model_extras={"top_k": 5, "safe_prompt": True})
    await runtime.chat(
        provider="azure_ai_studio",
        model="my-deployment",
        credentials=credentials,
        messages=messages,
        extra={"top_k": 5, "safe_prompt": True},
    )
    assert_same_request(fake_openai)
    assert fake_openai.last.headers["extra-parameters"] == "pass-through"


async def test_streamed_tool_chat_matches_the_sdk_and_the_sdk_reads_the_stream(
    chat_sdk, runtime, fake_openai, credentials
) -> None:
    values = {**credentials, "function_calling_type": "tool_call", "stream_function_calling": "supported"}
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    stream = await chat_sdk.complete(model="my-deployment", messages=messages, tools=[SDK_WEATHER], stream=True)
    names = [
        u.choices[0].delta.tool_calls[0].function.name
        async for u in stream
        if u.choices and u.choices[0].delta.tool_calls
    ]
    assert names == ["get_weather"]

    ours = await runtime.chat(
        provider="azure_ai_studio",
        model="my-deployment",
        credentials=values,
        messages=messages,
        tools=[WEATHER],
        stream=True,
    )
    result = await ours.collect()
    assert_same_request(fake_openai)
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    assert result.usage.is_estimated  # no stream_options, and this deployment reported no usage


async def test_usage_at_the_end_of_a_stream_is_read_by_both(chat_sdk, runtime, fake_openai, credentials) -> None:
    body = sse(chat_chunk({"role": "assistant", "content": "Hi"}), chat_chunk({}, "stop"), usage_chunk(7, 2))
    fake_openai.stream(body)
    updates = [
        u async for u in await chat_sdk.complete(model="d", messages=[{"role": "user", "content": "x"}], stream=True)
    ]
    assert updates[-1].usage.completion_tokens == 2

    fake_openai.stream(body)
    stream = await runtime.chat(
        provider="azure_ai_studio",
        model="d",
        credentials=credentials,
        messages=[{"role": "user", "content": "x"}],
        stream=True,
    )
    result = await stream.collect()
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (7, 2)


async def test_embeddings_request_matches_the_sdk(embeddings_sdk, runtime, fake_openai, credentials) -> None:
    answer = await embeddings_sdk.embed(model="my-embedder", input=["a", "b"], encoding_format="float")
    assert len(answer.data) == 2
    result = await runtime.embed(
        provider="azure_ai_studio", model="my-embedder", credentials=credentials, texts=["a", "b"]
    )
    assert_same_request(fake_openai)
    assert len(result.vectors) == 2


@pytest.mark.parametrize(
    ("status", "sdk_error", "ours"),
    [(401, ClientAuthenticationError, UpstreamAuthError), (429, HttpResponseError, UpstreamRateLimitError)],
)
async def test_errors_reach_the_sdk_and_us_as_the_same_status(
    chat_sdk, runtime, fake_openai, credentials, status, sdk_error, ours
) -> None:
    fake_openai.fail(status, "no")
    with pytest.raises(sdk_error) as theirs:
        await chat_sdk.complete(model="d", messages=[{"role": "user", "content": "x"}])
    assert theirs.value.status_code == status

    fake_openai.fail(status, "no")
    with pytest.raises(ours):
        await runtime.chat(
            provider="azure_ai_studio", model="d", credentials=credentials, messages=[{"role": "user", "content": "x"}]
        )


async def test_a_cohere_rerank_deployment_is_called_at_its_own_url(runtime, fake_openai, credentials) -> None:
    result = await runtime.rerank(
        provider="azure_ai_studio",
        model="cohere-rerank-v3-5",
        credentials=credentials,
        query="q",
        documents=["a", "b", "c"],
        top_n=2,
    )
    assert fake_openai.last.path == "/v1/rerank"
    assert fake_openai.last.query == {}
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"
    assert [h.index for h in result.hits] == [2, 1]
