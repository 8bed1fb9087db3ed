"""A chat stream ends as the answer did: complete, broken (an error, never a clean end), or a whole JSON answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from modelyard.errors import UpstreamConnectionError, UpstreamProtocolError, UpstreamRateLimitError
from modelyard.runtime import Runtime
from modelyard.runtime.stream import ChatStream
from modelyard.types import Message
from tests.fakes.openai import FakeOpenAI, chat_chunk, sse, tool_call, usage_chunk

HI = [Message.user("Hi")]


async def stream_of(runtime: Runtime, credentials: dict[str, str]) -> ChatStream:
    return await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=credentials, messages=HI, stream=True
    )


@pytest.fixture
async def closing_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An upstream whose answer is delimited by closing the connection (no length, not chunked), as HTTP/1.1
    allows: a cut there looks like a clean end to the transport. Queue the bodies it sends, one per call."""
    bodies: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n" + bodies.pop(0))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/v1", bodies
    finally:
        server.close()
        await server.wait_closed()


async def test_a_connection_closed_before_the_finish_is_a_connection_error_not_an_end(runtime, closing_server) -> None:
    url, bodies = closing_server
    bodies.append(sse(chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo, wor"}), done=False))
    stream = await stream_of(runtime, {"api_key": "sk-x", "endpoint_url": url})
    received = []
    with pytest.raises(UpstreamConnectionError, match=r"^\[deepseek\] the stream ended before the answer was finished"):
        async for chunk in stream:
            received.append(chunk.content)
    assert received == ["Hel", "lo, wor"]
    assert stream.usage is None
    assert stream.partial_usage is not None and stream.partial_usage.completion_tokens > 0


async def test_a_stream_that_finishes_without_done_is_complete(runtime, closing_server) -> None:
    url, bodies = closing_server
    bodies.append(sse(chat_chunk({"content": "Hello"}), chat_chunk({}, "stop"), usage_chunk(4, 1), done=False))
    answer = await (await stream_of(runtime, {"api_key": "sk-x", "endpoint_url": url})).collect()
    assert (answer.content, answer.finish_reason, answer.usage.completion_tokens) == ("Hello", "stop", 1)


async def test_an_event_cut_in_the_middle_is_an_error_not_an_end(runtime, closing_server) -> None:
    # The decoder takes a last event that lacks its blank line (some servers end so), so the cut one is read, and
    # is unreadable.
    url, bodies = closing_server
    bodies.append(sse(chat_chunk({"content": "Hel"}), done=False) + b'data: {"id": "chatcmpl-fake", "cho')
    with pytest.raises(UpstreamProtocolError, match="unreadable chat stream"):
        await (await stream_of(runtime, {"api_key": "sk-x", "endpoint_url": url})).collect()


async def test_a_json_answer_to_a_stream_request_streams_its_content(runtime, fake_openai: FakeOpenAI, deepseek):
    fake_openai.reply_chat(None, tool_calls=[tool_call("c1", "get_weather", '{"city": "Oslo"}')], usage=(7, 5))
    stream = await stream_of(runtime, deepseek)
    answer = await stream.collect()
    assert [(call.id, call.name, call.arguments) for call in answer.tool_calls] == [
        ("c1", "get_weather", '{"city": "Oslo"}')
    ]
    assert (answer.finish_reason, answer.usage.prompt_tokens, answer.usage.completion_tokens) == ("stop", 7, 5)


async def test_a_json_error_answer_to_a_stream_request_raises_it_before_the_stream(
    runtime, fake_openai: FakeOpenAI, deepseek
) -> None:
    fake_openai.reply_json({"error": {"message": "slow down", "code": "rate_limit_exceeded"}})
    with pytest.raises(UpstreamRateLimitError, match="slow down"):
        await stream_of(runtime, deepseek)


async def test_an_event_stream_labelled_json_is_read_as_a_stream(runtime, fake_openai: FakeOpenAI, deepseek) -> None:
    fake_openai.stream(sse(chat_chunk({"content": "Hi!"}), chat_chunk({}, "stop")), content_type="application/json")
    answer = await (await stream_of(runtime, deepseek)).collect()
    assert (answer.content, answer.finish_reason) == ("Hi!", "stop")
