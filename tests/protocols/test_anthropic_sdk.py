"""The Anthropic fake and adapter held to the vendor's own code: the `anthropic` SDK (2.14.0).

The SDK must parse everything the fake serves, and for the same logical call our request must match the SDK's,
field for field. One difference is on purpose: we send the key as `x-api-key` (the documented header), the 2.x
SDK as `Authorization: Bearer`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import pytest

from modelyard.errors import (
    InvalidRequestError,
    ProviderQuotaExhaustedError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.anthropic import SignedResult
from modelyard.types import Message
from tests.capabilities import prove
from tests.fakes.anthropic import SIGNATURE, sse, stream_events, text, thinking, tool_use
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
WEATHER_FUNCTION = {
    "type": "function",
    "function": {"name": WEATHER["name"], "description": WEATHER["description"], "parameters": WEATHER["input_schema"]},
}
PNG = "iVBORw0KGgoAAAANSUhEUg=="


@pytest.fixture
async def fake_anthropic() -> AsyncIterator:
    async with serving(FAKES["anthropic"]) as upstream:
        yield upstream


@pytest.fixture
async def sdk(fake_anthropic) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(base_url=fake_anthropic.url, api_key=SECRET, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def credentials(fake_anthropic) -> dict[str, str]:
    return {"anthropic_api_key": SECRET, "anthropic_api_url": fake_anthropic.url}


def assert_same_request(fake_anthropic) -> None:
    theirs, ours = fake_anthropic.requests[-2], fake_anthropic.requests[-1]
    assert ours.path == theirs.path == "/v1/messages"
    assert ours.json == theirs.json
    assert ours.headers["anthropic-version"] == theirs.headers["anthropic-version"] == "2026-10-21"
    assert ours.headers["content-type"] == theirs.headers["content-type"] == "application/json"
    assert theirs.headers["authorization"] == f"Bearer {SECRET}"
    assert ours.headers["x-api-key"] == SECRET


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_request_matches_the_sdk(sdk, runtime, fake_anthropic, credentials) -> None:
    await sdk.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Hi"}],
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
    )
    await runtime.chat(
        provider="anthropic",
        model="claude-sonnet-5-5",
        credentials=credentials,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=100,
        stop=["END"],
        user="u-1",
    )
    assert_same_request(fake_anthropic)


async def test_streamed_tool_request_matches_the_sdk(sdk, runtime, fake_anthropic, credentials) -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    stream = await sdk.messages.create(
        model="claude-opus-5-5",
        max_tokens=200,
        messages=messages,
        tools=[WEATHER],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        stream=True,
    )
    async for _ in stream:
        pass
    ours = await runtime.chat(
        provider="anthropic",
        model="claude-opus-5-5",
        credentials=credentials,
        messages=messages,
        tools=[WEATHER_FUNCTION],
        tool_choice="required",
        parallel_tool_calls=False,
        max_tokens=200,
        stream=True,
    )
    async for _ in ours:
        pass
    assert_same_request(fake_anthropic)


async def test_image_and_json_schema_request_matches_the_sdk(sdk, runtime, fake_anthropic, credentials) -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
    schema["additionalProperties"] = False
    await sdk.messages.create(
        model="claude-haiku-5-5",
        max_tokens=300,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Caption both"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
                ],
            }
        ],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    openai_shaped = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Caption both"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
            ],
        }
    ]
    from modelyard.protocols.openai import ingress

    request = ingress.chat_request(
        {
            "messages": openai_shaped,
            "max_tokens": 300,
            "response_format": {"type": "json_schema", "json_schema": {"name": "caption", "schema": schema}},
        }
    )
    await runtime.chat(provider="anthropic", model="claude-haiku-5-5", credentials=credentials, request=request)
    assert_same_request(fake_anthropic)
    prove("anthropic", "llm", "vision")
    prove("anthropic", "llm", "structured-output")


async def test_effort_and_disabled_thinking_match_the_sdk(sdk, runtime, fake_anthropic, credentials) -> None:
    messages = [{"role": "user", "content": "Think hard."}]
    await sdk.messages.create(
        model="claude-fable-5-1", max_tokens=64, messages=messages, output_config={"effort": "max"}
    )
    await runtime.chat(
        provider="anthropic",
        model="claude-fable-5-1",
        credentials=credentials,
        messages=messages,
        max_tokens=64,
        reasoning_effort="max",
    )
    assert_same_request(fake_anthropic)
    await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=64, messages=messages, thinking={"type": "disabled"}
    )
    await runtime.chat(
        provider="anthropic",
        model="claude-sonnet-5-5",
        credentials=credentials,
        messages=messages,
        max_tokens=64,
        reasoning_effort="none",
    )
    assert_same_request(fake_anthropic)


async def test_prompt_cache_breakpoints_from_openai_shaped_input_match_the_sdk(
    sdk, runtime, fake_anthropic, credentials
) -> None:
    hour, five = {"type": "ephemeral", "ttl": "1h"}, {"type": "ephemeral"}
    await sdk.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=100,
        system=[{"type": "text", "text": "House rules.", "cache_control": hour}],
        tools=[{**WEATHER, "cache_control": hour}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A long report.", "cache_control": five},
                    {"type": "text", "text": "Weather where it was written?"},
                ],
            },
            {"role": "assistant", "content": [tool_use("toolu_1", "get_weather", {"city": "Oslo"})]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny", "cache_control": five}
                ],
            },
        ],
    )
    # What a LiteLLM- or OpenRouter-style client sends: cache_control on parts, messages and tools.
    await runtime.chat(
        provider="anthropic",
        model="claude-sonnet-5-5",
        credentials=credentials,
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "House rules.", "cache_control": hour}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "A long report.", "cache_control": five},
                    {"type": "text", "text": "Weather where it was written?"},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny", "cache_control": five},
        ],
        tools=[{**WEATHER_FUNCTION, "cache_control": hour}],
        max_tokens=100,
    )
    assert_same_request(fake_anthropic)


async def test_automatic_caching_thinking_and_display_parameters_match_the_sdk(
    sdk, runtime, fake_anthropic, credentials
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    await sdk.messages.create(
        model="claude-sonnet-5-5",
        max_tokens=64,
        messages=messages,
        thinking={"type": "adaptive", "display": "summarized"},
        cache_control={"type": "ephemeral", "ttl": "1h"},
    )
    options = {"thinking": True, "thinking_display": "summarized", "prompt_cache": "1h"}
    await runtime.chat(
        provider="anthropic",
        model="claude-sonnet-5-5",
        credentials=credentials,
        messages=messages,
        max_tokens=64,
        extra=options,
    )
    assert_same_request(fake_anthropic)
    await sdk.messages.create(model="claude-haiku-5-5", max_tokens=64, messages=messages, thinking={"type": "disabled"})
    await runtime.chat(
        provider="anthropic",
        model="claude-haiku-5-5",
        credentials=credentials,
        messages=messages,
        max_tokens=64,
        extra={"thinking": False},
    )
    assert_same_request(fake_anthropic)


async def test_a_budget_thinking_model_turns_thinking_on_with_a_budget_as_the_sdk_does(
    sdk, runtime, fake_anthropic, credentials
) -> None:
    messages = [{"role": "user", "content": "Think."}]
    for asked, budget in (({"thinking": True}, 1024), ({"thinking": True, "thinking_budget": 4000}, 4000)):
        await sdk.messages.create(
            model="claude-haiku-4-5",
            max_tokens=8000,
            messages=messages,
            thinking={"type": "enabled", "budget_tokens": budget},
        )
        await runtime.chat(
            provider="anthropic",
            model="claude-haiku-4-5",
            credentials=credentials,
            messages=messages,
            max_tokens=8000,
            extra=asked,
        )
        assert_same_request(fake_anthropic)


async def test_a_task_budget_goes_with_its_beta_header_as_the_sdk_sends_it(
    sdk, runtime, fake_anthropic, credentials
) -> None:
    messages = [{"role": "user", "content": "Refactor the codebase."}]
    await sdk.beta.messages.create(
        model="claude-opus-5-5",
        max_tokens=1000,
        messages=messages,
        output_config={"effort": "high", "task_budget": {"type": "tokens", "total": 64000}},
        betas=["task-budgets-2026-03-13"],
    )
    result = await runtime.chat(
        provider="anthropic",
        model="claude-opus-5-5",
        credentials=credentials,
        messages=messages,
        max_tokens=1000,
        reasoning_effort="high",
        extra={"task_budget": 64000},
    )
    assert_same_request(fake_anthropic)
    assert fake_anthropic.last.headers["anthropic-beta"] == "task-budgets-2026-03-13"
    assert result.adjusted_params == ()


async def test_a_task_budget_below_the_minimum_is_left_out_and_reported_or_refused_when_strict(
    runtime, fake_anthropic, credentials
) -> None:
    call = {"provider": "anthropic", "model": "claude-opus-5-5", "credentials": credentials}
    result = await runtime.chat(**call, messages=[{"role": "user", "content": "x"}], extra={"task_budget": 5000})
    assert [(a.name, a.action) for a in result.adjusted_params] == [("task_budget", "dropped")]
    assert "task_budget" not in (fake_anthropic.last.json.get("output_config") or {})
    assert "anthropic-beta" not in fake_anthropic.last.headers
    with pytest.raises(InvalidRequestError, match="task_budget"):
        await runtime.chat(
            **call, messages=[{"role": "user", "content": "x"}], extra={"task_budget": 5000}, strict_params=True
        )
    assert len(fake_anthropic.requests) == 1


async def test_a_thinking_tool_turn_goes_back_with_its_signature_as_the_sdk_sends_it(
    sdk, runtime, fake_anthropic, credentials
) -> None:
    fake_anthropic.reply_message(
        [thinking("Need the weather."), tool_use("toolu_7", "get_weather", {"city": "Oslo"})], stop_reason="tool_use"
    )
    first = await runtime.chat(
        provider="anthropic",
        model="claude-opus-5-5",
        credentials=credentials,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_FUNCTION],
        max_tokens=500,
        reasoning_effort="high",
    )
    assert isinstance(first, SignedResult)
    wire = [
        {"role": "user", "content": "Weather in Oslo?"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "Need the weather.", "signature": SIGNATURE},
                {"type": "tool_use", "id": "toolu_7", "name": "get_weather", "input": {"city": "Oslo"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_7", "content": "-3C"}]},
    ]
    await sdk.messages.create(
        model="claude-opus-5-5", max_tokens=500, messages=wire, tools=[WEATHER], output_config={"effort": "high"}
    )
    await runtime.chat(
        provider="anthropic",
        model="claude-opus-5-5",
        credentials=credentials,
        messages=[Message.user("Weather in Oslo?"), first.message(), Message.tool("toolu_7", "-3C")],
        tools=[WEATHER_FUNCTION],
        max_tokens=500,
        reasoning_effort="high",
    )
    assert_same_request(fake_anthropic)
    prove("anthropic", "llm", "tools")


# --- the SDK parses everything the fake serves ---------------------------------------------------------------------


async def test_sdk_parses_text_tool_use_and_thinking_answers(sdk, fake_anthropic) -> None:
    fake_anthropic.reply_message(
        [thinking("Hmm."), text("Let me check."), tool_use("toolu_1", "get_weather", {"city": "Paris"})],
        stop_reason="tool_use",
    )
    answer = await sdk.messages.create(
        model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "?"}], tools=[WEATHER]
    )
    assert [block.type for block in answer.content] == ["thinking", "text", "tool_use"]
    assert answer.content[0].signature == SIGNATURE
    assert answer.content[2].input == {"city": "Paris"}
    assert answer.stop_reason == "tool_use"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (9, 3)


async def test_sdk_accumulates_the_stream_with_input_json_and_signature_deltas(sdk, fake_anthropic) -> None:
    content = [thinking("Two cities."), text("Checking both."), tool_use("toolu_1", "get_weather", {"city": "Paris"})]
    fake_anthropic.stream(
        sse(*stream_events(content, stop_reason="tool_use", input_tokens=21, output_tokens=30, piece=2)), piece_size=5
    )
    async with sdk.messages.stream(
        model="claude-sonnet-5-5", max_tokens=50, messages=[{"role": "user", "content": "?"}], tools=[WEATHER]
    ) as stream:
        texts = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(texts) == "Checking both."
    assert final.content[0].thinking == "Two cities." and final.content[0].signature == SIGNATURE
    assert final.content[2].input == {"city": "Paris"}
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("tool_use", 21, 30)


async def test_sdk_and_runtime_read_an_error_inside_a_200_stream(sdk, runtime, fake_anthropic, credentials) -> None:
    broken = sse(*stream_events([text("Hello")])[:3]) + sse(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    fake_anthropic.stream(broken)
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        stream = await sdk.messages.create(
            model="claude-sonnet-5-5", max_tokens=5, messages=[{"role": "user", "content": "?"}], stream=True
        )
        async for _ in stream:
            pass
    fake_anthropic.stream(broken)
    ours = await runtime.chat(
        provider="anthropic",
        model="claude-sonnet-5-5",
        credentials=credentials,
        messages=[Message.user("?")],
        stream=True,
    )
    with pytest.raises(UpstreamUnavailableError, match="Overloaded"):
        async for _ in ours:
            pass


@pytest.mark.parametrize(
    ("status", "kind", "sdk_error"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (403, "permission_error", anthropic.PermissionDeniedError),
        (404, "not_found_error", anthropic.NotFoundError),
        (413, "request_too_large", anthropic.ContentTooLargeError),
        (429, "rate_limit_error", anthropic.RateLimitError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
async def test_sdk_reads_the_fakes_error_bodies(sdk, fake_anthropic, status, kind, sdk_error) -> None:
    fake_anthropic.fail(status, kind, "boom")
    with pytest.raises(sdk_error) as caught:
        await sdk.messages.create(model="claude-sonnet-5-5", max_tokens=5, messages=[{"role": "user", "content": "?"}])
    assert caught.value.type == kind


async def test_runtime_maps_429_overloaded_and_spend_limits(runtime, fake_anthropic, credentials) -> None:
    async def call():
        return await runtime.chat(
            provider="anthropic", model="claude-haiku-5-5", credentials=credentials, messages=[Message.user("?")]
        )

    fake_anthropic.fail(429, "rate_limit_error", "slow down", headers={"retry-after": "7"})
    with pytest.raises(UpstreamRateLimitError) as limited:
        await call()
    assert limited.value.retry_after_s == 7
    fake_anthropic.fail(529, "overloaded_error", "Overloaded")
    with pytest.raises(UpstreamUnavailableError):
        await call()
    fake_anthropic.fail(429, "rate_limit_error", "cap", error_code="enforced_spend_limit_reached")
    with pytest.raises(ProviderQuotaExhaustedError):
        await call()


async def test_runtime_streams_text_tools_and_reasoning_with_usage(runtime, fake_anthropic, credentials) -> None:
    content = [thinking("Hmm."), text("Sure."), tool_use("toolu_1", "get_weather", {"city": "Rome"})]
    fake_anthropic.stream(
        sse(*stream_events(content, stop_reason="tool_use", input_tokens=40, output_tokens=12, piece=3)), piece_size=6
    )
    stream = await runtime.chat(
        provider="anthropic",
        model="claude-sonnet-5-5",
        credentials=credentials,
        messages=[Message.user("Weather in Rome?")],
        tools=[WEATHER_FUNCTION],
        stream=True,
    )
    result = await stream.collect()
    assert (result.content, result.reasoning) == ("Sure.", "Hmm.")
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("toolu_1", "get_weather", '{"city":"Rome"}')]
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (40, 12)
    assert result.usage.total_price > 0  # priced from the catalog
    prove("anthropic", "llm", "streaming")
    prove("anthropic", "llm", "invoke")


async def test_remote_models_are_listed(runtime, fake_anthropic, credentials) -> None:
    models = await runtime.list_remote_models(provider="anthropic", credentials=credentials)
    assert [m.id for m in models] == ["claude-haiku-5-5", "claude-sonnet-5-5"]
    assert fake_anthropic.last.headers["x-api-key"] == SECRET
