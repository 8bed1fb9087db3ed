"""Issue 14's findings, each held against the provider's strict fake (tests/fakes/vendor_rules.py): the shipped
catalog's rules and quirks decide what goes on the wire, and what they change is reported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.base import Target
from modelyard.types import ChatRequest, ImagePart, Message, TextPart, ToolCall
from modelyard.types.chat import NamedToolChoice, ResponseFormat
from tests.catalog.filling import configuration
from tests.fakes.registry import FAKES, serving

WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
CALL = ToolCall("call_1", "get_weather", '{"q": "Oslo"}')
PIXEL = "data:image/png;base64,iVBORw0KGgo="


@asynccontextmanager
async def provider_upstream(
    runtime, provider: str, **overrides: str
) -> AsyncIterator[tuple[Any, Callable[[str], Target]]]:
    """The provider's fake, and a function giving the target of one of its catalog models aimed at it."""
    binding = runtime.binding(provider)
    fake = FAKES[binding.spec.protocol]
    async with serving(fake) as upstream:
        _, _, values = configuration(binding.spec, "llm", upstream.url)
        values.update(overrides)

        def target(model: str) -> Target:
            aimed = runtime.target(provider, model, "llm", values, base_url=fake.base_url(binding, upstream.url))
            return fake.adjust(aimed)

        yield upstream, target


def chat(*messages: Message, **params: Any) -> ChatRequest:
    return ChatRequest(messages=messages or (Message.user("Hi"),), **params)


# --- 1. Mistral streams -------------------------------------------------------------------------------------------


async def test_mistral_streams_without_stream_options_the_api_forbids(runtime) -> None:
    async with provider_upstream(runtime, "mistralai") as (upstream, target):
        stream = await runtime.invoke_chat(target("mistral-medium-latest"), chat(), stream=True)
        assert (await stream.collect()).content == "Hello!"
    assert upstream.requests[-1].json["stream"] is True
    assert "stream_options" not in upstream.requests[-1].json


async def test_mistral_drops_and_reports_the_user_field_its_schema_forbids(runtime) -> None:
    async with provider_upstream(runtime, "mistralai") as (upstream, target):
        result = await runtime.invoke_chat(target("mistral-medium-latest"), chat(user="u-1"), stream=False)
    assert "user" not in upstream.requests[-1].json
    assert result.dropped_params == ("user",)


# --- 2-4. Moonshot thinking models ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["kimi-k3", "kimi-k2.7-code", "kimi-k2.6", "kimi-k2.5"])
async def test_moonshot_thinking_models_never_send_the_fixed_sampling(runtime, model: str) -> None:
    request = chat(temperature=0.2, top_p=0.5, presence_penalty=0.1)
    async with provider_upstream(runtime, "moonshot") as (upstream, target):
        result = await runtime.invoke_chat(target(model), request, stream=False)
    assert not {"temperature", "top_p", "presence_penalty"} & upstream.requests[-1].json.keys()
    assert [(a.name, a.reason) for a in result.adjusted_params] == [
        ("temperature", "fixed by the vendor at 1.0"),
        ("top_p", "fixed by the vendor at 0.95"),
        ("presence_penalty", "fixed by the vendor at 0"),
    ]


async def test_moonshot_thinking_model_gets_reasoning_content_on_a_tool_call_turn_without_it(runtime) -> None:
    history = (
        Message.user("Weather in Oslo?"),
        Message.assistant(tool_calls=[CALL]),  # the caller kept no reasoning
        Message.tool("call_1", "-3 C"),
    )
    async with provider_upstream(runtime, "moonshot") as (upstream, target):
        await runtime.invoke_chat(target("kimi-k2.6"), chat(*history, tools=(WEATHER,)), stream=False)
    sent = upstream.requests[-1].json["messages"][1]
    assert sent["reasoning_content"] == "" and sent["tool_calls"][0]["id"] == "call_1"


async def test_moonshot_v1_models_keep_their_own_replay_rule(runtime) -> None:
    history = (Message.user("Weather?"), Message.assistant(tool_calls=[CALL]), Message.tool("call_1", "-3 C"))
    async with provider_upstream(runtime, "moonshot") as (upstream, target):
        await runtime.invoke_chat(target("moonshot-v1-8k"), chat(*history, tools=(WEATHER,)), stream=False)
    assert "reasoning_content" not in upstream.requests[-1].json["messages"][1]


