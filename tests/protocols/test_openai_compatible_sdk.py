"""A self-hosted OpenAI-compatible model's form choices, held to what the `openai` SDK sends for the same options.

The form of OpenAI-API-compatible and GPUStack models sets protocol quirks (catalog/custom.py): the thinking
switches of the extended compatibility mode, the token parameter, usage in streams, the `user` field, how audio
travels, embedding prefixes and encoding, a transcription's language and prompt, a rerank URL of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import openai
import orjson
import pytest

from tests.fakes.openai import chat_chunk, sse
from tests.protocols.test_openai_sdk import assert_same_request
from tests.support import SECRET


@pytest.fixture
async def sdk(fake_openai) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=f"{fake_openai.url}/v1", api_key=SECRET, max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def form(fake_openai) -> dict[str, str]:
    return {"endpoint_url": f"{fake_openai.url}/v1", "api_key": SECRET, "context_size": "32768"}


async def chat(runtime, form: dict[str, str], model: str = "qwen3-32b", **params):
    return await runtime.chat(provider="openai_api_compatible", model=model, credentials=form, **params)


async def test_extended_mode_sends_the_callers_thinking_switch_in_every_dialect(
    sdk, runtime, fake_openai, form
) -> None:
    messages = [{"role": "user", "content": "Think first."}]
    on = {"enable_thinking": True, "thinking": True, "reasoning_effort": "low"}
    await sdk.chat.completions.create(
        model="qwen3-32b",
        messages=messages,
        max_tokens=200,
        reasoning_effort="low",
        extra_body={"chat_template_kwargs": on, "thinking": {"type": "enabled"}, "enable_thinking": True},
    )
    form |= {"reasoning_support": "supported", "compatibility_mode": "extended"}
    await chat(
        runtime, form, messages=messages, max_tokens=200, reasoning_effort="low", extra={"enable_thinking": True}
    )
    assert_same_request(fake_openai)


@pytest.mark.parametrize(("mode", "on"), [("always", True), ("not_supported", False)])
async def test_a_model_that_always_or_never_thinks_says_so_on_every_call_in_extended_mode(
    sdk, runtime, fake_openai, form, mode, on
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    switch = {"enable_thinking": on, "thinking": on}
    await sdk.chat.completions.create(
        model="qwen3-32b",
        messages=messages,
        extra_body={"chat_template_kwargs": switch, "thinking": {"type": "enabled" if on else "disabled"}}
        | {"enable_thinking": on},
    )
    await chat(runtime, form | {"reasoning_support": mode, "compatibility_mode": "extended"}, messages=messages)
    assert_same_request(fake_openai)


async def test_strict_mode_sends_no_thinking_dialects_and_enable_thinking_only_when_asked(
    runtime, fake_openai, form
) -> None:
    await chat(runtime, form | {"reasoning_support": "always"}, messages=[{"role": "user", "content": "Hi"}])
    assert not {"chat_template_kwargs", "thinking", "enable_thinking"} & set(fake_openai.last.json)
    await chat(
        runtime,
        form | {"reasoning_support": "supported"},
        messages=[{"role": "user", "content": "Hi"}],
        extra={"enable_thinking": False},
    )
    assert fake_openai.last.json["enable_thinking"] is False


@pytest.mark.parametrize(
    ("upstream", "field"),
    [("o4-mini", "max_completion_tokens"), ("gpt-5.1", "max_completion_tokens"), ("llama-3.3-70b", "max_tokens")],
)
async def test_the_token_parameter_follows_the_upstream_model_when_auto(
    sdk, runtime, fake_openai, form, upstream, field
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    await sdk.chat.completions.create(model=upstream, messages=messages, **{field: 50})
    await chat(
        runtime,
        form | {"token_param_name": "auto", "endpoint_model_name": upstream},
        model="my-model",
        messages=messages,
        max_tokens=50,
    )
    assert_same_request(fake_openai)


async def test_a_server_refusing_stream_options_and_user_gets_neither_and_the_caller_is_told(
    sdk, runtime, fake_openai, form
) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    fake_openai.stream(sse(chat_chunk({"content": "Hello"}, "stop")))
    async for _ in await sdk.chat.completions.create(model="qwen3-32b", messages=messages, stream=True):
        pass
    fake_openai.stream(sse(chat_chunk({"content": "Hello"}, "stop")))
    form |= {"stream_include_usage": "disabled", "user_identity_support": "no_support"}
    stream = await chat(runtime, form, messages=messages, stream=True, user="u-1")
    async for _ in stream:
        pass
    assert_same_request(fake_openai)
    assert [(a.name, a.action) for a in stream.adjusted_params] == [("user", "dropped")]
    assert stream.usage is not None and stream.usage.is_estimated  # counted here: the server was not asked for it


async def test_audio_goes_as_a_data_url_in_an_image_url_part_when_the_form_says_so(
    sdk, runtime, fake_openai, form
) -> None:
    audio = [
        {"type": "text", "text": "Transcribe"},
        {"type": "input_audio", "input_audio": {"data": "UklG", "format": "wav"}},
    ]
    as_image = [
        {"type": "text", "text": "Transcribe"},
        {"type": "image_url", "image_url": {"url": "data:audio/x-wav;base64,UklG"}},
    ]
    await sdk.chat.completions.create(model="gemini-via-litellm", messages=[{"role": "user", "content": as_image}])
    form |= {"audio_support": "support", "audio_transfer_format": "image_url_data_uri"}
    await chat(runtime, form, model="gemini-via-litellm", messages=[{"role": "user", "content": audio}])
    assert_same_request(fake_openai)


async def test_embeddings_take_the_forms_prefixes_and_may_leave_encoding_format_out(runtime, fake_openai, form) -> None:
    form |= {"query_prefix": "query: ", "document_prefix": "passage: ", "encoding_format": "not_set"}
    call = {"provider": "openai_api_compatible", "model": "e5-large", "credentials": form}
    await runtime.embed(**call, texts=["cats"], input_type="query")
    assert fake_openai.last.json == {"model": "e5-large", "input": ["query: cats"]}
    await runtime.embed(**call, texts=["Cats purr.", "Dogs bark."])
    assert fake_openai.last.json["input"] == ["passage: Cats purr.", "passage: Dogs bark."]


async def test_a_transcription_takes_the_forms_language_and_prompt_unless_the_request_has_its_own(
    sdk, runtime, fake_openai, form
) -> None:
    audio = b"RIFF....WAVEfmt "
    await sdk.audio.transcriptions.create(
        model="whisper-large-v3",
        file=("a.wav", audio, "audio/x-wav"),
        language="zh",
        prompt="ModelYard",
        response_format="json",
    )
    form |= {"language": "zh", "initial_prompt": "ModelYard"}
    await runtime.transcribe(
        provider="openai_api_compatible", model="whisper-large-v3", credentials=form, audio=audio, filename="a.wav"
    )
    assert_same_request(fake_openai)
    await runtime.transcribe(
        provider="openai_api_compatible",
        model="whisper-large-v3",
        credentials=form,
        audio=audio,
        filename="a.wav",
        language="en",
    )
    assert fake_openai.last.form["language"] == "en"


async def test_a_rerank_model_may_live_at_a_url_of_its_own(runtime, fake_openai, form) -> None:
    form |= {"rerank_endpoint_url": f"{fake_openai.url}/openai/v1/rerank"}
    await runtime.rerank(
        provider="openai_api_compatible", model="bge-reranker", credentials=form, query="cats", documents=["a", "b"]
    )
    assert fake_openai.last.path == "/openai/v1/rerank"


async def test_xinference_takes_the_thinking_switch_in_chat_template_kwargs_alone(sdk, runtime, fake_openai) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    await sdk.chat.completions.create(
        model="qwen3-uid",
        messages=messages,
        extra_body={"chat_template_kwargs": {"enable_thinking": False, "thinking": False}},
    )
    form = {
        "server_url": fake_openai.url,
        "api_key": SECRET,
        "model_uid": "qwen3-uid",
        "reasoning_support": "supported",
    }
    await runtime.chat(
        provider="xinference", model="qwen3", credentials=form, messages=messages, extra={"enable_thinking": False}
    )
    assert_same_request(fake_openai)


async def test_a_stream_whose_events_end_with_a_single_newline_is_read_whole(runtime, fake_openai, form) -> None:
    chunks = [chat_chunk({"content": "Hel"}), chat_chunk({"content": "lo"}), chat_chunk({}, "stop")]
    usage = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": []}
    usage["usage"] = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    lines = [b"data: " + orjson.dumps(chunk) + b"\n" for chunk in (*chunks, usage)]
    fake_openai.stream(b"".join(lines) + b"data: [DONE]\n", piece_size=7)  # Dify's stream_mode_delimiter "\n"
    stream = await chat(runtime, form, messages=[{"role": "user", "content": "Hi"}], stream=True)
    answer = await stream.collect()
    assert (answer.content, answer.finish_reason, answer.usage.completion_tokens) == ("Hello", "stop", 2)
