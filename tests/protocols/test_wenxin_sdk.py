"""The Wenxin fake and our legacy requests held to the qianfan SDK 0.4.12.3.

The SDK is pointed at the fake with its own setting, QIANFAN_BASE_URL (token endpoint and model paths share that
host). It must parse what the fake serves, and for the same logical call our request must equal the SDK's body
field for field, except `extra_parameters.request_source`, the SDK's own telemetry. The SDK makes blocking calls,
so it runs in a thread while the fake serves on the event loop.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import qianfan
import qianfan.config
from aiohttp.test_utils import TestServer

from tests.fakes.openai import Recorded
from tests.fakes.wenxin import FakeWenxin

_serial = itertools.count()
SDK_ONLY = {"extra_parameters"}  # telemetry the SDK adds to every body
WEATHER = {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "object"}}


@pytest.fixture
def keys() -> tuple[str, str]:
    # Fresh per test: the SDK keeps tokens per (AK, SK) in a process-wide manager.
    number = next(_serial)
    return f"wx-ak-sdk-{number:04d}", f"wx-sk-sdk-{number:04d}"


@pytest.fixture
async def fake(keys, monkeypatch) -> AsyncIterator[FakeWenxin]:
    upstream = FakeWenxin(keys={keys[0]: keys[1]})
    server = TestServer(upstream.app, host="127.0.0.1")
    await server.start_server()
    upstream.url = str(server.make_url("")).rstrip("/")
    monkeypatch.setenv("QIANFAN_BASE_URL", upstream.url)
    monkeypatch.setattr(qianfan.config, "_GLOBAL_CONFIG", None)  # read the environment again
    yield upstream
    await server.close()


@pytest.fixture
def credentials(fake, keys) -> dict[str, str]:
    return {"api_style": "legacy", "api_key": keys[0], "secret_key": keys[1], "endpoint_url": fake.url}


async def in_thread(call: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(call)


def model_calls(fake: FakeWenxin) -> list[Recorded]:
    return [r for r in fake.requests if r.path != "/oauth/2.0/token"]


def assert_same_body(theirs: Recorded, ours: Recorded, *, sdk_only: set[str] = SDK_ONLY) -> None:
    assert ours.path == theirs.path
    assert set(ours.query) == set(theirs.query) == {"access_token"}
    assert {k: v for k, v in theirs.json.items() if k not in sdk_only} == ours.json
    assert ours.headers["content-type"].split(";")[0] == theirs.headers["content-type"].split(";")[0]


# --- the SDK reads the fake -------------------------------------------------------------------------------------


async def test_sdk_reads_a_plain_chat_answer_and_a_function_call(fake, keys) -> None:
    chat = qianfan.ChatCompletion(model="ERNIE-3.5-8K", ak=keys[0], sk=keys[1])
    answer = await in_thread(lambda: chat.do(messages=[{"role": "user", "content": "Hi"}]))
    assert (answer.body["result"], answer.body["usage"]["total_tokens"]) == ("Hello!", 12)
    called = await in_thread(lambda: chat.do(messages=[{"role": "user", "content": "Weather?"}], functions=[WEATHER]))
    assert called.body["function_call"]["name"] == "get_weather"
    assert [r.path for r in fake.requests].count("/oauth/2.0/token") == 1


async def test_sdk_reads_a_stream_event_by_event(fake, keys) -> None:
    chat = qianfan.ChatCompletion(model="ERNIE-4.0-8K", ak=keys[0], sk=keys[1])
    parts = await in_thread(lambda: list(chat.do(messages=[{"role": "user", "content": "Hi"}], stream=True)))
    assert "".join(p.body["result"] for p in parts) == "Hello!"
    assert [p.body["is_end"] for p in parts] == [False, True]
    assert fake.requests[-1].path.endswith("/chat/completions_pro")


async def test_sdk_reads_an_error_code_as_its_api_error(fake, keys) -> None:
    fake.fail_code(336003, "the messages are invalid")
    chat = qianfan.ChatCompletion(model="ERNIE-3.5-8K", ak=keys[0], sk=keys[1])
    with pytest.raises(qianfan.errors.APIError) as caught:
        await in_thread(lambda: chat.do(messages=[{"role": "user", "content": "Hi"}], retry_count=1))
    assert caught.value.error_code == 336003


async def test_sdk_reads_embeddings_and_rerank(fake, keys) -> None:
    embedded = await in_thread(lambda: qianfan.Embedding(model="Embedding-V1", ak=keys[0], sk=keys[1]).do(["a", "b"]))
    assert [item["index"] for item in embedded.body["data"]] == [0, 1]
    reranker = qianfan.Reranker(model="bce-reranker-base_v1", ak=keys[0], sk=keys[1])
    reranked = await in_thread(lambda: reranker.do("q", ["a", "b"], top_n=1))
    assert [hit["index"] for hit in reranked.body["results"]] == [1]


# --- same logical call, same request ----------------------------------------------------------------------------


async def test_chat_request_matches_the_sdk(runtime, fake, keys, credentials) -> None:
    chat = qianfan.ChatCompletion(model="ERNIE-3.5-8K", ak=keys[0], sk=keys[1])
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    await in_thread(
        lambda: chat.do(
            messages=turns,
            system="Be brief.",
            temperature=0.5,
            top_p=0.9,
            max_output_tokens=100,
            stop=["END"],
            user_id="u-1",
        )
    )
    await runtime.chat(
        provider="wenxin",
        model="ernie-3.5-8k",
        credentials=credentials,
        messages=[{"role": "system", "content": "Be brief."}, *turns],
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
        user="u-1",
    )
    theirs, ours = model_calls(fake)
    assert_same_body(theirs, ours)


async def test_streamed_function_request_is_the_sdks_unstreamed_one(runtime, fake, keys, credentials) -> None:
    """ERNIE models declare no streamed tool calls, so a streamed call with tools goes upstream unstreamed."""
    chat = qianfan.ChatCompletion(model="ERNIE-4.0-8K", ak=keys[0], sk=keys[1])
    messages = [{"role": "user", "content": "Weather in Oslo?"}]
    await in_thread(lambda: chat.do(messages=messages, functions=[WEATHER]))
    tool = {"type": "function", "function": WEATHER}
    stream = await runtime.chat(
        provider="wenxin", model="ernie-4.0-8k", credentials=credentials, messages=messages, tools=[tool], stream=True
    )
    assert [c.name for c in (await stream.collect()).tool_calls] == ["get_weather"]
    theirs, ours = model_calls(fake)
    assert_same_body(theirs, ours)
    assert ours.json["stream"] is False


async def test_function_result_turn_matches_the_sdk(runtime, fake, keys, credentials) -> None:
    chat = qianfan.ChatCompletion(model="ERNIE-3.5-8K", ak=keys[0], sk=keys[1])
    sdk_turns = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "function_call": {"name": "get_weather", "arguments": '{"q": "Oslo"}'}},
        {"role": "function", "name": "get_weather", "content": "Sunny"},
    ]
    await in_thread(lambda: chat.do(messages=sdk_turns, functions=[WEATHER]))
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"q": "Oslo"}'}}
    await runtime.chat(
        provider="wenxin",
        model="ernie-3.5-8k",
        credentials=credentials,
        messages=[
            sdk_turns[0],
            {"role": "assistant", "content": "", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        ],
        tools=[{"type": "function", "function": WEATHER}],
    )
    theirs, ours = model_calls(fake)
    assert_same_body(theirs, ours)


async def test_embeddings_and_rerank_requests_match_the_sdk(runtime, fake, keys, credentials) -> None:
    # The SDK's requestor also says `stream: false` on these; the endpoints do not stream, so we leave it out.
    await in_thread(lambda: qianfan.Embedding(model="bge-large-zh", ak=keys[0], sk=keys[1]).do(["a", "b"]))
    await runtime.embed(provider="wenxin", model="bge-large-zh", credentials=credentials, texts=["a", "b"])
    theirs, ours = model_calls(fake)
    assert_same_body(theirs, ours, sdk_only=SDK_ONLY | {"stream"})

    reranker = qianfan.Reranker(model="bce-reranker-base_v1", ak=keys[0], sk=keys[1])
    await in_thread(lambda: reranker.do("q", ["a", "b"], top_n=1))
    await runtime.rerank(
        provider="wenxin",
        model="bce-reranker-base_v1",
        credentials=credentials,
        query="q",
        documents=["a", "b"],
        top_n=1,
    )
    theirs, ours = model_calls(fake)[2:]
    assert_same_body(theirs, ours, sdk_only=SDK_ONLY | {"stream"})


async def test_token_requests_match_the_sdk(runtime, fake, keys, credentials) -> None:
    await in_thread(lambda: qianfan.Embedding(model="tao-8k", ak=keys[0], sk=keys[1]).do(["a"]))
    await runtime.embed(provider="wenxin", model="tao-8k", credentials=credentials, texts=["a"])
    theirs, ours = (r for r in fake.requests if r.path == "/oauth/2.0/token")
    assert (ours.method, ours.path, ours.query) == (theirs.method, theirs.path, theirs.query)
