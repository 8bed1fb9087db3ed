"""MiniMax's chatcompletion_v2 held to the `openai` SDK (MiniMax ships no Python SDK of note, and the endpoint
speaks OpenAI's chat shape): the SDK parses what the fake serves, and our requests match the SDK's for the same
logical call. Plus what is MiniMax's own: errors in `base_resp` with HTTP 200, the closing repeat of a stream,
embeddings with `texts`, `type` and GroupId."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import pytest
from openai import AsyncStream
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from modelyard.errors import (
    ContentFilteredError,
    CredentialsNotConfiguredError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from tests.capabilities import prove
from tests.fakes.loopback import served
from tests.fakes.minimax import FakeMiniMax, chunk, completion, failure, stream_events
from tests.fakes.openai import tool_call
from tests.support import SECRET

MODEL = "MiniMax-M2.7"
GROUP = "1800000000000000001"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
async def fake() -> AsyncIterator[FakeMiniMax]:
    async with served(FakeMiniMax(api_keys={SECRET})) as upstream:
        yield upstream


@pytest.fixture
def credentials(fake) -> dict[str, str]:
    return {"api_key": SECRET, "group_id": GROUP, "endpoint_url": fake.url}


@pytest.fixture
async def sdk(fake) -> AsyncIterator[openai.AsyncOpenAI]:
    """The openai SDK, its chat requests sent to chatcompletion_v2 instead of /chat/completions."""

    async def to_chatcompletion_v2(request: httpx2.Request) -> None:
        if request.url.path == "/v1/chat/completions":
            request.url = request.url.copy_with(path="/v1/text/chatcompletion_v2")

    http = httpx2.AsyncClient(event_hooks={"request": [to_chatcompletion_v2]})
    client = openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key=SECRET, http_client=http, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


def assert_same_request(fake: FakeMiniMax) -> None:
    theirs, ours = fake.requests[-2], fake.requests[-1]
    assert ours.path == theirs.path == "/v1/text/chatcompletion_v2"
    assert ours.json == theirs.json
    assert ours.headers["authorization"] == theirs.headers["authorization"] == f"Bearer {SECRET}"


async def chat(runtime, credentials: dict[str, str], **params: Any) -> Any:
    params.setdefault("messages", HI)
    return await runtime.chat(provider="minimax", model=params.pop("model", MODEL), credentials=credentials, **params)


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    await sdk.chat.completions.create(
        model=MODEL, messages=messages, temperature=0.7, top_p=0.95, max_completion_tokens=100
    )
    await chat(runtime, credentials, messages=messages, temperature=0.7, top_p=0.95, max_tokens=100)
    assert_same_request(fake)


async def test_stop_is_dropped_and_reported_not_sent(runtime, fake, credentials) -> None:
    """chatcompletion_v2's request schema has no `stop` (text-post API reference): no model lists a stop rule."""
    messages = [{"role": "user", "content": "Hi"}]
    result = await chat(runtime, credentials, messages=messages, stop=["END"])
    assert "stop" not in fake.requests[-1].json
    assert result.dropped_params == ("stop",)
    assert result.adjusted_params[0].requested == ["END"]


async def test_streamed_tool_chat_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    messages = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_1", "get_weather", '{"city": "Oslo"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": "-3 C"},
    ]
    stream = await sdk.chat.completions.create(
        model=MODEL,
        messages=messages,
        tools=[WEATHER],
        tool_choice="auto",
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in stream:
        pass
    ours = await chat(runtime, credentials, messages=messages, tools=[WEATHER], tool_choice="auto", stream=True)
    await ours.collect()
    assert_same_request(fake)


# --- the SDK reads what the fake serves, and so do we ------------------------------------------------------------


async def test_plain_answer_is_read_alike_by_the_sdk_and_by_us(sdk, runtime, fake, credentials) -> None:
    body = completion("Hello there.", reasoning="The user greets me.", usage=(26, 223))
    fake.reply_json(body)
    fake.reply_json(body)

    answered = await sdk.chat.completions.create(model=MODEL, messages=HI)
    result = await chat(runtime, credentials)

    assert answered.choices[0].message.content == result.content == "Hello there."
    assert result.reasoning == "The user greets me."
    assert answered.usage is not None and answered.usage.prompt_tokens == result.usage.prompt_tokens == 26
    assert result.finish_reason == "stop"
    assert result.usage.currency == "CNY" and result.usage.total_price > 0
    prove("minimax", "llm", "invoke")


async def test_tool_call_answer_is_read_alike_by_the_sdk_and_by_us(sdk, runtime, fake, credentials) -> None:
    body = completion(
        "", tool_calls=[tool_call("call_function_7", "get_weather", '{"city": "Oslo"}')], finish_reason="tool_calls"
    )
    fake.reply_json(body)
    fake.reply_json(body)

    answered = await sdk.chat.completions.create(model=MODEL, messages=HI, tools=[WEATHER])
    result = await chat(runtime, credentials, tools=[WEATHER])

    sdk_call = answered.choices[0].message.tool_calls[0]
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        (sdk_call.id, sdk_call.function.name, sdk_call.function.arguments)
    ]
    assert result.finish_reason == answered.choices[0].finish_reason == "tool_calls"
    prove("minimax", "llm", "tools")


