"""The fake and our adapter held to the vendor's own code: the `openai` SDK.

The SDK must parse everything the fake serves (so the fake cannot drift from the real wire format), and for
the same logical call our request must match the SDK's, field for field.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import pytest

from modelyard.types import Message
from tests.fakes.openai import chat_chunk, sse, tool_call, usage_chunk
from tests.support import SECRET

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
async def sdk(fake_openai) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{fake_openai.url}/v1", api_key=SECRET, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


def assert_same_request(fake_openai) -> None:
    ours, theirs = fake_openai.requests[-1], fake_openai.requests[-2]
    assert ours.path == theirs.path
    assert ours.json == theirs.json
    assert ours.form == theirs.form
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert ours.headers.get("content-type", "").split(";")[0] == theirs.headers.get("content-type", "").split(";")[0]


# --- same logical call, same request -----------------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    await sdk.chat.completions.create(
        model="gpt-4.1",
        messages=messages,
        temperature=0.5,
        top_p=0.9,
        max_completion_tokens=100,
        stop=["END"],
        seed=3,
        user="u-1",
    )
    await runtime.chat(
        provider="openai",
        model="gpt-4.1",
        credentials=openai_credentials,
        messages=messages,
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
        seed=3,
        user="u-1",
    )
    assert_same_request(fake_openai)


async def test_streamed_tool_chat_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    messages = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    fake_openai.stream(sse(chat_chunk({"content": "x"}, "stop")))
    stream = await sdk.chat.completions.create(
        model="gpt-4.1",
        messages=messages,
        tools=[WEATHER],
        tool_choice="auto",
        parallel_tool_calls=True,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for _ in stream:
        pass
    fake_openai.stream(sse(chat_chunk({"content": "x"}, "stop")))
    ours = await runtime.chat(
        provider="openai",
        model="gpt-4.1",
        credentials=openai_credentials,
        messages=messages,
        tools=[WEATHER],
        tool_choice="auto",
        parallel_tool_calls=True,
        stream=True,
    )
    async for _ in ours:
        pass
    assert_same_request(fake_openai)


async def test_vision_and_json_schema_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            ],
        }
    ]
    schema = {
        "type": "object",
        "properties": {"caption": {"type": "string"}},
        "required": ["caption"],
        "additionalProperties": False,
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "caption", "schema": schema, "strict": True}}
    await sdk.chat.completions.create(model="gpt-4o", messages=messages, response_format=response_format)
    from modelyard.protocols.openai import ingress

    request = ingress.chat_request({"messages": messages, "response_format": response_format})
    await runtime.chat(provider="openai", model="gpt-4o", credentials=openai_credentials, request=request)
    assert_same_request(fake_openai)


async def test_verbosity_and_service_tier_go_top_level_and_a_reasoning_summary_is_dropped_and_reported(
    sdk, runtime, fake_openai, openai_credentials
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    await sdk.chat.completions.create(model="gpt-5.5", messages=messages, verbosity="high", service_tier="priority")
    result = await runtime.chat(
        provider="openai",
        model="gpt-5.5",
        credentials=openai_credentials,  # api_protocol unset: Chat Completions, which has no summary field
        messages=messages,
        extra={"verbosity": "high", "service_tier": "priority", "reasoning_summary": "concise"},
    )
    assert_same_request(fake_openai)
    assert [(a.name, a.action) for a in result.adjusted_params] == [("reasoning_summary", "dropped")]


async def test_tool_result_turn_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    wire = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call("call_9", "get_weather", '{"city":"Oslo"}')]},
        {"role": "tool", "content": "-3C", "tool_call_id": "call_9"},
    ]
    await sdk.chat.completions.create(model="gpt-4.1-mini", messages=wire, tools=[WEATHER])
    await runtime.chat(
        provider="openai", model="gpt-4.1-mini", credentials=openai_credentials, messages=wire, tools=[WEATHER]
    )
    assert_same_request(fake_openai)


async def test_embeddings_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    await sdk.embeddings.create(model="text-embedding-3-large", input=["a", "b"], dimensions=16)
    await runtime.embed(
        provider="openai",
        model="text-embedding-3-large",
        credentials=openai_credentials,
        texts=["a", "b"],
        dimensions=16,
    )
    assert_same_request(fake_openai)


async def test_transcription_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    audio = b"RIFF....WAVEfmt fake audio"
    await sdk.audio.transcriptions.create(
        model="whisper-1",
        file=("clip.wav", audio, "audio/x-wav"),
        language="de",
        prompt="Names: Jörg",
        response_format="json",
    )
    await runtime.transcribe(
        provider="openai",
        model="whisper-1",
        credentials=openai_credentials,
        audio=audio,
        filename="clip.wav",
        language="de",
        prompt="Names: Jörg",
    )
    assert_same_request(fake_openai)


async def test_speech_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    response = await sdk.audio.speech.create(
        model="gpt-4o-mini-tts", input="Hallo", voice="coral", response_format="wav", instructions="Cheerful"
    )
    await response.aread()
    speech = await runtime.speak(
        provider="openai",
        model="gpt-4o-mini-tts",
        credentials=openai_credentials,
        text="Hallo",
        voice="coral",
        format="wav",
        instructions="Cheerful",
    )
    await speech.read()
    assert_same_request(fake_openai)


async def test_moderation_request_matches_the_sdk(sdk, runtime, fake_openai, openai_credentials) -> None:
    await sdk.moderations.create(model="omni-moderation-latest", input=["one", "two"])
    await runtime.moderate(
        provider="openai", model="omni-moderation-latest", credentials=openai_credentials, inputs=["one", "two"]
    )
    assert_same_request(fake_openai)


# --- the SDK parses everything the fake serves ---------------------------------------------------------------------


async def test_sdk_parses_chat_and_tool_call_answers(sdk, fake_openai) -> None:
    fake_openai.reply_chat(
        None, tool_calls=[tool_call("c1", "get_weather", '{"city":"Paris"}')], finish_reason="tool_calls"
    )
    answer = await sdk.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "?"}])
    assert answer.choices[0].message.tool_calls[0].function.arguments == '{"city":"Paris"}'
    assert answer.choices[0].finish_reason == "tool_calls"
    assert answer.usage.total_tokens == 12


async def test_sdk_parses_the_stream_with_tool_fragments_and_usage(sdk, fake_openai) -> None:
    fake_openai.stream(
        sse(
            chat_chunk(
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ],
                }
            ),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}, "tool_calls"),
            usage_chunk(7, 5),
        ),
        piece_size=9,
    )
    stream = await sdk.chat.completions.create(
        model="gpt-4.1",
        messages=[{"role": "user", "content": "?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces, usage = [], None
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.tool_calls:
            pieces.append(chunk.choices[0].delta.tool_calls[0].function.arguments)
        usage = chunk.usage or usage
    assert "".join(pieces) == '{"city":"Paris"}'
    assert usage is not None and usage.total_tokens == 12


async def test_sdk_parses_embeddings_transcription_speech_moderation_and_models(sdk, fake_openai) -> None:
    embedded = await sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])  # SDK asks for base64
    assert len(embedded.data) == 2 and len(embedded.data[1].embedding) == 4
    transcript = await sdk.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"))
    assert transcript.text == "hello world"
    speech = await sdk.audio.speech.create(model="tts-1", input="Hi", voice="alloy")
    assert (await speech.aread()).startswith(b"ID3")
    verdict = await sdk.moderations.create(model="omni-moderation-latest", input="I will kill")
    assert verdict.results[0].flagged
    models = await sdk.models.list()
    assert [m.id async for m in models] == ["fake-chat", "fake-embed"]


@pytest.mark.parametrize(
    ("status", "code", "sdk_error"),
    [
        (400, "context_length_exceeded", openai.BadRequestError),
        (401, "invalid_api_key", openai.AuthenticationError),
        (403, None, openai.PermissionDeniedError),
        (404, "model_not_found", openai.NotFoundError),
        (429, "rate_limit_exceeded", openai.RateLimitError),
        (500, None, openai.InternalServerError),
    ],
)
async def test_sdk_reads_the_fakes_error_bodies(sdk, fake_openai, status, code, sdk_error) -> None:
    fake_openai.fail(status, "boom", code=code)
    with pytest.raises(sdk_error) as caught:
        await sdk.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "?"}])
    assert caught.value.code == code


async def test_runtime_reads_the_same_answers_the_sdk_reads(runtime, fake_openai, openai_credentials) -> None:
    fake_openai.reply_chat("same")
    result = await runtime.chat(
        provider="openai", model="gpt-4.1", credentials=openai_credentials, messages=[Message.user("?")]
    )
    assert result.content == "same"
