from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from modelyard.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.runtime import Runtime, Timeouts
from modelyard.types import ChatRequest, Message, ResponseFormat, ToolCall
from tests.fakes.openai import chat_chunk, sse, tool_call, usage_chunk
from tests.support import SECRET, eventually

HELLO_STREAM = sse(
    chat_chunk({"role": "assistant", "content": ""}),
    chat_chunk({"content": "Hel"}),
    chat_chunk({"content": "lo"}),
    chat_chunk({}, "stop"),
    usage_chunk(11, 2),
)


async def test_chat_sends_a_signed_request_and_prices_the_reported_usage(runtime, fake_openai, deepseek) -> None:
    fake_openai.reply_chat("Bonjour", usage=(1_000, 500))

    result = await runtime.chat(
        provider="deepseek",
        model="deepseek-flash",
        credentials=deepseek,
        messages=[{"role": "user", "content": "Say hi in French"}],
        temperature=0.3,
    )

    assert result.content == "Bonjour"
    assert result.finish_reason == "stop"
    request = fake_openai.last
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert request.json == {
        "model": "deepseek-flash",
        "messages": [{"role": "user", "content": "Say hi in French"}],
        "temperature": 0.3,
    }
    usage = result.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (1_000, 500, 1_500)
    assert usage.input_price == Decimal("0.00015")
    assert usage.output_price == Decimal("0.00030")
    assert usage.total_price == Decimal("0.00045")
    assert usage.currency == "USD"
    assert usage.latency_s > 0
    assert not usage.is_estimated


async def test_chat_without_reported_usage_is_estimated_with_the_shipped_tokenizer(
    runtime, fake_openai, deepseek
) -> None:
    fake_openai.reply_chat("Hello there, friend.", usage=None)
    result = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")]
    )
    assert result.usage.is_estimated
    assert result.usage.completion_tokens == 5  # "Hello", " there", ",", " friend", "."
    assert result.usage.prompt_tokens > 0
    assert result.usage.total_price > 0


async def test_chat_round_trips_tool_calls(runtime, fake_openai, deepseek) -> None:
    fake_openai.reply_chat(
        None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')], finish_reason="tool_calls"
    )
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    first = await runtime.chat(
        provider="deepseek",
        model="deepseek-flash",
        credentials=deepseek,
        messages=[Message.user("Weather in Paris?")],
        tools=tools,
    )
    assert first.tool_calls == (ToolCall("call_1", "get_weather", '{"city":"Paris"}'),)

    fake_openai.reply_chat("Sunny.")
    messages = [Message.user("Weather in Paris?"), first.message(), Message.tool("call_1", "22C, sunny")]
    second = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=messages, tools=tools
    )
    assert second.content == "Sunny."
    sent = fake_openai.last.json["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == '{"city":"Paris"}'
    assert sent[2] == {"role": "tool", "content": "22C, sunny", "tool_call_id": "call_1"}


async def test_stream_yields_deltas_then_one_last_chunk_with_finish_reason_and_usage(
    runtime, fake_openai, deepseek
) -> None:
    fake_openai.stream(HELLO_STREAM, piece_size=5)
    stream = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")], stream=True
    )
    chunks = [chunk async for chunk in stream]

    assert "".join(c.content for c in chunks) == "Hello"
    assert [c.finish_reason for c in chunks].count("stop") == 1
    last = chunks[-1]
    assert last.finish_reason == "stop"
    assert last.usage is not None and (last.usage.prompt_tokens, last.usage.completion_tokens) == (11, 2)
    assert last.usage.time_to_first_token_s is not None
    assert all(c.usage is None for c in chunks[:-1])
    assert fake_openai.last.json["stream"] is True
    assert fake_openai.last.json["stream_options"] == {"include_usage": True}


async def test_stream_without_usage_or_done_marker_ends_at_eof_with_an_estimate(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(sse(chat_chunk({"content": "Hello"}), chat_chunk({}, "stop"), done=False))
    stream = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")], stream=True
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[-1].usage is not None and chunks[-1].usage.is_estimated
    assert chunks[-1].usage.completion_tokens == 1


async def test_stream_collect_joins_parallel_tool_call_fragments(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(
        sse(
            chat_chunk(
                {
                    "tool_calls": [
                        {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}
                    ]
                }
            ),
            chat_chunk(
                {
                    "tool_calls": [
                        {"index": 1, "id": "b", "type": "function", "function": {"name": "g", "arguments": "{"}}
                    ]
                }
            ),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x": 1}'}}]}),
            chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]}, "tool_calls"),
            usage_chunk(3, 4),
        ),
        piece_size=17,
    )
    stream = await runtime.chat(
        provider="deepseek",
        model="deepseek-flash",
        credentials=deepseek,
        messages=[Message.user("Hi")],
        stream=True,
        tools=[{"type": "function", "function": {"name": "f"}}],
    )
    result = await stream.collect()
    assert result.tool_calls == (ToolCall("a", "f", '{"x": 1}'), ToolCall("b", "g", "{}"))
    assert result.finish_reason == "tool_calls"
    assert result.usage.total_tokens == 7


async def test_stream_reasoning_arrives_apart_from_content(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"reasoning_content": "Let me think."}),
            chat_chunk({"reasoning_content": " Done.", "content": None}),
            chat_chunk({"content": "42"}, "stop"),
        )
    )
    stream = await runtime.chat(
        provider="deepseek", model="deepseek-v4-pro", credentials=deepseek, messages=[Message.user("?")], stream=True
    )
    result = await stream.collect()
    assert (result.reasoning, result.content) == ("Let me think. Done.", "42")


