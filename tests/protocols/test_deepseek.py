"""DeepSeek on the OpenAI wire: thinking-mode reasoning (streamed first, sent back only where the vendor wants it),
402 insufficient balance, cache-hit usage and keep-alive padding. The `openai` SDK is the oracle for requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest

from modelyard.errors import ProviderQuotaExhaustedError, UpstreamBadRequestError
from modelyard.protocols.openai import OpenAIQuirks
from modelyard.protocols.openai.requests import build_chat
from modelyard.types import ChatRequest, Message, ToolCall
from tests.fakes.openai import chat_chunk, completion, sse, tool_call, usage_chunk
from tests.protocols.targets import target
from tests.support import SECRET

MODEL = "deepseek-v4-pro"
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}

# Two user turns: the first called a tool (its reasoning must go back, even the turn's final answer's, and an
# empty one as ""), the second did not (its reasoning stays home).
HISTORY: list[dict[str, Any]] = [
    {"role": "user", "content": "Weather in Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "reasoning_content": "I should call the tool.",
        "tool_calls": [tool_call("call_1", "get_weather", '{"city": "Oslo"}')],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
    {"role": "assistant", "content": "", "tool_calls": [tool_call("call_2", "get_weather", '{"city": "Bergen"}')]},
    {"role": "tool", "tool_call_id": "call_2", "content": "4 C"},
    {"role": "assistant", "content": "Cold in Oslo, mild in Bergen.", "reasoning_content": "Summarise."},
    {"role": "user", "content": "Thanks. And 2 + 2?"},
    {"role": "assistant", "content": "4", "reasoning_content": "Easy."},
    {"role": "user", "content": "Bye"},
]


def as_deepseek_wants_it(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history as DeepSeek's thinking-mode docs say to send it, written out by hand for the SDK."""
    wanted = []
    for index, message in enumerate(history):
        message = dict(message)
        if message["role"] == "assistant":
            if index < 6:  # the tool-call turn: every assistant message carries the field
                message["reasoning_content"] = message.get("reasoning_content") or ""
            else:
                message.pop("reasoning_content", None)
            if message.get("tool_calls") and not message["content"]:
                message["content"] = None
        wanted.append(message)
    return wanted


@pytest.fixture
async def sdk(fake_openai) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{fake_openai.url}/v1", api_key=SECRET, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


async def test_deepseek_sends_reasoning_back_on_tool_call_turns_as_the_sdk_would(
    sdk, runtime, fake_openai, deepseek
) -> None:
    await sdk.chat.completions.create(model=MODEL, messages=as_deepseek_wants_it(HISTORY), tools=[WEATHER])
    await runtime.chat(provider="deepseek", model=MODEL, credentials=deepseek, messages=HISTORY, tools=[WEATHER])

    theirs, ours = fake_openai.requests[-2], fake_openai.requests[-1]
    assert ours.path == theirs.path == "/v1/chat/completions"
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {SECRET}"
    sent = [m.get("reasoning_content") for m in ours.json["messages"] if m["role"] == "assistant"]
    assert sent == ["I should call the tool.", "", "Summarise.", None]


def test_reasoning_is_never_sent_where_the_vendor_refuses_it() -> None:
    """The first deepseek-reasoner answered 400 to any reasoning_content in the input."""
    messages = (
        Message.user("Hi"),
        Message.assistant("", [ToolCall("c1", "f", "{}")], reasoning="r1"),
        Message.tool("c1", "ok"),
        Message.assistant("Hello", reasoning="r2"),
        Message.user("Again"),
    )
    body = build_chat(target(quirks=OpenAIQuirks(reasoning_replay="never")), ChatRequest(messages), stream=False)
    assert b"reasoning_content" not in (body.body or b"")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ("with-tool-calls", ["r1", None, None]),
        ("always", ["r1", "r2", "r3"]),
        ("tool-call-turns", ["r1", "r2", None]),
    ],
)
def test_each_reasoning_replay_rule_picks_its_messages(rule: str, expected: list[str | None]) -> None:
    messages = (
        Message.user("Hi"),
        Message.assistant("", [ToolCall("c1", "f", "{}")], reasoning="r1"),
        Message.tool("c1", "ok"),
        Message.assistant("Hello", reasoning="r2"),
        Message.user("Again"),
        Message.assistant("Sure", reasoning="r3"),
    )
    quirks = OpenAIQuirks.model_validate({"reasoning_replay": rule})
    request = build_chat(target(quirks=quirks), ChatRequest(messages), stream=False)
    wire = orjson.loads(request.body or b"{}")["messages"]
    assert [m.get("reasoning_content") for m in wire if m["role"] == "assistant"] == expected


