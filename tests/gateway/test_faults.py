"""Faults the gateway must neither hide nor leak, over a real loopback socket: a caller who leaves before the first
byte, an upstream that breaks mid-stream or ends without finishing, a JSON answer where a stream was asked for."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import anthropic
import openai
import orjson
import pytest

from modelyard.protocols.sse import ServerSentEvent, SSEDecoder
from modelyard.runtime import Runtime
from modelyard.services.context import Services
from modelyard.services.usage import UsageRecordView
from tests.fakes.openai import FakeOpenAI, chat_chunk, sse, usage_chunk
from tests.gateway.conftest import Running, hosted_deepseek_gateway
from tests.support import eventually

CHAT = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}


async def records(services: Services, workspace_id: str) -> list[UsageRecordView]:
    await services.usage.flush()
    return await services.usage.records(workspace_id=workspace_id)


async def post_and_leave(url: str, api_key: str, body: dict[str, object], upstream: FakeOpenAI) -> None:
    """Send a call, and close the connection once the upstream holds it, before any byte of the answer."""
    async with aiohttp.ClientSession() as http:
        call = asyncio.create_task(http.post(url, json=body, headers={"Authorization": f"Bearer {api_key}"}))
        await eventually(lambda: upstream.requests, "the call to reach the upstream")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call


def events_of(body: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return decoder.feed(body) + decoder.flush()


# --- a caller who leaves before the first byte -----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "streamed"])
async def test_a_caller_who_leaves_before_the_first_byte_cancels_the_upstream_call_at_once(
    gateway: Running, fake_openai: FakeOpenAI, stream: bool
) -> None:
    fake_openai.hang()
    await post_and_leave(f"{gateway.url}/v1/chat/completions", gateway.api_key, {**CHAT, "stream": stream}, fake_openai)

    await eventually(lambda: fake_openai.disconnects, "the upstream call to be cancelled", within_s=5)

    async def recorded() -> list[UsageRecordView]:
        return await records(gateway.services, gateway.workspace_id)

    await eventually(recorded, "the call's usage record")
    [record] = await recorded()
    assert (record.status, record.error_class, record.completion_tokens) == ("cancelled", None, 0)


@pytest.fixture
async def hosted_gateway(tmp_path: Path, runtime: Runtime, fake_openai: FakeOpenAI) -> AsyncIterator[Running]:
    """The gateway with a hosted deepseek trial of 5 calls and no key of the workspace's own."""
    async with hosted_deepseek_gateway(tmp_path, runtime, fake_openai, 5) as running:
        yield running


async def test_a_caller_who_leaves_before_the_first_byte_gets_its_hosted_quota_back(
    hosted_gateway: Running, fake_openai: FakeOpenAI
) -> None:
    services, workspace = hosted_gateway.services, hosted_gateway.workspace_id
    fake_openai.hang()
    await post_and_leave(f"{hosted_gateway.url}/v1/chat/completions", hosted_gateway.api_key, CHAT, fake_openai)
    await eventually(lambda: fake_openai.disconnects, "the upstream call to be cancelled", within_s=5)

    async def ledger_kinds() -> list[str]:
        await services.invoker.drain()
        await services.quota.flush()
        return [entry.kind for entry in await services.quota.ledger(workspace_id=workspace)]

    async def closed() -> bool:
        return len(await ledger_kinds()) == 2

    await eventually(closed, "the reservation to be closed")
    assert await ledger_kinds() == ["reserve", "release"]
    [quota] = await services.quota.status(workspace_id=workspace)
    assert quota.used == 0


# --- an upstream that breaks mid-stream ----------------------------------------------------------------------------

HALF_AN_ANSWER = sse(*[chat_chunk({"content": f"word{i} "}) for i in range(8)], done=False)


