"""Completion mode on Ollama's native API (`/api/generate`), held to the `ollama` SDK's `generate`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import ollama
import pytest

from modelyard.errors import UnsupportedFeatureError
from modelyard.protocols.completion_prompt import TURN_STOP
from tests.fakes.ollama import FakeOllama, generate_line
from tests.fakes.registry import FAKES, serving
from tests.protocols.test_ollama import WEATHER, assert_same_request
from tests.support import SECRET


@pytest.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with serving(FAKES["ollama"]) as upstream:
        yield upstream


@pytest.fixture
async def sdk(fake) -> AsyncIterator[ollama.AsyncClient]:
    client = ollama.AsyncClient(host=fake.url, headers={"Authorization": f"Bearer {SECRET}"})
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def form(fake) -> dict[str, str]:
    return {"base_url": fake.url, "api_key": SECRET, "mode": "completion"}


async def generate(runtime, form, **params):
    return await runtime.chat(provider="ollama", model="llama3.2:text", credentials=form, **params)


async def test_a_prompt_goes_to_api_generate_as_the_sdk_sends_it(sdk, runtime, fake, form) -> None:
    options = {"temperature": 0.5, "num_predict": 40, "stop": ["END"], "seed": 3}
    answer = await sdk.generate(model="llama3.2:text", prompt="Once upon a time", options=options, keep_alive="5m")
    assert answer.response == "Hello!"  # the SDK reads the fake's answer
    result = await generate(
        runtime,
        form,
        messages=[{"role": "user", "content": "Once upon a time"}],
        temperature=0.5,
        max_tokens=40,
        stop=["END"],
        seed=3,
        extra={"keep_alive": "5m"},
    )
    assert_same_request(fake)
    assert fake.last.path == "/api/generate"
    assert (result.content, result.finish_reason) == ("Hello!", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (5, 2)


async def test_a_streamed_conversation_matches_the_sdk_and_is_read_line_by_line(sdk, runtime, fake, form) -> None:
    text = "User: Hi\n\nAssistant: Hello.\n\nUser: More?\n\nAssistant:"
    pieces = [
        line.response
        async for line in await sdk.generate(
            model="llama3.2:text", prompt=text, stream=True, options={"stop": [TURN_STOP]}
        )
    ]
    assert "".join(pieces) == "Hello!"
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "More?"},
    ]
    collected = await (await generate(runtime, form, messages=messages, stream=True)).collect()
    assert_same_request(fake)
    assert (collected.content, collected.finish_reason, collected.usage.completion_tokens) == ("Hello!", "stop", 2)


async def test_a_length_cut_is_reported_as_for_chat(runtime, fake, form) -> None:
    fake.reply_ollama(generate_line("Once", done=True, done_reason="length"))
    result = await generate(runtime, form, messages=[{"role": "user", "content": "Go"}])
    assert (result.content, result.finish_reason) == ("Once", "length")


async def test_tools_are_refused_by_name_and_tool_choice_is_reported(runtime, fake, form) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        await generate(
            runtime,
            form | {"function_calling_type": "tool_call"},
            messages=[{"role": "user", "content": "?"}],
            tools=[WEATHER],
        )
    assert caught.value.field == "tools"
    assert fake.requests == []
    result = await generate(runtime, form, messages=[{"role": "user", "content": "Go"}], tool_choice="none")
    assert [(a.name, a.action) for a in result.adjusted_params] == [("tool_choice", "dropped")]
