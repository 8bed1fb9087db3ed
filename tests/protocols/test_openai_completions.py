"""Completion mode on the OpenAI wire (the legacy /completions), held to the `openai` SDK's `completions.create`.

The SDK must parse what the fake answers, and for the same logical call our request must match the SDK's, field
for field; the answer comes back as the same unified ChatResult and chunks a chat model's would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import orjson
import pytest

from modelyard.errors import UnsupportedFeatureError, UpstreamRateLimitError
from modelyard.protocols.completion_prompt import TURN_STOP
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatRequest, Message, ResponseFormat
from tests.fakes.openai import sse, text_completion
from tests.protocols.targets import target
from tests.protocols.test_openai_sdk import WEATHER, assert_same_request
from tests.support import SECRET

protocol = OpenAI()


@pytest.fixture
async def sdk(fake_openai) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{fake_openai.url}/v1", api_key=SECRET, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def form(fake_openai) -> dict[str, str]:
    return {"endpoint_url": f"{fake_openai.url}/v1", "api_key": SECRET, "mode": "completion"}


async def complete(runtime, form: dict[str, str], provider: str = "openai_api_compatible", **params):
    return await runtime.chat(provider=provider, model="base-7b", credentials=form, **params)


def completion_target():
    return target(properties={"mode": "completion"}, features=())


# --- the same logical call, the same request as the SDK -------------------------------------------------------------


async def test_a_prompt_goes_to_completions_as_the_sdk_sends_it(sdk, runtime, fake_openai, form) -> None:
    sampling = {"temperature": 0.5, "top_p": 0.9, "max_tokens": 50, "stop": ["END"], "seed": 3, "user": "u-1"}
    penalties = {"presence_penalty": 0.1, "frequency_penalty": 0.2}
    await sdk.completions.create(model="base-7b", prompt="Once upon a time", **sampling, **penalties)
    result = await complete(
        runtime, form, messages=[{"role": "user", "content": "Once upon a time"}], **sampling, **penalties
    )
    assert_same_request(fake_openai)
    assert fake_openai.last.path == "/v1/completions"
    assert (result.content, result.finish_reason, result.id) == ("Hello!", "stop", "cmpl-fake")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.is_estimated) == (5, 2, False)


async def test_a_streamed_completion_matches_the_sdk_and_ends_with_the_servers_usage(
    sdk, runtime, fake_openai, form
) -> None:
    pieces = []
    async for chunk in await sdk.completions.create(
        model="base-7b", prompt="Once", stream=True, stream_options={"include_usage": True}
    ):
        pieces.append(chunk.choices[0].text if chunk.choices else f"usage={chunk.usage.total_tokens}")
    assert pieces == ["Hel", "lo!", "usage=7"]  # the SDK reads the fake's stream
    stream = await complete(runtime, form, messages=[{"role": "user", "content": "Once"}], stream=True)
    collected = await stream.collect()
    assert_same_request(fake_openai)
    assert (collected.content, collected.finish_reason) == ("Hello!", "stop")
    assert (collected.usage.prompt_tokens, collected.usage.completion_tokens) == (5, 2)


async def test_a_server_refusing_stream_options_gets_none_and_usage_is_counted_here(
    sdk, runtime, fake_openai, form
) -> None:
    async for _ in await sdk.completions.create(model="base-7b", prompt="Once", stream=True):
        pass
    form |= {"stream_include_usage": "disabled"}
    collected = await (
        await complete(runtime, form, messages=[{"role": "user", "content": "Once"}], stream=True)
    ).collect()
    assert_same_request(fake_openai)
    assert collected.usage.is_estimated


async def test_a_conversation_goes_as_the_templates_turns_with_its_stop(sdk, runtime, fake_openai, form) -> None:
    text = "Be brief.\n\nUser: Hi\n\nAssistant: Hello.\n\nUser: A colour?\n\nAssistant:"
    await sdk.completions.create(model="base-7b", prompt=text, stop=[TURN_STOP])
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "A colour?"},
    ]
    await complete(runtime, form, messages=messages)
    assert_same_request(fake_openai)


@pytest.mark.parametrize(
    ("provider", "extra"),
    [("gpustack", {"api_path": "/v1"}), ("localai", {}), ("openai_api_compatible", {})],
)
async def test_every_openai_compatible_form_offers_completion_mode(runtime, fake_openai, provider, extra) -> None:
    url_field = {"gpustack": "endpoint_url", "localai": "server_url"}.get(provider, "endpoint_url")
    url = fake_openai.url if provider != "openai_api_compatible" else f"{fake_openai.url}/v1"
    form = {url_field: url, "api_key": SECRET, "mode": "completion", **extra}
    result = await complete(runtime, form, provider=provider, messages=[{"role": "user", "content": "Once"}])
    assert (fake_openai.last.path, fake_openai.last.json["prompt"], result.content) == (
        "/v1/completions",
        "Once",
        "Hello!",
    )


# --- what the legacy endpoint cannot carry ------------------------------------------------------------------------


async def test_tools_are_refused_by_name_before_any_request(runtime, fake_openai, form) -> None:
    form |= {"function_calling_type": "tool_call"}  # a form that claims tools still gets no tools in completion mode
    with pytest.raises(UnsupportedFeatureError) as caught:
        await complete(runtime, form, messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER])
    assert caught.value.field == "tools"
    assert fake_openai.requests == []


async def test_chat_only_parameters_are_dropped_and_reported(runtime, fake_openai, form) -> None:
    result = await complete(
        runtime,
        form,
        messages=[{"role": "user", "content": "Once"}],
        response_format={"type": "json_object"},
        reasoning_effort="low",
    )
    assert {"response_format", "reasoning_effort"}.isdisjoint(fake_openai.last.json)
    assert {(a.name, a.action) for a in result.adjusted_params} == {
        ("response_format", "dropped"),
        ("reasoning_effort", "dropped"),
    }


async def test_a_chat_model_of_the_same_form_still_speaks_chat_completions(runtime, fake_openai, form) -> None:
    await complete(runtime, form | {"mode": "chat"}, messages=[{"role": "user", "content": "Hi"}])
    assert fake_openai.last.path == "/v1/chat/completions"


async def test_errors_come_back_mapped_as_for_chat(runtime, fake_openai, form) -> None:
    fake_openai.fail(429, "slow down", headers={"Retry-After": "3"}, code="rate_limit_exceeded")
    with pytest.raises(UpstreamRateLimitError) as caught:
        await complete(runtime, form, messages=[{"role": "user", "content": "Once"}])
    assert caught.value.retry_after_s == 3


# --- answers on bytes ---------------------------------------------------------------------------------------------


def test_the_max_tokens_field_is_always_max_tokens_on_completions() -> None:
    request = ChatRequest(messages=(Message.user("Once"),), max_tokens=9, response_format=ResponseFormat("text"))
    built = protocol.build_chat(completion_target(), request, stream=False)
    assert built.url.endswith("/completions")
    assert orjson.loads(built.body) == {"model": "acme-1", "prompt": "Once", "max_tokens": 9}


def test_a_length_cut_and_a_stream_in_pieces_read_as_chat_would() -> None:
    answer = protocol.parse_chat(completion_target(), orjson.dumps(text_completion("Once", finish_reason="length")))
    assert (answer.content, answer.finish_reason) == ("Once", "length")
    parser = protocol.chat_stream_parser(completion_target())
    body = sse(text_completion("A", finish_reason=None, usage=None), text_completion("B", usage=(1, 2)))
    chunks = [parser.feed(ServerSentEvent(line.removeprefix(b"data: "))) for line in body.split(b"\n\n") if line]
    assert [(c.content, c.finish_reason) for c in chunks if c] == [("A", None), ("B", "stop")]
    assert chunks[1].usage.completion_tokens == 2
    assert parser.finished