async def test_stream_with_empty_roles_and_the_closing_repeat_is_read_alike(sdk, runtime, fake, credentials) -> None:
    events = stream_events(
        {"role": "assistant", "content": "", "reasoning_content": "Think."},
        {"role": "", "content": "Hel"},
        {"role": "", "content": "lo!"},
        final=completion("Hello!", usage=(9, 3)),
    )
    events[1]["usage"] = {"total_tokens": 0, "prompt_tokens": 0, "completion_tokens": 0}  # a zero-usage chunk
    fake.stream(*events)
    fake.stream(*events)

    sdk_stream = await sdk.post(
        "/chat/completions",
        cast_to=ChatCompletion,
        body={"model": MODEL, "messages": HI, "stream": True},
        stream=True,
        stream_cls=AsyncStream[ChatCompletionChunk],
    )
    sdk_chunks = [c async for c in sdk_stream]
    ours = await chat(runtime, credentials, stream=True)
    result = await ours.collect()

    sdk_text = "".join(c.choices[0].delta.content or "" for c in sdk_chunks if c.object == "chat.completion.chunk")
    assert sdk_text == result.content == "Hello!"  # the repeat of the whole message is not counted twice
    assert result.reasoning == "Think."
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)
    assert sdk_chunks[-1].usage is not None and sdk_chunks[-1].usage.total_tokens == 12
    prove("minimax", "llm", "streaming")


async def test_streamed_tool_call_is_read(runtime, fake, credentials) -> None:
    call = tool_call("call_function_1", "get_weather", '{"city": "Oslo"}')
    fake.stream(
        *stream_events(
            {"role": "assistant", "tool_calls": [{"index": 0, **call}]},
            final=completion("", tool_calls=[call], finish_reason="tool_calls"),
            finish_reason="tool_calls",
        )
    )
    result = await (await chat(runtime, credentials, tools=[WEATHER], stream=True)).collect()
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", '{"city": "Oslo"}')]
    assert result.finish_reason == "tool_calls"


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (1004, UpstreamAuthError),
        (2049, UpstreamAuthError),
        (1002, UpstreamRateLimitError),
        (1039, UpstreamRateLimitError),
        (1008, ProviderQuotaExhaustedError),
        (2013, UpstreamBadRequestError),
        (1026, ContentFilteredError),
        (1027, ContentFilteredError),
        (1013, UpstreamUnavailableError),
        (1001, UpstreamTimeoutError),
    ],
)
async def test_base_resp_errors_in_a_200_answer_map_to_the_hierarchy(runtime, fake, credentials, code, kind) -> None:
    fake.fail(code, f"code {code} happened")
    with pytest.raises(kind, match=f"code {code} happened") as caught:
        await chat(runtime, credentials)
    assert caught.value.vendor_code == str(code)


async def test_base_resp_error_mid_stream_is_raised(runtime, fake, credentials) -> None:
    fake.stream(
        chunk({"role": "assistant", "content": "Hel"}), {**chunk({"content": ""}), **failure(1027, "output sensitive")}
    )
    stream = await chat(runtime, credentials, stream=True)
    with pytest.raises(ContentFilteredError, match="output sensitive"):
        await stream.collect()


async def test_a_newer_gateways_non_200_error_maps_by_its_code(runtime, fake, credentials) -> None:
    # HTTP 429 whose code says the balance ran out (users' reports): quota, not a rate limit to retry.
    body = {
        "type": "error",
        "error": {"type": "insufficient_balance_error", "message": "insufficient balance (1008)", "http_code": "429"},
    }
    fake.reply_json(body, status=429)
    with pytest.raises(ProviderQuotaExhaustedError, match=r"insufficient balance \(1008\)"):
        await chat(runtime, credentials)


async def test_a_wrong_key_is_an_auth_error_that_does_not_echo_it(runtime, fake, credentials) -> None:
    with pytest.raises(UpstreamAuthError) as caught:
        await chat(runtime, {**credentials, "api_key": "sk-api-wrong-key-0123456789"})
    assert "wrong-key" not in str(caught.value)


async def test_tool_choice_other_than_auto_or_none_is_refused_before_any_call(runtime, fake, credentials) -> None:
    with pytest.raises(UnsupportedFeatureError, match="tool_choice"):
        await chat(runtime, credentials, tools=[WEATHER], tool_choice="required")
    assert fake.requests == []


# --- embeddings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("input_type", "wire_type"), [(None, "db"), ("document", "db"), ("query", "query")])
async def test_embeddings_send_texts_type_and_group_id(runtime, fake, credentials, input_type, wire_type) -> None:
    result = await runtime.embed(
        provider="minimax", model="embo-01", credentials=credentials, texts=["天很蓝", "海很深"], input_type=input_type
    )
    sent = fake.last
    assert (sent.path, sent.query) == ("/v1/embeddings", {"GroupId": GROUP})
    assert sent.json == {"model": "embo-01", "texts": ["天很蓝", "海很深"], "type": wire_type}
    assert len(result.vectors) == 2 and result.usage.prompt_tokens == 2
    prove("minimax", "text-embedding", "invoke")


async def test_embeddings_error_in_base_resp_is_raised(runtime, fake, credentials) -> None:
    fake.reply_json(
        {"vectors": None, "total_tokens": 0, "base_resp": {"status_code": 1008, "status_msg": "insufficient balance"}}
    )
    with pytest.raises(ProviderQuotaExhaustedError):
        await runtime.embed(provider="minimax", model="embo-01", credentials=credentials, texts=["a"])


async def test_embeddings_without_a_group_id_are_refused(runtime, credentials) -> None:
    with pytest.raises(CredentialsNotConfiguredError, match="GroupId"):
        await runtime.embed(
            provider="minimax", model="embo-01", credentials={**credentials, "group_id": ""}, texts=["a"]
        )