async def test_upstream_errors_surface_before_the_first_chunk(runtime, fake_openai, deepseek) -> None:
    fake_openai.fail(429, "Rate limit reached", code="rate_limit_exceeded", headers={"Retry-After": "7"})
    with pytest.raises(UpstreamRateLimitError) as caught:
        await runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials=deepseek,
            messages=[Message.user("Hi")],
            stream=True,
        )
    assert caught.value.retry_after_s == 7
    assert str(caught.value).startswith("[deepseek] rate limited: Rate limit reached")

    fake_openai.fail(401, f"Incorrect API key provided: {SECRET}", code="invalid_api_key")
    with pytest.raises(UpstreamAuthError) as refused:
        await runtime.chat(
            provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")]
        )
    assert SECRET not in str(refused.value)


async def test_an_error_event_mid_stream_raises_while_iterating(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(sse(chat_chunk({"content": "Hel"}), {"error": {"message": "overloaded", "code": 503}}))
    stream = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")], stream=True
    )
    received = []
    with pytest.raises(UpstreamUnavailableError, match="overloaded"):
        async for chunk in stream:
            received.append(chunk.content)
    assert received == ["Hel"]


async def test_a_dropped_connection_mid_stream_is_a_connection_error(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(HELLO_STREAM, piece_size=40, drop_after=2)
    stream = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")], stream=True
    )
    with pytest.raises(UpstreamConnectionError, match=r"^\[deepseek\] stream broke"):
        async for _ in stream:
            pass


@pytest.mark.parametrize(
    ("timeouts", "stall", "message"),
    [
        (Timeouts(first_byte_s=0.2), {"stall_after": 0}, "first byte"),
        (Timeouts(idle_s=0.2), {"stall_after": 2}, "next chunk"),
        (Timeouts(total_s=0.3, idle_s=5), {"stall_after": 2}, "total time limit"),
    ],
)
async def test_each_timeout_is_named(fake_openai, deepseek, timeouts, stall, message) -> None:
    if "first byte" in message:
        fake_openai.stall(2)
    else:
        fake_openai.stream(HELLO_STREAM, piece_size=30, stall_s=2, **stall)
    async with Runtime(timeouts=timeouts) as runtime:
        with pytest.raises(UpstreamTimeoutError, match=message):
            stream = await runtime.chat(
                provider="deepseek",
                model="deepseek-flash",
                credentials=deepseek,
                messages=[Message.user("Hi")],
                stream=True,
            )
            async for _ in stream:
                pass


async def test_closing_a_stream_early_closes_the_upstream_connection(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(HELLO_STREAM * 1, piece_size=8, pause_s=0.05)
    stream = await runtime.chat(
        provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[Message.user("Hi")], stream=True
    )
    await anext(aiter(stream))
    await stream.aclose()
    await eventually(lambda: fake_openai.disconnects, "the upstream connection to be closed")
    assert fake_openai.disconnects == 1


async def test_cancelling_the_caller_closes_the_upstream_connection(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(HELLO_STREAM, piece_size=8, pause_s=0.05)
    first_chunk = asyncio.Event()

    async def consume() -> None:
        stream = await runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials=deepseek,
            messages=[Message.user("Hi")],
            stream=True,
        )
        async for _ in stream:
            first_chunk.set()

    task = asyncio.create_task(consume())
    await first_chunk.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await eventually(lambda: fake_openai.disconnects, "the upstream connection to be closed")
    assert fake_openai.disconnects == 1


async def test_features_the_model_lacks_are_refused_before_any_request(runtime, fake_openai, deepseek) -> None:
    image = {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}]}
    with pytest.raises(UnsupportedFeatureError, match="vision"):
        await runtime.chat(provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[image])
    schema = ChatRequest(
        messages=(Message.user("Hi"),), response_format=ResponseFormat("json_schema", "x", {"type": "object"})
    )
    with pytest.raises(UnsupportedFeatureError, match="JSON-schema"):
        await runtime.chat(provider="deepseek", model="deepseek-flash", credentials=deepseek, request=schema)
    assert fake_openai.requests == []


async def test_bad_calls_are_named_errors(runtime, deepseek) -> None:
    with pytest.raises(ModelNotFoundError, match="unknown provider"):
        await runtime.chat(provider="nope", model="x", credentials={}, messages=[Message.user("Hi")])
    with pytest.raises(ModelNotFoundError, match=r"\[deepseek\] has no llm model 'gpt-4o'"):
        await runtime.chat(provider="deepseek", model="gpt-4o", credentials=deepseek, messages=[Message.user("Hi")])
    with pytest.raises(InvalidRequestError, match="messages"):
        await runtime.chat(provider="deepseek", model="deepseek-flash", credentials=deepseek, messages=[])
    with pytest.raises(InvalidRequestError, match="role"):
        await runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials=deepseek,
            messages=[{"role": "wizard", "content": "x"}],
        )
    with pytest.raises(InvalidRequestError, match="unknown chat parameter"):
        await runtime.chat(
            provider="deepseek",
            model="deepseek-flash",
            credentials=deepseek,
            messages=[Message.user("Hi")],
            temprature=1,
        )
