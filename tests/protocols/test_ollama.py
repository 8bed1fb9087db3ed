"""Ollama's native API: translation on bytes, and the fake and our requests held to the `ollama` SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import ollama
import orjson
import pytest

from modelyard.errors import (
    InvalidRequestError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.ollama import Ollama
from modelyard.protocols.openai import ingress
from modelyard.protocols.sse import NDJSONDecoder
from modelyard.runtime.bindings import default_bindings
from modelyard.types import ChatRequest, EmbeddingRequest, ImagePart, Message, TextPart, Tool, ToolCall
from modelyard.types.chat import ResponseFormat
from modelyard.types.usage import UNREPORTED
from tests.capabilities import prove
from tests.fakes.ollama import FakeOllama, chat_line, done_line, ndjson, tool_call
from tests.fakes.registry import FAKES, serving
from tests.protocols.targets import target
from tests.support import SECRET

protocol = Ollama()
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PNG = "iVBORw0KGgo="


def ollama_target(model_type: str = "llm", **overrides):
    return target(model_type, protocol="ollama", base_url="http://ollama.test:11434", **overrides)


def body_of(request) -> dict:
    return orjson.loads(request.body)


@pytest.fixture
async def fake() -> AsyncIterator[FakeOllama]:
    async with serving(FAKES["ollama"]) as upstream:
        yield upstream


@pytest.fixture
def credentials(fake) -> dict[str, str]:
    return {
        "base_url": fake.url,
        "api_key": SECRET,
        "function_calling_type": "tool_call",
        "vision_support": "support",
        "structured_output_support": "supported",
        "reasoning_support": "supported",
    }


@pytest.fixture
async def sdk(fake) -> AsyncIterator[ollama.AsyncClient]:
    client = ollama.AsyncClient(host=fake.url, headers={"Authorization": f"Bearer {SECRET}"})
    try:
        yield client
    finally:
        await client.close()


def assert_same_request(fake) -> None:
    ours, theirs = fake.requests[-1], fake.requests[-2]
    assert ours.path == theirs.path
    sdk_body = dict(theirs.json)
    if sdk_body.get("tools") == []:  # the SDK always sends a tools list; empty is the same as none
        del sdk_body["tools"]
    assert ours.json == sdk_body
    assert ours.headers["authorization"] == theirs.headers["authorization"]
    assert ours.headers["content-type"].split(";")[0] == theirs.headers["content-type"].split(";")[0]


# --- requests on bytes -------------------------------------------------------------------------------------------


def test_sampling_parameters_go_under_options_and_stream_is_always_stated() -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi")),
        temperature=0.2,
        top_p=0.9,
        max_tokens=64,
        stop=("END",),
        seed=7,
        extra={"num_ctx": 8192, "keep_alive": "5m"},
    )
    sent = protocol.build_chat(ollama_target(), request, stream=False)
    assert sent.url == "http://ollama.test:11434/api/chat"
    assert body_of(sent) == {
        "model": "acme-1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "stream": False,
        "options": {"temperature": 0.2, "top_p": 0.9, "num_predict": 64, "stop": ["END"], "seed": 7, "num_ctx": 8192},
        "keep_alive": "5m",
    }


def test_images_go_as_bare_base64_and_urls_are_refused() -> None:
    image = Message.user([TextPart("What is it?"), ImagePart(f"data:image/png;base64,{PNG}")])
    sent = body_of(protocol.build_chat(ollama_target(), ChatRequest(messages=(image,)), stream=True))
    assert sent["messages"] == [{"role": "user", "content": "What is it?", "images": [PNG]}]
    remote = Message.user([ImagePart("https://example.com/cat.png")])
    with pytest.raises(UnsupportedFeatureError, match="data: URL"):
        protocol.build_chat(ollama_target(), ChatRequest(messages=(remote,)), stream=False)


def test_tool_calls_go_back_as_objects_and_results_name_their_tool() -> None:
    history = (
        Message.user("Weather?"),
        Message.assistant(tool_calls=[ToolCall("call_0", "get_weather", '{"city":"Oslo"}')], reasoning="Look it up."),
        Message.tool("call_0", "-3C"),
    )
    sent = body_of(protocol.build_chat(ollama_target(), ChatRequest(messages=history), stream=False))
    assert sent["messages"][1:] == [
        {
            "role": "assistant",
            "thinking": "Look it up.",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        },
        {"role": "tool", "content": "-3C", "tool_name": "get_weather"},
    ]


def test_arguments_that_are_not_a_json_object_are_refused() -> None:
    history = (Message.user("?"), Message.assistant(tool_calls=[ToolCall("c", "f", "[1, 2]")]))
    with pytest.raises(InvalidRequestError, match="JSON object"):
        protocol.build_chat(ollama_target(), ChatRequest(messages=history), stream=False)


def test_tool_choice_none_sends_no_tools_and_reasoning_effort_becomes_think() -> None:
    tool = Tool("get_weather")
    quiet = ChatRequest(messages=(Message.user("Hi"),), tools=(tool,), tool_choice="none", reasoning_effort="none")
    assert "tools" not in body_of(protocol.build_chat(ollama_target(), quiet, stream=False))
    assert body_of(protocol.build_chat(ollama_target(), quiet, stream=False))["think"] is False
    levels = ChatRequest(messages=(Message.user("Hi"),), reasoning_effort="high")
    assert body_of(protocol.build_chat(ollama_target(), levels, stream=False))["think"] == "high"


def test_json_schema_and_json_object_map_to_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    with_schema = ChatRequest(
        messages=(Message.user("?"),), response_format=ResponseFormat("json_schema", schema=schema)
    )
    any_json = ChatRequest(messages=(Message.user("?"),), response_format=ResponseFormat("json_object"))
    assert body_of(protocol.build_chat(ollama_target(), with_schema, stream=False))["format"] == schema
    assert body_of(protocol.build_chat(ollama_target(), any_json, stream=False))["format"] == "json"


# --- responses on bytes ------------------------------------------------------------------------------------------


def test_chat_answer_has_text_thinking_tool_calls_and_usage() -> None:
    line = done_line("", thinking="Need the weather.", tool_calls=[tool_call("get_weather", {"city": "Paris"})])
    result = protocol.parse_chat(ollama_target(), orjson.dumps(line))
    assert result.reasoning == "Need the weather."
    assert result.tool_calls == (ToolCall("call_0", "get_weather", '{"city":"Paris"}'),)
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)


def test_length_stop_and_missing_counts() -> None:
    result = protocol.parse_chat(ollama_target(), orjson.dumps(done_line("Trunc", done_reason="length", usage=None)))
    assert result.finish_reason == "length"
    assert result.usage is UNREPORTED


def test_ndjson_stream_in_tiny_pieces_yields_text_calls_and_usage_at_the_end() -> None:
    lines = ndjson(
        chat_line(thinking="Hmm."),
        chat_line("Hel"),
        chat_line("lo", tool_calls=[tool_call("get_weather", {"city": "Rome"})]),
        done_line(usage=(11, 5)),
    )
    decoder, parser = NDJSONDecoder(), protocol.chat_stream_parser(ollama_target())
    chunks = [parser.feed(e) for i in range(0, len(lines), 7) for e in decoder.feed(lines[i : i + 7])]
    chunks += [parser.feed(e) for e in decoder.flush()]
    assert "".join(c.reasoning for c in chunks if c) == "Hmm."
    assert "".join(c.content for c in chunks if c) == "Hello"
    assert [d.name for c in chunks if c for d in c.tool_calls] == ["get_weather"]
    assert chunks[-1].finish_reason == "tool_calls"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 5)
    assert parser.finished


def test_an_error_line_inside_a_200_stream_raises() -> None:
    parser = protocol.chat_stream_parser(ollama_target())
    parser.feed(NDJSONDecoder().feed(ndjson(chat_line("Hi")))[0])
    with pytest.raises(UpstreamUnavailableError, match="out of memory"):
        parser.feed(NDJSONDecoder().feed(ndjson({"error": "out of memory"}))[0])


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, UpstreamBadRequestError),
        (401, UpstreamAuthError),
        (404, UpstreamBadRequestError),
        (429, UpstreamRateLimitError),
        (500, UpstreamUnavailableError),
        (503, UpstreamUnavailableError),
    ],
)
def test_error_bodies_map_by_status(status, expected) -> None:
    error = protocol.parse_error(ollama_target(), status, {}, orjson.dumps({"error": "model 'x' not found"}))
    assert type(error) is expected
    assert "model 'x' not found" in str(error)
    assert str(error).startswith("[acme] ")


def test_embeddings_and_model_list() -> None:
    sent = protocol.build_embeddings(ollama_target("text-embedding"), EmbeddingRequest(("a", "b"), dimensions=8))
    assert (sent.url, body_of(sent)) == (
        "http://ollama.test:11434/api/embed",
        {"model": "acme-1", "input": ["a", "b"], "dimensions": 8},
    )
    answer = {"model": "e", "embeddings": [[0.1, 0.2], [0.3, 0.4]], "prompt_eval_count": 4}
    result = protocol.parse_embeddings(ollama_target("text-embedding"), orjson.dumps(answer))
    assert result.vectors == ([0.1, 0.2], [0.3, 0.4])
    assert result.usage.prompt_tokens == 4
    tags = {"models": [{"name": "llama3.2:latest", "model": "llama3.2:latest"}, {"name": "qwen3:8b"}]}
    assert [m.id for m in protocol.parse_list_models(ollama_target(), orjson.dumps(tags))] == [
        "llama3.2:latest",
        "qwen3:8b",
    ]


# --- same logical call, same request as the SDK -------------------------------------------------------------------


async def test_plain_chat_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    options = {"temperature": 0.5, "top_p": 0.9, "num_predict": 100, "stop": ["END"], "seed": 3}
    answer = await sdk.chat(model="llama3.2", messages=messages, options=options)
    assert answer.message.content == "Hello!"
    result = await runtime.chat(
        provider="ollama",
        model="llama3.2",
        credentials=credentials,
        messages=messages,
        temperature=0.5,
        top_p=0.9,
        max_tokens=100,
        stop=["END"],
        seed=3,
    )
    assert_same_request(fake)
    assert result.content == "Hello!"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (9, 3)


async def test_model_options_keep_alive_and_think_match_the_sdk(sdk, runtime, fake, credentials) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    options = {"num_ctx": 16384, "repeat_penalty": 1.15, "repeat_last_n": 128, "min_p": 0.05, "mirostat": 2}
    await sdk.chat(model="qwen3:8b", messages=messages, options=options, keep_alive="10m", think=True)
    result = await runtime.chat(
        provider="ollama",
        model="qwen3:8b",
        credentials=credentials,
        messages=messages,
        extra={**options, "keep_alive": "10m", "think": True},
    )
    assert_same_request(fake)
    assert result.adjusted_params == ()


async def test_the_console_shows_ollamas_options_and_the_runtime_keeps_them_in_range(
    runtime, fake, credentials
) -> None:
    binding = default_bindings()["ollama"]
    model = binding.model("qwen3:8b", "llm", credentials)
    shown = {rule.name for rule in model.parameter_rules}
    assert {"num_ctx", "keep_alive", "think", "repeat_penalty", "mirostat", "mirostat_tau", "num_gpu"} <= shown
    never = credentials | {"reasoning_support": "not_supported"}
    assert "think" not in {rule.name for rule in binding.model("llama3.2", "llm", never).parameter_rules}
    result = await runtime.chat(
        provider="ollama",
        model="llama3.2",
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        extra={"mirostat": 5},
    )
    assert fake.last.json["options"] == {"mirostat": 2}
    assert [(a.name, a.action, a.sent) for a in result.adjusted_params] == [("mirostat", "clamped", 2)]


async def test_streamed_tool_chat_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    calls = []
    async for part in await sdk.chat(model="llama3.2", messages=messages, tools=[WEATHER], stream=True):
        calls.extend(part.message.tool_calls or [])
    assert calls[0].function.arguments == {"q": "x"}
    stream = await runtime.chat(
        provider="ollama", model="llama3.2", credentials=credentials, messages=messages, tools=[WEATHER], stream=True
    )
    result = await stream.collect()
    assert_same_request(fake)
    assert result.tool_calls == (ToolCall("call_0", "get_weather", '{"q":"x"}'),)
    assert result.finish_reason == "tool_calls"
    prove("ollama", "llm", "tools")
    prove("ollama", "llm", "streaming")


async def test_vision_and_json_schema_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}
    await sdk.chat(model="llava", messages=[{"role": "user", "content": "Describe", "images": [PNG]}], format=schema)
    request = ingress.chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Describe"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    ],
                }
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "caption", "schema": schema}},
        }
    )
    assert (await runtime.chat(provider="ollama", model="llava", credentials=credentials, request=request)).content
    assert_same_request(fake)
    prove("ollama", "llm", "vision")
    prove("ollama", "llm", "structured-output")


async def test_tool_result_turn_and_thinking_match_the_sdk(sdk, runtime, fake, credentials) -> None:
    await sdk.chat(
        model="qwen3",
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
            {"role": "tool", "content": "-3C", "tool_name": "get_weather"},
        ],
        tools=[WEATHER],
        think="high",
    )
    wire = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                }
            ],
        },
        {"role": "tool", "content": "-3C", "tool_call_id": "call_0"},
    ]
    await runtime.chat(
        provider="ollama",
        model="qwen3",
        credentials=credentials,
        messages=wire,
        tools=[WEATHER],
        reasoning_effort="high",
    )
    assert_same_request(fake)


async def test_embeddings_request_matches_the_sdk(sdk, runtime, fake, credentials) -> None:
    answer = await sdk.embed(model="nomic-embed-text", input=["a", "b"], dimensions=16)
    assert len(answer.embeddings[0]) == 16
    result = await runtime.embed(
        provider="ollama", model="nomic-embed-text", credentials=credentials, texts=["a", "b"], dimensions=16
    )
    assert_same_request(fake)
    assert [len(v) for v in result.vectors] == [16, 16]
    assert result.usage.prompt_tokens == 2


# --- the SDK parses everything the fake serves ------------------------------------------------------------------


async def test_sdk_parses_thinking_tool_calls_and_counts(sdk, fake) -> None:
    fake.reply_ollama(done_line("", thinking="Hmm.", tool_calls=[tool_call("get_weather", {"city": "Paris"})]))
    answer = await sdk.chat(model="qwen3", messages=[{"role": "user", "content": "?"}], think=True)
    assert answer.message.thinking == "Hmm."
    assert answer.message.tool_calls[0].function.arguments == {"city": "Paris"}
    assert (answer.done_reason, answer.prompt_eval_count, answer.eval_count) == ("stop", 9, 3)


async def test_sdk_parses_the_ndjson_stream_in_pieces(sdk, fake) -> None:
    fake.stream_lines(chat_line("Hel"), chat_line("lo"), done_line(usage=(5, 2)), piece_size=13)
    parts = [
        p async for p in await sdk.chat(model="llama3.2", messages=[{"role": "user", "content": "?"}], stream=True)
    ]
    assert "".join(p.message.content for p in parts) == "Hello"
    assert parts[-1].done and parts[-1].eval_count == 2


async def test_sdk_reads_the_model_list_and_errors(sdk, fake, runtime, credentials) -> None:
    listed = await sdk.list()
    assert [m.model for m in listed.models] == ["llama3.2:latest", "nomic-embed-text:latest"]
    ours = await runtime.list_remote_models(provider="ollama", credentials=credentials)
    assert [m.id for m in ours] == ["llama3.2:latest", "nomic-embed-text:latest"]
    fake.fail_ollama(404, 'model "nope" not found, try pulling it first')
    with pytest.raises(ollama.ResponseError) as caught:
        await sdk.chat(model="nope", messages=[{"role": "user", "content": "?"}])
    assert caught.value.status_code == 404
    fake.fail_ollama(404, 'model "nope" not found, try pulling it first')
    with pytest.raises(UpstreamBadRequestError, match="try pulling it first"):
        await runtime.chat(
            provider="ollama", model="nope", credentials=credentials, messages=[{"role": "user", "content": "?"}]
        )


async def test_an_error_line_mid_stream_reaches_both_the_sdk_and_us(sdk, fake, runtime, credentials) -> None:
    broken = (chat_line("Hel"), {"error": "llama runner process has terminated"})
    fake.stream_lines(*broken)
    with pytest.raises(ollama.ResponseError, match="terminated"):
        async for _ in await sdk.chat(model="llama3.2", messages=[{"role": "user", "content": "?"}], stream=True):
            pass
    fake.stream_lines(*broken)
    stream = await runtime.chat(
        provider="ollama",
        model="llama3.2",
        credentials=credentials,
        messages=[{"role": "user", "content": "?"}],
        stream=True,
    )
    with pytest.raises(UpstreamUnavailableError, match="terminated"):
        await stream.collect()
