"""The DashScope fake and our adapter held to the vendor's own code: the `dashscope` SDK 2.0.2.

The SDK (pointed at the fake through `dashscope.base_http_api_url`) must parse everything the fake serves, and for
the same logical call our request must match the SDK's, field for field.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import dashscope
import pytest
from aiohttp.test_utils import TestServer

from modelyard.catalog import default_catalog
from modelyard.catalog.loader import Catalog
from modelyard.runtime import Runtime
from modelyard.types import ChatRequest, ImagePart, Message, ResponseFormat, TextPart, Tool, ToolCall
from modelyard.types.chat import NamedToolChoice
from tests.capabilities import prove
from tests.fakes.dashscope import FakeDashScope, error_body, sse_events, text_stream, tool_stream
from tests.support import SECRET

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
OUR_WEATHER = Tool("get_weather", "Weather for a city", WEATHER["function"]["parameters"])  # type: ignore[index]
PIXEL = "data:image/png;base64,iVBORw0KGgo="


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    """A runtime over the tongyi provider file alone, so other providers' files in progress cannot break it."""
    shipped = default_catalog()
    catalog = Catalog({"tongyi": shipped.get("tongyi")}, {"tongyi": shipped.source("tongyi")}, shipped.icons_dir)
    async with Runtime(catalog) as runtime:
        yield runtime


@pytest.fixture
async def fake_dashscope(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDashScope]:
    fake = FakeDashScope()
    server = TestServer(fake.app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{fake.url}/api/v1")
    try:
        yield fake
    finally:
        await dashscope.close_shared_aio_session()
        await server.close()


@pytest.fixture
def credentials(fake_dashscope: FakeDashScope) -> dict[str, str]:
    return {"api_key": SECRET, "endpoint_url": fake_dashscope.url}


def assert_same_request(fake: FakeDashScope, *, stream: bool = False) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {SECRET}"
    assert ours.headers["content-type"].split(";")[0] == theirs.headers["content-type"].split(";")[0]
    if stream:
        assert ours.headers["x-dashscope-sse"] == theirs.headers["x-dashscope-sse"] == "enable"
        assert ours.headers["accept"] == theirs.headers["accept"] == "text/event-stream"
    else:
        assert "x-dashscope-sse" not in ours.headers


# --- the SDK reads what the fake serves --------------------------------------------------------------------------


async def test_sdk_parses_plain_and_tool_call_generations(fake_dashscope) -> None:
    answer = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Hi"}], result_format="message"
    )
    assert answer.status_code == HTTPStatus.OK
    assert answer.output.choices[0].message.content == "Hello!"
    assert answer.output.choices[0].finish_reason == "stop"
    assert answer.usage.input_tokens == 9 and answer.usage.output_tokens == 3

    called = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Hi"}], result_format="message",
        tools=[WEATHER],
    )  # fmt: skip
    assert called.output.choices[0].finish_reason == "tool_calls"
    assert called.output.choices[0].message.tool_calls[0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize("incremental", [True, False])
async def test_sdk_reads_incremental_and_cumulative_streams(fake_dashscope, incremental: bool) -> None:
    fake_dashscope.stream(text_stream("Hel", "lo", "!", incremental=incremental))
    stream = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Hi"}], result_format="message",
        stream=True, incremental_output=True,
    )  # fmt: skip
    contents, reasons = [], []
    async for update in stream:
        assert update.status_code == HTTPStatus.OK
        contents.append(update.output.choices[0].message.content)
        reasons.append(update.output.choices[0].finish_reason)
    assert contents == (["Hel", "lo", "!"] if incremental else ["Hel", "Hello", "Hello!"])
    assert reasons == ["null", "null", "stop"]  # the string "null" until the last event


async def test_sdk_merges_a_stream_the_fake_serves_incrementally(fake_dashscope) -> None:
    """Asked for cumulative output, SDK 2.0.2 requests incremental and merges it itself: the fake must follow."""

    def call() -> list[str]:
        stream = dashscope.Generation.call(
            model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Hi"}], result_format="message",
            stream=True, incremental_output=False,
        )  # fmt: skip
        contents = [update.output.choices[0].message.content for update in stream]
        dashscope.close_shared_sync_session()
        return contents

    contents = await asyncio.to_thread(call)
    assert contents[-1] == "Hello!"
    assert fake_dashscope.last.json["parameters"]["incremental_output"] is True


async def test_sdk_reads_streamed_tool_calls(fake_dashscope) -> None:
    fake_dashscope.stream(tool_stream("get_weather", incremental=True))
    stream = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Weather?"}], result_format="message",
        tools=[WEATHER], stream=True, incremental_output=True,
    )  # fmt: skip
    arguments, reasons = [], []
    async for update in stream:
        choice = update.output.choices[0]
        reasons.append(choice.finish_reason)
        arguments += [call["function"].get("arguments", "") for call in choice.message.get("tool_calls") or ()]
    assert "".join(arguments) == '{"q": "x"}'
    assert reasons[-1] == "tool_calls"