@pytest.mark.parametrize(
    "upstream",
    [
        pytest.param({"piece_size": 200, "drop_after": 3}, id="connection-dropped"),
        pytest.param({}, id="ended-before-the-finish"),  # closes cleanly, with no finish reason and no [DONE]
    ],
)
async def test_a_broken_upstream_stream_ends_in_an_error_event_without_done_and_is_recorded_failed(
    gateway: Running, fake_openai: FakeOpenAI, upstream: dict[str, int]
) -> None:
    fake_openai.stream(HALF_AN_ANSWER, **upstream)
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{gateway.url}/v1/chat/completions",
            json={**CHAT, "stream": True},
            headers={"Authorization": f"Bearer {gateway.api_key}"},
        )
        body = await response.read()

    assert response.status == 200
    *relayed, last = events_of(body)
    assert relayed and all(b'"delta"' in event.data for event in relayed)  # what arrived before the break
    error = orjson.loads(last.data)["error"]  # the last event: no [DONE] after it
    assert error["code"] == "upstream_connection_error"
    assert b"[DONE]" not in body
    [record] = await records(gateway.services, gateway.workspace_id)
    assert (record.status, record.error_class) == ("error", "UpstreamConnectionError")
    assert record.completion_tokens > 0  # what arrived was spent upstream: it is counted


async def test_the_openai_sdk_raises_on_a_broken_stream(gateway: Running, fake_openai: FakeOpenAI) -> None:
    fake_openai.stream(HALF_AN_ANSWER, piece_size=200, drop_after=3)
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    received = []
    with pytest.raises(openai.APIError, match="stream broke"):
        async for chunk in await sdk.chat.completions.create(**CHAT, stream=True):  # type: ignore[call-overload]
            received.append(chunk.choices[0].delta.content)
    await sdk.close()
    assert received[:2] == ["word0 ", "word1 "]


async def test_the_anthropic_ingress_ends_a_broken_stream_with_its_error_event(
    gateway: Running, fake_openai: FakeOpenAI
) -> None:
    fake_openai.stream(HALF_AN_ANSWER, piece_size=200, drop_after=3)
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{gateway.url}/v1/messages",
            json={**CHAT, "max_tokens": 50, "stream": True},
            headers={"x-api-key": gateway.api_key},
        )
        body = await response.read()
    events = events_of(body)
    assert events[-1].event == "error"
    assert orjson.loads(events[-1].data)["error"]["type"] == "api_error"
    assert "message_stop" not in [event.event for event in events]

    sdk = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=gateway.api_key, max_retries=0)
    fake_openai.stream(HALF_AN_ANSWER, piece_size=200, drop_after=3)
    with pytest.raises(anthropic.APIStatusError, match="stream broke"):
        async with sdk.messages.stream(**{**CHAT, "max_tokens": 50}) as stream:  # type: ignore[arg-type]
            async for _ in stream:
                pass
    await sdk.close()


# --- a JSON answer where a stream was asked for ----------------------------------------------------------------------


async def test_a_json_answer_to_a_stream_request_is_relayed_as_a_stream(gateway: Running, fake_openai) -> None:
    fake_openai.reply_chat("Bonjour !", usage=(12, 4))  # a server that ignores `stream`
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    chunks = [
        chunk
        async for chunk in await sdk.chat.completions.create(
            **CHAT,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    ]
    await sdk.close()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Bonjour !"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (12, 4)
    [record] = await records(gateway.services, gateway.workspace_id)
    assert (record.status, record.prompt_tokens, record.completion_tokens) == ("success", 12, 4)


async def test_a_json_error_answer_to_a_stream_request_is_mapped_as_an_error(gateway: Running, fake_openai) -> None:
    fake_openai.reply_json(
        {"error": {"message": "slow down", "type": "rate_limit_error", "code": "rate_limit_exceeded"}}
    )
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    with pytest.raises(openai.RateLimitError, match="slow down"):
        await sdk.chat.completions.create(**CHAT, stream=True)  # type: ignore[call-overload]
    await sdk.close()


async def test_a_stream_labelled_json_is_still_read_as_a_stream(gateway: Running, fake_openai) -> None:
    answer = sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo"}, "stop"), usage_chunk(3, 2))
    fake_openai.stream(answer, content_type="application/json")
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    chunks = [chunk async for chunk in await sdk.chat.completions.create(**CHAT, stream=True)]  # type: ignore[call-overload]
    await sdk.close()
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
