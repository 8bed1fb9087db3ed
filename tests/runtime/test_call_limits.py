"""The runtime honours a credential's own timeout and retries (catalog/call_limits.py): the timeout bounds the wait
for the first byte and between chunks instead of the process-wide ones; a call that failed before its first byte
with a connection error or a 5xx is repeated, never one that failed otherwise or after the first byte."""

from __future__ import annotations

import pytest
from aiohttp import web

from modelyard.errors import (
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from tests.fakes.openai import chat_chunk, sse
from tests.support import SECRET


def xinference(fake_openai, **limits: str) -> dict[str, str]:
    return {"server_url": fake_openai.url, "model_uid": "qwen3", "api_key": SECRET, **limits}


async def chat(runtime, credentials, **params):
    return await runtime.chat(
        provider="xinference", model="qwen3", credentials=credentials, messages=[{"role": "user", "content": "Hi"}],
        **params,
    )  # fmt: skip


def drop_connection(fake_openai) -> None:
    """Close the connection before any byte of an answer: the client sees a connection error."""

    async def reply(request: web.Request, recorded) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        raise ConnectionResetError

    fake_openai._replies.append(reply)


async def test_a_5xx_before_the_first_byte_is_retried_as_often_as_the_credential_says(runtime, fake_openai) -> None:
    fake_openai.fail(503, "overloaded", type="server_error")
    fake_openai.fail(502, "bad gateway", type="server_error")
    result = await chat(runtime, xinference(fake_openai, max_retries="2"))
    assert result.content == "Hello!"
    assert len(fake_openai.requests) == 3


async def test_without_retries_the_first_5xx_stands(runtime, fake_openai) -> None:
    fake_openai.fail(503, "overloaded", type="server_error")
    with pytest.raises(UpstreamUnavailableError):
        await chat(runtime, xinference(fake_openai, max_retries="0"))
    assert len(fake_openai.requests) == 1


async def test_retries_run_out_and_the_last_failure_is_reported(runtime, fake_openai) -> None:
    for _ in range(3):
        fake_openai.fail(500, "boom", type="server_error")
    with pytest.raises(UpstreamUnavailableError):
        await chat(runtime, xinference(fake_openai, max_retries="1"))
    assert len(fake_openai.requests) == 2


async def test_a_dropped_connection_is_retried_and_streams_then_flow(runtime, fake_openai) -> None:
    drop_connection(fake_openai)
    stream = await chat(runtime, xinference(fake_openai, max_retries="1"), stream=True)
    assert (await stream.collect()).content == "Hello!"
    assert len(fake_openai.requests) == 2
    drop_connection(fake_openai)
    with pytest.raises(UpstreamConnectionError):
        await chat(runtime, xinference(fake_openai))  # the form's default: no retries


async def test_a_4xx_is_the_callers_problem_and_is_not_retried(runtime, fake_openai) -> None:
    fake_openai.fail(400, "bad request")
    with pytest.raises(UpstreamBadRequestError):
        await chat(runtime, xinference(fake_openai, max_retries="3"))
    assert len(fake_openai.requests) == 1


# The fake answers after 5 s, the process-wide waits are minutes: only the credential's 0.3 s can end the wait first
# (timers fire in the order of their deadlines on the one event loop, however busy the machine).
async def test_the_credentials_timeout_bounds_the_wait_for_the_first_byte(runtime, fake_openai) -> None:
    fake_openai.stall(5)
    with pytest.raises(UpstreamTimeoutError, match="first byte"):
        await chat(runtime, xinference(fake_openai, invoke_timeout="0.3"))


async def test_the_credentials_timeout_bounds_the_wait_between_chunks(runtime, fake_openai) -> None:
    body = sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo!"}, "stop"))
    fake_openai.stream(body, piece_size=len(body) // 2, stall_after=1, stall_s=5)
    stream = await chat(runtime, xinference(fake_openai, invoke_timeout="0.3"), stream=True)
    with pytest.raises(UpstreamTimeoutError, match="next chunk"):
        await stream.collect()
