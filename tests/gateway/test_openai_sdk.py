"""The official `openai` SDK, pointed at the gateway, drives every endpoint against the fake upstreams."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest

from tests.fakes.openai import chat_chunk, sse, tool_call, usage_chunk
from tests.support import SECRET, eventually

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


@pytest.fixture
async def client(gateway) -> AsyncIterator[openai.AsyncOpenAI]:
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


@pytest.fixture
async def with_openai(gateway, openai_credentials) -> None:
    await gateway.services.credentials.create(
        workspace_id=gateway.workspace_id, provider="openai", values=openai_credentials, validate=False
    )


async def test_plain_chat(client, fake_openai) -> None:
    fake_openai.reply_chat("Bonjour !", usage=(12, 4))
    raw = await client.chat.completions.with_raw_response.create(
        model="deepseek/deepseek-flash", messages=[{"role": "user", "content": "Say hi in French"}]
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == "Bonjour !"
    assert answer.choices[0].finish_reason == "stop"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (12, 4)
    assert raw.headers["x-modelyard-provider"] == "deepseek"
    assert raw.headers["x-modelyard-model"] == "deepseek-flash"
    assert raw.headers["x-modelyard-provider-type"] == "custom"
    assert float(raw.headers["x-modelyard-overhead-ms"]) >= 0
    assert raw.headers["x-request-id"].startswith("req_")
    assert fake_openai.last.headers["authorization"] == f"Bearer {SECRET}"  # the workspace's stored key


async def test_bare_and_default_model_names(client, fake_openai) -> None:
    for name in ("deepseek-flash", "default"):
        answer = await client.chat.completions.create(model=name, messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content == "Hello!"
    assert [r.json["model"] for r in fake_openai.requests] == ["deepseek-flash", "deepseek-flash"]


async def test_streamed_chat_with_usage(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"role": "assistant", "content": ""}),
            chat_chunk({"content": "Hel"}),
            chat_chunk({"content": "lo"}),
            chat_chunk({}, "stop"),
            usage_chunk(5, 2),
        ),
        piece_size=11,
    )
    stream = await client.chat.completions.create(
        model="deepseek/deepseek-flash",
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
    assert "".join(text) == "Hello"
    assert finish == "stop"
    assert usage is not None and usage.total_tokens == 7


async def test_streamed_parallel_tool_calls(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "a",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
            chat_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "b",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ]
                }
            ),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":"Paris"}'}}]}),
            chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city":"Rome"}'}}]}, "tool_calls"),
        )
    )
    stream = await client.chat.completions.create(
        model="deepseek/deepseek-flash",
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        stream=True,
    )
    calls: dict[int, list[str]] = {}
    async for chunk in stream:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            calls.setdefault(delta.index, []).append(delta.function.arguments or "")
    assert {i: "".join(parts) for i, parts in calls.items()} == {0: '{"city":"Paris"}', 1: '{"city":"Rome"}'}


async def test_tool_calls_not_streamed(client, fake_openai) -> None:
    fake_openai.reply_chat(
        None, tool_calls=[tool_call("c1", "get_weather", '{"city":"Oslo"}')], finish_reason="tool_calls"
    )
    answer = await client.chat.completions.create(
        model="deepseek/deepseek-flash", messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER]
    )
    call = answer.choices[0].message.tool_calls[0]
    assert (call.id, call.function.name, call.function.arguments) == ("c1", "get_weather", '{"city":"Oslo"}')
    assert answer.choices[0].finish_reason == "tool_calls"
    assert fake_openai.last.json["tools"] == [WEATHER]


async def test_embeddings_float_and_base64(client, with_openai, fake_openai) -> None:
    floats = await client.embeddings.create(
        model="openai/text-embedding-3-small", input=["a", "b"], encoding_format="float"
    )
    assert [len(d.embedding) for d in floats.data] == [4, 4]
    packed = await client.embeddings.create(model="openai/text-embedding-3-small", input="hello", dimensions=8)
    assert len(packed.data[0].embedding) == 8  # the SDK asked for base64 and decoded it


async def test_transcription_speech_and_moderation(client, with_openai, fake_openai) -> None:
    transcript = await client.audio.transcriptions.create(model="openai/whisper-1", file=("a.wav", b"RIFFfake"))
    assert transcript.text == "hello world"
    speech = await client.audio.speech.create(model="openai/tts-1", input="Hello", voice="alloy")
    assert (await speech.aread()).startswith(b"ID3")
    verdict = await client.moderations.create(model="openai/omni-moderation-latest", input=["fine", "I will kill"])
    assert [r.flagged for r in verdict.results] == [False, True]


async def test_models_list_shows_what_the_workspace_can_use(client, with_openai) -> None:
    listed = {m.id: m async for m in client.models.list()}
    assert "deepseek/deepseek-flash" in listed
    assert "openai/text-embedding-3-small" in listed
    assert not any(i.startswith("groq/") for i in listed)
    tts = listed["openai/tts-1"]  # deprecated, and it answers: listed, marked (its shutdown date when announced)
    assert (tts.model_extra["model_type"], tts.model_extra["deprecated"]) == ("tts", True)
    assert listed["deepseek/deepseek-flash"].model_extra["deprecated"] is False


async def test_rerank_over_plain_http(gateway, fake_openai) -> None:
    await gateway.services.models.add_custom(
        workspace_id=gateway.workspace_id,
        provider="xinference",
        model="bge-reranker",
        model_type="rerank",
        values={"server_url": fake_openai.url, "model_uid": "bge"},
        validate=False,
    )
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{gateway.url}/v1/rerank",
            json={"model": "bge-reranker", "query": "q", "documents": ["a", "b", "c"], "top_n": 2},
            headers={"Authorization": f"Bearer {gateway.api_key}"},
        )
        body = await response.json()
    assert response.status == 200
    assert [r["index"] for r in body["results"]] == [2, 1]
    assert body["results"][0]["document"] == {"text": "c"}


@pytest.mark.parametrize(
    ("call", "status", "error_type"),
    [
        ({"model": "nope/nothing"}, 404, openai.NotFoundError),
        ({"model": "openai/gpt-4o"}, 400, openai.BadRequestError),  # no credentials for openai
        ({"model": "deepseek/deepseek-flash", "temperature": "hot"}, 400, openai.BadRequestError),
    ],
)
async def test_bad_calls_get_openai_shaped_errors(client, call, status, error_type) -> None:
    with pytest.raises(error_type) as caught:
        await client.chat.completions.create(messages=[{"role": "user", "content": "Hi"}], **call)
    assert caught.value.status_code == status
    assert caught.value.body["message"]


async def test_a_bad_api_key_is_401(gateway) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key="my-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        await sdk.chat.completions.create(model="default", messages=[{"role": "user", "content": "Hi"}])
    await sdk.close()


async def test_upstream_rate_limit_passes_retry_after(client, fake_openai) -> None:
    fake_openai.fail(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "7"})
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(
            model="deepseek/deepseek-flash", messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.response.headers["retry-after"] == "7"
    assert "[deepseek] rate limited" in caught.value.body["message"]


async def test_a_client_that_disconnects_cancels_the_upstream_call(gateway, fake_openai) -> None:
    fake_openai.stream(sse(*[chat_chunk({"content": f"word{i} "}) for i in range(60)]), piece_size=40, pause_s=0.05)
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{gateway.url}/v1/chat/completions",
            json={"model": "deepseek/deepseek-flash", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
            headers={"Authorization": f"Bearer {gateway.api_key}"},
        )
        await response.content.readline()
        response.close()
    await eventually(lambda: fake_openai.disconnects, "the upstream call to be cancelled")
    assert fake_openai.disconnects == 1


async def test_oversized_and_malformed_bodies_are_4xx(gateway) -> None:
    headers = {"Authorization": f"Bearer {gateway.api_key}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as http:
        malformed = await http.post(f"{gateway.url}/v1/chat/completions", data=b"{not json", headers=headers)
        assert malformed.status == 400
        assert (await malformed.json())["error"]["param"] == "body"
        huge = await http.post(
            f"{gateway.url}/v1/embeddings", data=io.BytesIO(b"x" * (17 * 1024 * 1024)), headers=headers
        )
        assert huge.status == 413
        assert "larger than" in (await huge.json())["error"]["message"]
        wrong = await http.get(f"{gateway.url}/v1/chat/completions", headers=headers)
        assert wrong.status == 405
