"""The library takes OpenAI-shaped dicts for tool_choice and response_format on every protocol, as the gateway does;
any other value is an InvalidRequestError naming the parameter, never a TypeError, AttributeError or AssertionError."""

from __future__ import annotations

from typing import Any

import pytest

from modelyard.catalog import default_catalog
from modelyard.errors import InvalidRequestError, ModelyardError
from modelyard.runtime.chat_input import checked_chat_request, response_format, tool_choice
from modelyard.types import ChatRequest, Message, ResponseFormat
from modelyard.types.chat import NamedToolChoice
from tests.catalog.filling import configuration
from tests.fakes.registry import FAKES, serving

WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}},
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {}}}}


def _first_chat_model_per_protocol(feature: str) -> list[tuple[str, str]]:
    """(provider, model) for one catalog model per protocol that declares `feature`."""
    chosen: dict[str, tuple[str, str]] = {}
    for spec in default_catalog():
        model = next((m for m in spec.models if m.type == "llm" and m.supports(feature) and not m.deprecated), None)
        if model is not None and spec.protocol in FAKES:
            chosen.setdefault(spec.protocol, (spec.id, model.id))
    return sorted(chosen.values())


TOOL_MODELS = _first_chat_model_per_protocol("tool-call")
SCHEMA_MODELS = _first_chat_model_per_protocol("structured-output")


async def _call(runtime, provider: str, model: str, **params: Any) -> Any:
    binding = runtime.binding(provider)
    fake = FAKES[binding.spec.protocol]
    async with serving(fake) as upstream:
        _, _, values = configuration(binding.spec, "llm", upstream.url)
        target = fake.adjust(
            runtime.target(provider, model, "llm", values, base_url=fake.base_url(binding, upstream.url))
        )
        request = checked_chat_request(ChatRequest(messages=(Message.user("Weather in Oslo?"),), **params))
        try:
            return await runtime.invoke_chat(target, request, stream=False), upstream
        except ModelyardError as exc:  # a model or wire may refuse a choice; it must say so in our terms
            return exc, upstream


@pytest.mark.parametrize(("provider", "model"), TOOL_MODELS)
async def test_an_openai_shaped_named_tool_choice_reaches_every_protocol(runtime, provider: str, model: str) -> None:
    outcome, _ = await _call(runtime, provider, model, tools=(WEATHER,), tool_choice=NAMED)
    if isinstance(outcome, ModelyardError):
        assert not isinstance(outcome, InvalidRequestError) or outcome.field in ("tool_choice", "tools")
    else:
        assert [call.name for call in outcome.tool_calls] == ["get_weather"]


@pytest.mark.parametrize(("provider", "model"), SCHEMA_MODELS)
async def test_an_openai_shaped_response_format_reaches_every_protocol(runtime, provider: str, model: str) -> None:
    outcome, _ = await _call(runtime, provider, model, response_format=SCHEMA)
    assert not isinstance(outcome, ModelyardError), outcome
    assert outcome.content


async def test_bedrock_sends_a_named_tool_choice_it_used_to_drop(runtime) -> None:
    provider, model = next(pm for pm in TOOL_MODELS if default_catalog().get(pm[0]).protocol == "bedrock")
    outcome, upstream = await _call(runtime, provider, model, tools=(WEATHER,), tool_choice=NAMED)
    assert not isinstance(outcome, ModelyardError), outcome
    assert upstream.requests[-1].json["toolConfig"]["toolChoice"] == {"tool": {"name": "get_weather"}}


@pytest.mark.parametrize(("provider", "model"), TOOL_MODELS)
@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("tool_choice", 42),
        ("tool_choice", {"type": "function"}),
        ("response_format", 42),
        ("response_format", {"type": "xml"}),
        ("temperature", "hot"),
        ("stop", 7),
    ],
)
async def test_any_other_value_is_an_invalid_request_naming_the_parameter(
    runtime, provider: str, model: str, param: str, value: Any
) -> None:
    _, _, credentials = configuration(default_catalog().get(provider), "llm", "http://127.0.0.1:9")
    with pytest.raises(InvalidRequestError) as caught:  # refused before any connection is made
        await runtime.chat(
            provider=provider,
            model=model,
            credentials=credentials,
            messages=[{"role": "user", "content": "Hi"}],
            tools=[WEATHER],
            **{param: value},
        )
    assert caught.value.field == param


def test_tool_choice_takes_openai_and_anthropic_shapes() -> None:
    assert tool_choice(NAMED) == NamedToolChoice("get_weather")
    assert tool_choice({"type": "tool", "name": "get_weather"}) == NamedToolChoice("get_weather")
    assert tool_choice({"type": "any"}) == "required"
    assert tool_choice("auto") == "auto"


def test_response_format_takes_openai_dicts() -> None:
    assert response_format({"type": "json_object"}) == ResponseFormat("json_object")
    parsed = response_format(SCHEMA)
    assert (parsed.type, parsed.name, parsed.schema) == ("json_schema", "answer", {"type": "object", "properties": {}})