@pytest.mark.parametrize(
    ("model", "choice"),
    [("kimi-k2.6", "required"), ("kimi-k2.7-code", NamedToolChoice("get_weather")), ("kimi-k3", NamedToolChoice("x"))],
)
async def test_moonshot_refuses_a_forced_tool_choice_before_sending_naming_the_model(runtime, model, choice) -> None:
    async with provider_upstream(runtime, "moonshot") as (upstream, target):
        with pytest.raises(UnsupportedFeatureError) as caught:
            await runtime.invoke_chat(target(model), chat(tools=(WEATHER,), tool_choice=choice), stream=False)
    assert caught.value.field == "tool_choice"
    assert str(caught.value).startswith(f"[moonshot] {model} does not take tool_choice=")
    assert upstream.requests == []


async def test_kimi_k3_takes_a_required_tool_choice(runtime) -> None:
    async with provider_upstream(runtime, "moonshot") as (upstream, target):
        request = chat(tools=(WEATHER,), tool_choice="required")
        result = await runtime.invoke_chat(target("kimi-k3"), request, stream=False)
    assert upstream.requests[-1].json["tool_choice"] == "required"
    assert [call.name for call in result.tool_calls] == ["get_weather"]


# --- 6. StepFun image detail -------------------------------------------------------------------------------------


async def test_an_image_goes_without_detail_unless_the_caller_chose_one(runtime) -> None:
    plain = chat(Message.user([TextPart("What is this?"), ImagePart(PIXEL)]))
    high = chat(Message.user([TextPart("What is this?"), ImagePart(PIXEL, "high")]))
    async with provider_upstream(runtime, "stepfun") as (upstream, target):
        await runtime.invoke_chat(target("step-3.7-flash"), plain, stream=False)
        await runtime.invoke_chat(target("step-3.7-flash"), high, stream=False)
    first, second = (r.json["messages"][0]["content"][1]["image_url"] for r in upstream.requests)
    assert first == {"url": PIXEL}
    assert second == {"url": PIXEL, "detail": "high"}


# --- 8. Declared limits act on the wire: no streamed tool calls ----------------------------------------------------


@pytest.mark.parametrize(("provider", "model"), [("zhinao", "360gpt-pro"), ("baichuan", "Baichuan4-Air")])
async def test_a_model_without_streamed_tool_calls_is_called_whole_and_streamed_to_the_caller(
    runtime, provider: str, model: str
) -> None:
    async with provider_upstream(runtime, provider) as (upstream, target):
        stream = await runtime.invoke_chat(target(model), chat(tools=(WEATHER,)), stream=True)
        chunks = [chunk async for chunk in stream]
    assert not upstream.requests[-1].json.get("stream")
    assert [delta.name for chunk in chunks for delta in chunk.tool_calls] == ["get_weather"]
    assert chunks[-1].finish_reason == "tool_calls" and chunks[-1].usage is not None


async def test_a_stream_without_tools_still_streams_upstream(runtime) -> None:
    async with provider_upstream(runtime, "zhinao") as (upstream, target):
        stream = await runtime.invoke_chat(target("360gpt-pro"), chat(), stream=True)
        assert (await stream.collect()).content == "Hello!"
    assert upstream.requests[-1].json["stream"] is True


# --- 9. Qianfan v2: ERNIE 4.5 and X1 Turbo take a conversation that ends with the user ------------------------------