async def test_sdk_reads_an_error_event_inside_a_200_stream(fake_dashscope) -> None:
    first = {"output": {"choices": [{"finish_reason": "null", "message": {"role": "assistant", "content": "Hel"}}]}}
    fake_dashscope.stream(sse_events(first, error=error_body("DataInspectionFailed", "Output data may contain...")))
    stream = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Hi"}], result_format="message",
        stream=True, incremental_output=True,
    )  # fmt: skip
    updates = [update async for update in stream]
    assert updates[0].status_code == HTTPStatus.OK
    assert updates[-1].code == "DataInspectionFailed"
    assert updates[-1].status_code != HTTPStatus.OK


async def test_sdk_parses_a_multimodal_generation(fake_dashscope) -> None:
    answer = await dashscope.AioMultiModalConversation.call(
        model="qwen-vl-max", api_key=SECRET, messages=[{"role": "user", "content": [{"image": PIXEL}, {"text": "?"}]}]
    )
    assert answer.status_code == HTTPStatus.OK
    assert answer.output.choices[0].message.content == [{"text": "Hello!"}]
    assert fake_dashscope.last.path.endswith("/multimodal-generation/generation")


async def test_sdk_parses_embeddings_and_rerank(fake_dashscope) -> None:
    embedded = await asyncio.to_thread(
        dashscope.TextEmbedding.call, model="text-embedding-v4", input=["a", "b"], api_key=SECRET, dimension=8
    )
    dashscope.close_shared_sync_session()
    assert embedded.status_code == HTTPStatus.OK
    assert sorted(item["text_index"] for item in embedded.output["embeddings"]) == [0, 1]
    assert len(embedded.output["embeddings"][0]["embedding"]) == 8
    assert embedded.usage["total_tokens"] == 2

    ranked = await dashscope.AioTextReRank.call(
        model="gte-rerank-v2", query="q", documents=["a", "b", "c"], top_n=2, return_documents=True, api_key=SECRET
    )
    assert ranked.status_code == HTTPStatus.OK
    assert [result.index for result in ranked.output.results] == [2, 1]
    assert ranked.output.results[0]["document"]["text"] == "c"  # a dict key: the attribute is a class default


async def test_sdk_reads_an_error_answer(fake_dashscope) -> None:
    fake_dashscope.fail(401, "Invalid API-key provided.", code="InvalidApiKey")
    answer = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, messages=[{"role": "user", "content": "Hi"}], result_format="message"
    )
    assert answer.status_code == 401
    assert answer.code == "InvalidApiKey"
    assert answer.message == "Invalid API-key provided."


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(runtime, fake_dashscope, credentials) -> None:
    await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, result_format="message",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        temperature=0.3, top_p=0.9, max_tokens=64, seed=7, stop=["END"], presence_penalty=0.5,
        tools=[WEATHER], tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=True, response_format={"type": "json_object"}, enable_thinking=False, top_k=20,
    )  # fmt: skip
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi")),
        temperature=0.3,
        top_p=0.9,
        max_tokens=64,
        seed=7,
        stop=("END",),
        presence_penalty=0.5,
        tools=(OUR_WEATHER,),
        tool_choice=NamedToolChoice("get_weather"),
        parallel_tool_calls=True,
        response_format=ResponseFormat("json_object"),
        reasoning_effort="none",
        extra={"top_k": 20},
    )
    await runtime.chat(provider="tongyi", model="qwen-plus", credentials=credentials, request=request)
    assert_same_request(fake_dashscope)


async def test_streamed_chat_request_matches_the_sdk(runtime, fake_dashscope, credentials) -> None:
    stream = await dashscope.AioGeneration.call(
        model="qwen-plus", api_key=SECRET, result_format="message", messages=[{"role": "user", "content": "Hi"}],
        stream=True, incremental_output=True,
    )  # fmt: skip
    _ = [update async for update in stream]
    ours = await runtime.chat(
        provider="tongyi", model="qwen-plus", credentials=credentials, messages=[Message.user("Hi")], stream=True
    )
    assert (await ours.collect()).content == "Hello!"
    assert_same_request(fake_dashscope, stream=True)


async def test_tool_result_turn_matches_the_sdk(runtime, fake_dashscope, credentials) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    await dashscope.AioGeneration.call(
        model="qwen-max", api_key=SECRET, result_format="message", tools=[WEATHER],
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "content": "Sunny", "tool_call_id": "call_1"},
        ],
    )  # fmt: skip
    request = ChatRequest(
        messages=(
            Message.user("Weather in Oslo?"),
            Message.assistant("", [ToolCall("call_1", "get_weather", '{"city": "Oslo"}')]),
            Message.tool("call_1", "Sunny"),
        ),
        tools=(OUR_WEATHER,),
    )
    await runtime.chat(provider="tongyi", model="qwen-max", credentials=credentials, request=request)
    assert_same_request(fake_dashscope)


