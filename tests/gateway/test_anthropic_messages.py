"""POST /v1/messages: the official `anthropic` SDK, pointed at the gateway, works unchanged whatever the upstream
speaks (an OpenAI-wire provider, or Anthropic itself); and the OpenAI SDK reaches Anthropic models through /v1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import anthropic
import openai
import orjson
import pytest

from tests.capabilities import prove
from tests.fakes.anthropic import SIGNATURE, stream_events, text, thinking, tool_use
from tests.fakes.anthropic import sse as anthropic_sse
from tests.fakes.openai import chat_chunk, sse, tool_call, usage_chunk
from tests.fakes.registry import FAKES, serving
from tests.support import SECRET

WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
PNG = "iVBORw0KGgoAAAANSUhEUg=="
IMAGE_TURN = {
    "role": "user",
    "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
    ],
}


@pytest.fixture
async def fake_anthropic() -> AsyncIterator:
    async with serving(FAKES["anthropic"]) as upstream:
        yield upstream


@pytest.fixture
async def with_anthropic(gateway, fake_anthropic) -> None:
    values = {"anthropic_api_key": SECRET, "anthropic_api_url": fake_anthropic.url}
    await gateway.services.credentials.create(
        workspace_id=gateway.workspace_id, provider="anthropic", values=values, validate=False
    )


@pytest.fixture
async def with_openai(gateway, openai_credentials) -> None:
    await gateway.services.credentials.create(
        workspace_id=gateway.workspace_id, provider="openai", values=openai_credentials, validate=False
    )


@pytest.fixture
async def client(gateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    sdk = anthropic.AsyncAnthropic(base_url=gateway.url, api_key=gateway.api_key, max_retries=0)
    try:
        yield sdk
    finally:
        await sdk.close()


# --- an OpenAI-wire upstream -------------------------------------------------------------------------------------


async def test_plain_message_from_an_openai_upstream(client, fake_openai) -> None:
    fake_openai.reply_chat("Bonjour !", usage=(12, 4))
    raw = await client.messages.with_raw_response.create(
        model="deepseek/deepseek-flash",
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Say hi in French"}],
        stop_sequences=["END"],
    )
    answer = await raw.parse()
    assert answer.content[0].text == "Bonjour !"
    assert (answer.stop_reason, answer.model, answer.role) == ("end_turn", "deepseek-flash", "assistant")
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (12, 4)
    assert answer.id.startswith("msg_")
    assert raw.headers["x-modelyard-provider"] == "deepseek"
    assert raw.headers["request-id"].startswith("req_")
    sent = fake_openai.last.json
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hi in French"},
    ]
    assert (sent["max_tokens"], sent["stop"]) == (100, ["END"])


async def test_streamed_message_from_an_openai_upstream(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"role": "assistant", "reasoning_content": "Greeting."}),
            chat_chunk({"content": "Hel"}),
            chat_chunk({"content": "lo"}),
            chat_chunk({}, "stop"),
            usage_chunk(5, 2),
        ),
        piece_size=11,
    )
    async with client.messages.stream(
        model="deepseek/deepseek-flash", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "Hello"
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Greeting."
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("end_turn", 5, 2)


async def test_tool_use_streamed_from_an_openai_upstream_and_the_result_sent_back(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk(
                {"tool_calls": [{"index": 0, "id": "c1", "type": "function", "function": {"name": "get_weather"}}]}
            ),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, "tool_calls"),
            usage_chunk(7, 5),
        )
    )
    question = {"role": "user", "content": "Weather in Paris?"}
    async with client.messages.stream(
        model="deepseek/deepseek-flash", max_tokens=50, messages=[question], tools=[WEATHER]
    ) as stream:
        final = await stream.get_final_message()
    call = final.content[0]
    assert (call.type, call.id, call.name, call.input) == ("tool_use", "c1", "get_weather", {"city": "Paris"})
    assert final.stop_reason == "tool_use"
    assert fake_openai.last.json["tools"][0]["function"]["parameters"] == WEATHER["input_schema"]

    fake_openai.reply_chat("It is 18C.")
    answer = await client.messages.create(
        model="deepseek/deepseek-flash",
        max_tokens=50,
        tools=[WEATHER],
        messages=[
            question,
            {"role": "assistant", "content": [call.model_dump(include={"type", "id", "name", "input"})]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": "18C"}]},
        ],
    )
    assert answer.content[0].text == "It is 18C."
    sent = fake_openai.last.json["messages"]
    assert sent[1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert sent[2] == {"role": "tool", "content": "18C", "tool_call_id": "c1"}


async def test_tool_use_not_streamed_from_an_openai_upstream(client, fake_openai) -> None:
    fake_openai.reply_chat(
        None, tool_calls=[tool_call("c9", "get_weather", '{"city":"Oslo"}')], finish_reason="tool_calls"
    )
    answer = await client.messages.create(
        model="deepseek/deepseek-flash",
        max_tokens=50,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    assert [(b.type, b.input) for b in answer.content] == [("tool_use", {"city": "Oslo"})]
    assert answer.stop_reason == "tool_use"
    assert fake_openai.last.json["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


async def test_image_message_to_an_openai_upstream(client, with_openai, fake_openai) -> None:
    fake_openai.reply_chat("A cat.")
    answer = await client.messages.create(model="openai/gpt-6.1-terra", max_tokens=50, messages=[IMAGE_TURN])
    assert answer.content[0].text == "A cat."
    assert fake_openai.last.json["messages"][0]["content"][1:] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.test/cat.jpg"}},
    ]


# --- Anthropic itself upstream ------------------------------------------------------------------------------------


async def test_plain_message_from_anthropic_arrives_as_the_client_sent_it(
    client, with_anthropic, fake_anthropic
) -> None:
    call = {
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
    }
    answer = await client.messages.create(model="anthropic/claude-sonnet-5-5", **call)
    assert answer.content[0].text == "Hello!"
    assert fake_anthropic.last.json == {"model": "claude-sonnet-5-5", **call}
    assert fake_anthropic.last.headers["x-api-key"] == SECRET  # the workspace's stored key, not the caller's
    prove("anthropic", "llm", "invoke")


async def test_streamed_message_from_anthropic(client, with_anthropic, fake_anthropic) -> None:
    fake_anthropic.stream_message([text("Hello from Claude.")], input_tokens=14, output_tokens=6, piece_size=9)
    async with client.messages.stream(
        model="anthropic/claude-haiku-5-5", max_tokens=50, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        pieces = [piece async for piece in stream.text_stream]
        final = await stream.get_final_message()
    assert "".join(pieces) == "Hello from Claude."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (14, 6)
    assert fake_anthropic.last.json["stream"] is True
    prove("anthropic", "llm", "streaming")


async def test_thinking_and_tool_use_streamed_from_anthropic_keep_their_signature(
    client, with_anthropic, fake_anthropic
) -> None:
    content = [thinking("I need the weather."), tool_use("toolu_3", "get_weather", {"city": "Rome"})]
    fake_anthropic.stream_message(content, stop_reason="tool_use", piece=3, piece_size=17)
    question = {"role": "user", "content": "Weather in Rome?"}
    async with client.messages.stream(
        model="anthropic/claude-opus-5-5",
        max_tokens=500,
        messages=[question],
        tools=[WEATHER],
        output_config={"effort": "high"},
    ) as stream:
        final = await stream.get_final_message()
    assert [block.type for block in final.content] == ["thinking", "tool_use"]
    assert (final.content[0].thinking, final.content[0].signature) == ("I need the weather.", SIGNATURE)
    assert final.content[1].input == {"city": "Rome"}

    turn = [block.model_dump(exclude_none=True, exclude={"caller"}) for block in final.content]
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_3", "content": "25C"}]}
    await client.messages.create(
        model="anthropic/claude-opus-5-5",
        max_tokens=500,
        messages=[question, {"role": "assistant", "content": turn}, result],
        tools=[WEATHER],
        output_config={"effort": "high"},
    )
    sent = fake_anthropic.last.json
    assert sent["messages"][1]["content"] == [
        {"type": "thinking", "thinking": "I need the weather.", "signature": SIGNATURE},
        {"type": "tool_use", "id": "toolu_3", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    assert sent["messages"][2] == result
    assert sent["tools"] == [WEATHER]
    prove("anthropic", "llm", "tools")


async def test_image_message_to_anthropic(client, with_anthropic, fake_anthropic) -> None:
    answer = await client.messages.create(model="anthropic/claude-sonnet-5-5", max_tokens=50, messages=[IMAGE_TURN])
    assert answer.content[0].text == "Hello!"
    assert fake_anthropic.last.json["messages"] == [IMAGE_TURN]
    prove("anthropic", "llm", "vision")


async def test_json_schema_output_reaches_anthropic(client, with_anthropic, fake_anthropic) -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    output_config = {"format": {"type": "json_schema", "schema": schema}}
    await client.messages.create(
        model="anthropic/claude-haiku-5-5",
        max_tokens=50,
        messages=[{"role": "user", "content": "Hi"}],
        output_config=output_config,
    )
    assert fake_anthropic.last.json["output_config"] == output_config
    prove("anthropic", "llm", "structured-output")


# --- errors in Anthropic's shape ----------------------------------------------------------------------------------


async def test_errors_answer_in_anthropics_shape(gateway, client, with_anthropic, fake_anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        await client.messages.create(model="nope/nothing", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert missing.value.type == "not_found_error"

    fake_anthropic.fail(429, "rate_limit_error", "slow down", headers={"retry-after": "7"})
    with pytest.raises(anthropic.RateLimitError) as limited:
        await client.messages.create(
            model="anthropic/claude-haiku-5-5", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )
    assert limited.value.type == "rate_limit_error"
    assert limited.value.response.headers["retry-after"] == "7"

    fake_anthropic.fail(529, "overloaded_error", "Overloaded")
    with pytest.raises(anthropic.InternalServerError) as overloaded:
        await client.messages.create(
            model="anthropic/claude-haiku-5-5", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        )
    assert (overloaded.value.status_code, overloaded.value.type) == (503, "overloaded_error")

    async with aiohttp.ClientSession() as http:
        response = await http.post(
            f"{gateway.url}/v1/messages",
            json={"model": "anthropic/claude-haiku-5-5", "messages": [{"role": "user", "content": "Hi"}]},
            headers={"x-api-key": gateway.api_key},
        )
        body = orjson.loads(await response.read())
    assert response.status == 400
    assert body["type"] == "error"
    assert body["error"] == {"type": "invalid_request_error", "message": body["error"]["message"]}
    assert "max_tokens" in body["error"]["message"]


async def test_an_upstream_failure_mid_stream_is_an_error_event(client, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk({"content": "Hel"}),
            {"error": {"message": "upstream fell over", "type": "server_error", "code": "rate_limit_exceeded"}},
            done=False,
        )
    )
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client.messages.stream(
            model="deepseek/deepseek-flash", max_tokens=5, messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            async for _ in stream:
                pass
    assert caught.value.type == "rate_limit_error"


# --- the OpenAI shape through /v1 with Anthropic upstream ----------------------------------------------------------


async def test_openai_sdk_reaches_anthropic_models(gateway, with_anthropic, fake_anthropic) -> None:
    sdk = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, max_retries=0)
    try:
        answer = await sdk.chat.completions.create(
            model="anthropic/claude-sonnet-5-5", messages=[{"role": "user", "content": "Hi"}], max_tokens=20
        )
        assert answer.choices[0].message.content == "Hello!"
        assert answer.usage.prompt_tokens == 9

        content = [thinking("Weather needed."), tool_use("toolu_5", "get_weather", {"city": "Oslo"})]
        fake_anthropic.stream(anthropic_sse(*stream_events(content, stop_reason="tool_use", piece=2)), piece_size=13)
        stream = await sdk.chat.completions.create(
            model="anthropic/claude-sonnet-5-5",
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["input_schema"]}}],
            stream=True,
            stream_options={"include_usage": True},
        )
        arguments, reasoning, finish = [], [], None
        async for chunk in stream:
            if chunk.choices:
                delta = chunk.choices[0].delta
                reasoning.append(getattr(delta, "reasoning_content", None) or "")
                arguments.extend(call.function.arguments or "" for call in delta.tool_calls or [])
                finish = chunk.choices[0].finish_reason or finish
        assert "".join(arguments) == '{"city":"Oslo"}'
        assert "".join(reasoning) == "Weather needed."
        assert finish == "tool_calls"
        assert fake_anthropic.last.json["tools"][0]["input_schema"] == WEATHER["input_schema"]
    finally:
        await sdk.close()
