"""The Cohere fake and our adapter held to the vendor's own code: the `cohere` SDK 7.3.1 (AsyncClientV2).

The SDK must parse everything the fake serves, and for the same logical call our request must match the SDK's,
field for field. The SDK's models are lenient (unchecked) when it parses, so each answer is also validated
strictly against them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import cohere
import httpx
import orjson
import pydantic
import pytest
from cohere.v2.types import V2ChatResponse, V2ChatStreamResponse, V2RerankResponse

from modelyard.errors import (
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.openai import ingress
from modelyard.protocols.sse import SSEDecoder
from tests.fakes.cohere import FakeCohere, event, sse_events, text_stream, tool_call, tool_stream
from tests.fakes.loopback import served
from tests.support import SECRET

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def fake_cohere() -> AsyncIterator[FakeCohere]:
    async with served(FakeCohere()) as fake:
        yield fake


@pytest.fixture
async def sdk(fake_cohere) -> AsyncIterator[cohere.AsyncClientV2]:
    async with httpx.AsyncClient() as http:
        yield cohere.AsyncClientV2(api_key=SECRET, base_url=fake_cohere.url, max_retries=0, httpx_client=http)


@pytest.fixture
def credentials(fake_cohere) -> dict[str, str]:
    return {"api_key": SECRET, "endpoint_url": fake_cohere.url}


def assert_same_request(fake) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {SECRET}"
    assert ours.headers["content-type"].split(";")[0] == theirs.headers["content-type"].split(";")[0]


def assert_sdk_skipped_nothing(caplog) -> None:
    skipped = [r.getMessage() for r in caplog.records if "SSE event" in r.getMessage()]
    assert skipped == [], "the SDK could not read an event the fake sent"


# --- the SDK reads what the fake serves --------------------------------------------------------------------------


async def test_sdk_parses_a_chat_answer_with_tool_calls(sdk, fake_cohere) -> None:
    answer = await sdk.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "Hi"}], tools=[WEATHER])
    assert answer.finish_reason == "TOOL_CALL"
    assert answer.message.tool_calls[0].function.name == "get_weather"
    assert answer.message.tool_plan
    assert answer.usage.billed_units.input_tokens == 9
    async with httpx.AsyncClient() as http:
        for body in ({"model": "m", "messages": []}, {"model": "m", "messages": [], "tools": [WEATHER]}):
            V2ChatResponse.model_validate((await http.post(f"{fake_cohere.url}/v2/chat", json=body)).json())


async def test_sdk_parses_text_and_tool_streams_event_by_event(sdk, fake_cohere, caplog) -> None:
    texts = []
    async for update in sdk.chat_stream(model="command-a-03-2025", messages=[{"role": "user", "content": "Hi"}]):
        if update.type == "content-delta":
            texts.append(update.delta.message.content.text)
        if update.type == "message-end":
            assert update.delta.finish_reason == "COMPLETE"
            assert update.delta.usage.billed_units.output_tokens == 3
    assert "".join(texts) == "Hello!"

    kinds, arguments = [], []
    async for update in sdk.chat_stream(
        model="command-a-03-2025", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER]
    ):
        kinds.append(update.type)
        if update.type == "tool-call-delta":
            arguments.append(update.delta.message.tool_calls.function.arguments)
    assert kinds[:3] == ["message-start", "tool-plan-delta", "tool-call-start"]
    assert kinds[-1] == "message-end"
    assert orjson.loads("".join(arguments)) == {"q": "x"}
    assert_sdk_skipped_nothing(caplog)


@pytest.mark.parametrize("stream", [text_stream("Hel", "lo!"), tool_stream("get_weather")])
def test_every_streamed_event_validates_strictly_against_the_sdk_models(stream: bytes) -> None:
    adapter = pydantic.TypeAdapter(V2ChatStreamResponse)
    for decoded in SSEDecoder().feed(stream):
        parsed = adapter.validate_python(orjson.loads(decoded.data))
        assert parsed.type == decoded.event


async def test_sdk_parses_embed_and_rerank_answers(sdk, fake_cohere) -> None:
    embedded = await sdk.embed(
        model="embed-v4.0", texts=["a", "b"], input_type="search_document", embedding_types=["float"]
    )
    assert len(embedded.embeddings.float_) == 2
    assert embedded.meta.billed_units.input_tokens == 2

    ranked = await sdk.rerank(model="rerank-v3.5", query="q", documents=["a", "b", "c"], top_n=2)
    assert [r.index for r in ranked.results] == [2, 1]
    async with httpx.AsyncClient() as http:
        raw = await http.post(f"{fake_cohere.url}/v2/rerank", json={"model": "m", "query": "q", "documents": ["a"]})
    V2RerankResponse.model_validate(raw.json())


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(sdk, runtime, fake_cohere, credentials) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    await sdk.chat(
        model="command-a-03-2025",
        messages=messages,
        temperature=0.5,
        p=0.9,
        k=40,
        max_tokens=100,
        stop_sequences=["END"],
        seed=3,
        frequency_penalty=0.2,
        presence_penalty=0.1,
    )
    await runtime.chat(
        provider="cohere",
        model="command-a-03-2025",
        credentials=credentials,
        messages=messages,
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
        seed=3,
        frequency_penalty=0.2,
        presence_penalty=0.1,
        extra={"top_k": 40},
    )
    assert_same_request(fake_cohere)


async def test_streamed_tool_chat_request_matches_the_sdk(sdk, runtime, fake_cohere, credentials) -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    async for _ in sdk.chat_stream(
        model="command-a-plus-05-2026", messages=messages, tools=[WEATHER], tool_choice="REQUIRED"
    ):
        pass
    stream = await runtime.chat(
        provider="cohere",
        model="command-a-plus-05-2026",
        credentials=credentials,
        messages=messages,
        tools=[WEATHER],
        tool_choice="required",
        stream=True,
    )
    result = await stream.collect()
    assert_same_request(fake_cohere)
    assert [(c.name, orjson.loads(c.arguments)) for c in result.tool_calls] == [("get_weather", {"q": "x"})]
    assert result.reasoning == "I will look."
    assert result.finish_reason == "tool_calls"


async def test_vision_and_json_schema_request_matches_the_sdk(sdk, runtime, fake_cohere, credentials) -> None:
    image = {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Describe"}, {"type": "image_url", "image_url": image}]}
    ]
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
    await sdk.chat(
        model="command-a-plus-05-2026",
        messages=messages,
        response_format={"type": "json_object", "json_schema": schema},
    )
    response_format = {"type": "json_schema", "json_schema": {"name": "caption", "schema": schema}}
    request = ingress.chat_request({"messages": messages, "response_format": response_format})
    await runtime.chat(provider="cohere", model="command-a-plus-05-2026", credentials=credentials, request=request)
    assert_same_request(fake_cohere)


async def test_tool_result_turn_matches_the_sdk(sdk, runtime, fake_cohere, credentials) -> None:
    call = tool_call("call_9", "get_weather", '{"city":"Oslo"}')
    theirs = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [call], "tool_plan": "I will check Oslo."},
        {"role": "tool", "tool_call_id": "call_9", "content": "-3C"},
    ]
    ours = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [call], "reasoning_content": "I will check Oslo."},
        {"role": "tool", "tool_call_id": "call_9", "content": "-3C"},
    ]
    await sdk.chat(model="command-r7b-12-2024", messages=theirs, tools=[WEATHER])
    await runtime.chat(
        provider="cohere", model="command-r7b-12-2024", credentials=credentials, messages=ours, tools=[WEATHER]
    )
    assert_same_request(fake_cohere)


async def test_embed_request_matches_the_sdk(sdk, runtime, fake_cohere, credentials) -> None:
    await sdk.embed(
        model="embed-v4.0", texts=["a", "b"], input_type="search_query", embedding_types=["float"], output_dimension=256
    )
    result = await runtime.embed(
        provider="cohere",
        model="embed-v4.0",
        credentials=credentials,
        texts=["a", "b"],
        dimensions=256,
        input_type="query",
    )
    assert_same_request(fake_cohere)
    assert [len(v) for v in result.vectors] == [256, 256]
    assert result.usage.prompt_tokens == 2
    assert result.usage.total_price > 0


async def test_rerank_request_matches_the_sdk(sdk, runtime, fake_cohere, credentials) -> None:
    await sdk.rerank(model="rerank-v3.5", query="capital?", documents=["Paris", "Rome", "Oslo"], top_n=2)
    result = await runtime.rerank(
        provider="cohere",
        model="rerank-v3.5",
        credentials=credentials,
        query="capital?",
        documents=["Paris", "Rome", "Oslo"],
        top_n=2,
    )
    assert_same_request(fake_cohere)
    assert [(h.index, h.document) for h in result.hits] == [(2, "Oslo"), (1, "Rome")]
    assert result.usage.total_price == Decimal("0.002")  # $2 per 1,000 searches


# --- the same failures, as the SDK and as we see them ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "sdk_error", "ours"),
    [
        (400, cohere.BadRequestError, UpstreamBadRequestError),
        (401, cohere.UnauthorizedError, UpstreamAuthError),
        (403, cohere.ForbiddenError, UpstreamAuthError),
        (404, cohere.NotFoundError, UpstreamBadRequestError),
        (422, cohere.UnprocessableEntityError, UpstreamBadRequestError),
        (429, cohere.TooManyRequestsError, UpstreamRateLimitError),
        (498, cohere.InvalidTokenError, UpstreamAuthError),
        (499, cohere.ClientClosedRequestError, UpstreamConnectionError),
        (500, cohere.InternalServerError, UpstreamUnavailableError),
        (501, cohere.NotImplementedError, UpstreamBadRequestError),
        (503, cohere.ServiceUnavailableError, UpstreamUnavailableError),
        (504, cohere.GatewayTimeoutError, UpstreamUnavailableError),
        (402, cohere.core.ApiError, ProviderQuotaExhaustedError),
    ],
)
async def test_each_error_status_is_the_sdk_error_and_ours(
    sdk, runtime, fake_cohere, credentials, status, sdk_error, ours
) -> None:
    fake_cohere.fail(status, "It went wrong")
    with pytest.raises(sdk_error) as theirs:
        await sdk.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "Hi"}])
    assert theirs.value.status_code == status
    assert theirs.value.body["message"] == "It went wrong"

    fake_cohere.fail(status, "It went wrong")
    with pytest.raises(ours) as caught:
        await runtime.chat(
            provider="cohere",
            model="command-a-03-2025",
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
        )
    assert caught.value.status_code == status
    assert "It went wrong" in str(caught.value)


async def test_an_error_inside_the_stream_reaches_the_sdk_and_raises_for_us(
    sdk, runtime, fake_cohere, credentials
) -> None:
    broken = sse_events(
        event("message-start", id="x", delta={"message": {"role": "assistant"}}),
        event("content-delta", index=0, delta={"message": {"content": {"text": "Half"}}}),
        event("message-end", delta={"finish_reason": "ERROR", "error": "the model crashed"}),
    )
    fake_cohere.stream(broken)
    updates = [
        u async for u in sdk.chat_stream(model="command-a-03-2025", messages=[{"role": "user", "content": "Hi"}])
    ]
    assert updates[-1].delta.error == "the model crashed"

    fake_cohere.stream(broken, piece_size=7)
    stream = await runtime.chat(
        provider="cohere",
        model="command-a-03-2025",
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    received = []
    with pytest.raises(UpstreamUnavailableError, match="the model crashed"):
        async for chunk in stream:
            received.append(chunk.content)
    assert received == ["Half"]


async def test_tiny_stream_pieces_decode_to_the_same_answer(runtime, fake_cohere, credentials) -> None:
    fake_cohere.stream(text_stream("Bon", "jour", " !"), piece_size=5)
    stream = await runtime.chat(
        provider="cohere",
        model="command-r-08-2024",
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    result = await stream.collect()
    assert result.content == "Bonjour !"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)
    assert not result.usage.is_estimated
    assert result.usage.total_price > 0


async def test_no_sdk_warning_is_logged_for_a_plain_chat(sdk, caplog) -> None:
    caplog.set_level(logging.WARNING)
    await sdk.chat(model="command-a-03-2025", messages=[{"role": "user", "content": "Hi"}])
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