async def test_vision_request_matches_the_sdk(runtime, fake_dashscope, credentials) -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": [{"text": "Be brief."}]},
        {"role": "user", "content": [{"text": "What is this?"}, {"image": PIXEL}]},
    ]
    await dashscope.AioMultiModalConversation.call(
        model="qwen3-vl-plus", api_key=SECRET, messages=messages, result_format="message", max_tokens=32
    )
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user([TextPart("What is this?"), ImagePart(PIXEL)])),
        max_tokens=32,
    )
    result = await runtime.chat(provider="tongyi", model="qwen3-vl-plus", credentials=credentials, request=request)
    assert result.content == "Hello!"
    assert_same_request(fake_dashscope)
    prove("tongyi", "llm", "vision")


async def test_embedding_request_matches_the_sdk(runtime, fake_dashscope, credentials) -> None:
    await asyncio.to_thread(
        dashscope.TextEmbedding.call,
        model="text-embedding-v4",
        input=["a", "b"],
        api_key=SECRET,
        text_type="query",
        dimension=8,
    )
    dashscope.close_shared_sync_session()
    result = await runtime.embed(
        provider="tongyi",
        model="text-embedding-v4",
        credentials=credentials,
        texts=["a", "b"],
        dimensions=8,
        input_type="query",
    )
    assert_same_request(fake_dashscope)
    assert result.vectors[0][0] == pytest.approx(0.1) and result.vectors[1][0] == pytest.approx(0.2)
    assert result.usage.prompt_tokens == 2


async def test_rerank_request_matches_the_sdk(runtime, fake_dashscope, credentials) -> None:
    await dashscope.AioTextReRank.call(
        model="gte-rerank-v2", query="q", documents=["a", "b", "c"], top_n=2, return_documents=False, api_key=SECRET
    )
    result = await runtime.rerank(
        provider="tongyi", model="gte-rerank-v2", credentials=credentials, query="q", documents=["a", "b", "c"], top_n=2
    )
    assert_same_request(fake_dashscope)
    assert [(hit.index, hit.document) for hit in result.hits] == [(2, "c"), (1, "b")]


async def test_thinking_budget_web_search_and_repetition_penalty_match_the_sdk(
    runtime, fake_dashscope, credentials
) -> None:
    await dashscope.AioMultiModalConversation.call(  # a vision model: multimodal-generation
        model="qwen3.8-flash", api_key=SECRET, result_format="message",
        messages=[{"role": "user", "content": [{"text": "Hi"}]}],
        enable_thinking=True, thinking_budget=4096, enable_search=True, repetition_penalty=1.05,
    )  # fmt: skip
    options = {"enable_thinking": True, "thinking_budget": 4096, "enable_search": True, "repetition_penalty": 1.05}
    result = await runtime.chat(
        provider="tongyi", model="qwen3.8-flash", credentials=credentials, messages=[Message.user("Hi")], extra=options
    )
    assert_same_request(fake_dashscope)
    assert result.adjusted_params == ()


async def test_a_thinking_budget_above_the_models_is_clamped_and_reported(runtime, fake_dashscope, credentials) -> None:
    result = await runtime.chat(
        provider="tongyi",
        model="qwen3.6-flash",
        credentials=credentials,
        messages=[Message.user("Hi")],
        extra={"enable_thinking": True, "thinking_budget": 200000},
    )
    assert fake_dashscope.requests[-1].json["parameters"]["thinking_budget"] == 81920
    assert [(a.name, a.action) for a in result.adjusted_params] == [("thinking_budget", "clamped")]


async def test_a_multimodal_embedder_takes_its_own_route_as_the_sdk_does(runtime, fake_dashscope, credentials) -> None:
    await asyncio.to_thread(
        dashscope.MultiModalEmbedding.call,
        model="qwen3-vl-embedding",
        input=[{"text": "a"}, {"text": "b"}],
        api_key=SECRET,
    )
    dashscope.close_shared_sync_session()
    for mode in ("native", "compatible"):  # compatible-mode has no multimodal route: native either way
        result = await runtime.embed(
            provider="tongyi",
            model="qwen3-vl-embedding",
            credentials=credentials | {"api_mode": mode},
            texts=["a", "b"],
        )
        assert_same_request(fake_dashscope)
        assert result.vectors[0][0] == pytest.approx(0.2) and result.vectors[1][0] == pytest.approx(0.4)
        assert result.usage.prompt_tokens == 10


async def test_a_recording_is_recognised_in_one_call_as_the_sdk_sends_it(runtime, fake_dashscope, credentials) -> None:
    audio = b"ID3\x04fake mp3 bytes"
    data_url = "data:audio/mpeg;base64," + base64.b64encode(audio).decode()
    messages = [
        {"role": "system", "content": [{"text": "ModelYard"}]},
        {"role": "user", "content": [{"audio": data_url}]},
    ]
    await dashscope.AioMultiModalConversation.call(
        model="qwen3-asr-flash", api_key=SECRET, messages=messages, result_format="message",
        asr_options={"language": "en"},
    )  # fmt: skip
    result = await runtime.transcribe(
        provider="tongyi",
        model="qwen3-asr-flash",
        credentials=credentials,
        audio=audio,
        filename="welcome.mp3",
        language="en",
        prompt="ModelYard",
    )
    assert_same_request(fake_dashscope)
    assert (result.text, result.duration_s) == ("Welcome to Qwen Cloud.", 1.0)