async def test_deepseek_streams_reasoning_before_content(runtime, fake_openai, deepseek) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"role": "assistant", "content": None, "reasoning_content": ""}, model=MODEL),
            chat_chunk({"content": None, "reasoning_content": "9.11 vs 9.8: "}, model=MODEL),
            chat_chunk({"content": None, "reasoning_content": "compare tenths."}, model=MODEL),
            chat_chunk({"content": "9.8", "reasoning_content": None}, model=MODEL),
            chat_chunk({"content": " is greater."}, "stop", model=MODEL),
            usage_chunk(12, 30, completion_tokens_details={"reasoning_tokens": 22}, prompt_cache_hit_tokens=8),
        ),
        piece_size=7,
    )

    stream = await runtime.chat(
        provider="deepseek", model=MODEL, credentials=deepseek, messages=[{"role": "user", "content": "?"}], stream=True
    )
    kinds = []
    async for chunk in stream:
        if chunk.reasoning:
            kinds.append("reasoning")
        if chunk.content:
            kinds.append("content")
    assert kinds == ["reasoning", "reasoning", "content", "content"]
    assert stream.usage is not None
    assert (stream.usage.reasoning_tokens, stream.usage.cached_tokens) == (22, 8)


async def test_the_sdk_reads_the_same_reasoning_stream(sdk, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"role": "assistant", "content": None, "reasoning_content": "think"}, model=MODEL),
            chat_chunk({"content": "answer"}, "stop", model=MODEL),
        )
    )
    stream = await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "?"}], stream=True)
    deltas = [chunk.choices[0].delta async for chunk in stream]
    assert [getattr(d, "reasoning_content", None) for d in deltas] == ["think", None]
    assert [d.content for d in deltas] == [None, "answer"]


async def test_deepseek_402_insufficient_balance_is_provider_quota_exhausted(runtime, fake_openai, deepseek) -> None:
    # The body DeepSeek sends (users' reports): the status says what happened, the code does not.
    fake_openai.fail(402, "Insufficient Balance", type="unknown_error", code="invalid_request_error")

    with pytest.raises(ProviderQuotaExhaustedError) as caught:
        await runtime.chat(
            provider="deepseek", model=MODEL, credentials=deepseek, messages=[{"role": "user", "content": "Hi"}]
        )

    assert caught.value.status_code == 402
    assert not caught.value.is_retryable
    assert "Insufficient Balance" in str(caught.value)


async def test_deepseek_400_for_missing_reasoning_is_a_bad_request(runtime, fake_openai, deepseek) -> None:
    fake_openai.fail(400, "The reasoning_content in the thinking mode must be passed back to the API.")
    with pytest.raises(UpstreamBadRequestError, match="must be passed back"):
        await runtime.chat(
            provider="deepseek", model=MODEL, credentials=deepseek, messages=[{"role": "user", "content": "Hi"}]
        )


async def test_deepseek_keep_alive_padding_is_ignored(runtime, fake_openai, deepseek) -> None:
    """Under load DeepSeek pads a plain answer with blank lines and a stream with `: keep-alive` comments."""
    fake_openai.reply_raw(
        b"\n\n\n" + orjson.dumps(completion("Hi there", model=MODEL)), content_type="application/json"
    )
    result = await runtime.chat(
        provider="deepseek", model=MODEL, credentials=deepseek, messages=[{"role": "user", "content": "Hi"}]
    )
    assert result.content == "Hi there"

    fake_openai.stream(
        b": keep-alive\n\n: keep-alive\n\n" + sse(chat_chunk({"content": "Hey"}, "stop"), usage_chunk(3, 1))
    )
    stream = await runtime.chat(
        provider="deepseek",
        model=MODEL,
        credentials=deepseek,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    assert (await stream.collect()).content == "Hey"