async def test_ernie_45_refuses_a_conversation_ending_with_a_tool_result_before_sending(runtime) -> None:
    history = (Message.user("Weather?"), Message.assistant(tool_calls=[CALL]), Message.tool("call_1", "-3 C"))
    async with provider_upstream(runtime, "wenxin", api_style="v2") as (upstream, target):
        with pytest.raises(UnsupportedFeatureError) as caught:
            await runtime.invoke_chat(target("ernie-4.5-turbo-32k"), chat(*history, tools=(WEATHER,)), stream=False)
        asked = chat(*history, Message.user("And tomorrow?"), tools=(WEATHER,))
        await runtime.invoke_chat(target("ernie-4.5-turbo-32k"), asked, stream=False)
        await runtime.invoke_chat(target("ernie-4.0-8k"), chat(*history, tools=(WEATHER,)), stream=False)
    assert caught.value.field == "messages"
    assert "ernie-4.5-turbo-32k" in str(caught.value)
    assert [r.json["model"] for r in upstream.requests if r.path == "/v2/chat/completions"] == [
        "ernie-4.5-turbo-32k",
        "ernie-4.0-8k",
    ]


# --- Anthropic under API version 2026-10-21 -------------------------------------------------------------------------


async def test_anthropic_reports_the_sampling_parameters_its_api_version_refuses(runtime) -> None:
    request = chat(temperature=0.5, top_p=0.9, seed=3, extra={"top_k": 5})
    async with provider_upstream(runtime, "anthropic") as (upstream, target):
        result = await runtime.invoke_chat(target("claude-haiku-5-5"), request, stream=False)
    assert not {"temperature", "top_p", "top_k", "seed"} & upstream.requests[-1].json.keys()
    assert sorted(result.dropped_params) == ["seed", "temperature", "top_k", "top_p"]


async def test_claude_sonnet_55_refuses_forced_tool_use_before_sending(runtime) -> None:
    async with provider_upstream(runtime, "anthropic") as (upstream, target):
        with pytest.raises(UnsupportedFeatureError) as caught:
            request = chat(tools=(WEATHER,), tool_choice="required")
            await runtime.invoke_chat(target("claude-sonnet-5-5"), request, stream=False)
    assert caught.value.field == "tool_choice" and upstream.requests == []


# --- Custom models get their form's defaults in the library, as in the services ---------------------------------------


async def test_an_ollama_custom_model_takes_json_schema_when_its_form_defaults_to_supported(runtime) -> None:
    binding = runtime.binding("ollama")
    fake = FAKES["ollama"]
    async with serving(fake) as upstream:
        credentials = {"base_url": upstream.url, "mode": "chat", "context_size": "4096"}  # no structured_output_support
        target = runtime.target("ollama", "llama3.2", "llm", credentials, base_url=fake.base_url(binding, upstream.url))
        schema = ResponseFormat("json_schema", "answer", {"type": "object", "properties": {}})
        result = await runtime.invoke_chat(target, chat(response_format=schema), stream=False)
    assert result.content
    assert upstream.requests[-1].json["format"] == {"type": "object", "properties": {}}


# --- Reporting and strict mode through the library --------------------------------------------------------------


async def test_a_stream_reports_its_adjustments_before_the_first_chunk_and_in_its_result(runtime) -> None:
    async with provider_upstream(runtime, "moonshot") as (_, target):
        stream = await runtime.invoke_chat(target("kimi-k2.6"), chat(temperature=0.3), stream=True)
        assert [a.name for a in stream.adjusted_params] == ["temperature"]
        assert (await stream.collect()).dropped_params == ("temperature",)


async def test_strict_mode_refuses_per_call_and_per_runtime_naming_parameter_and_model(runtime) -> None:
    async with provider_upstream(runtime, "mistralai") as (upstream, target):
        with pytest.raises(InvalidRequestError) as per_call:
            await runtime.invoke_chat(
                target("mistral-medium-latest"), chat(user="u-1"), stream=False, strict_params=True
            )
        runtime.strict_params = True
        try:
            with pytest.raises(InvalidRequestError) as per_runtime:
                await runtime.invoke_chat(target("mistral-medium-latest"), chat(temperature=9.0), stream=False)
            allowed = await runtime.invoke_chat(target("mistral-medium-latest"), chat(temperature=1.0), stream=False)
        finally:
            runtime.strict_params = False
    assert (per_call.value.field, per_runtime.value.field) == ("user", "temperature")
    assert "[mistralai] mistral-medium-latest does not take temperature=9.0" in str(per_runtime.value)
    assert allowed.adjusted_params == ()
    assert len(upstream.requests) == 1  # only the call strict mode let through was sent
