"""The Wenxin protocol on bytes (ERNIE's message rules, answers, error codes, streams) and through the runtime
against the fake, in both API styles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp.test_utils import TestServer

from modelyard.errors import (
    CredentialValidationError,
    InvalidRequestError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols import PROTOCOLS
from modelyard.protocols.base import Target
from modelyard.protocols.sse import NDJSONDecoder
from modelyard.runtime.bindings import default_bindings
from modelyard.types import ChatRequest, Message, Tool, ToolCall
from modelyard.types.model_type import ModelType
from tests.capabilities import prove
from tests.fakes.wenxin import FakeWenxin, error, stream_events
from tests.support import SECRET

AK, SK = "wx-ak-0a1b2c3d", "wx-sk-4e5f6a7b"
LEGACY = {"api_style": "legacy", "api_key": AK, "secret_key": SK}
protocol = PROTOCOLS["wenxin"]
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def target(model: str = "ernie-3.5-8k", kind: ModelType = "llm", credentials: dict[str, str] | None = None) -> Target:
    binding = default_bindings()["wenxin"]
    return binding.target(binding.model(model, kind, {}), credentials or LEGACY)


def legacy_body(request: ChatRequest, model: str = "ernie-3.5-8k", *, stream: bool = False) -> dict:
    built = protocol.build_chat(target(model), request, stream=stream)
    assert isinstance(built.body, bytes)
    return orjson.loads(built.body)


# --- ERNIE's message rules --------------------------------------------------------------------------------------


def test_system_goes_to_its_own_field_and_turns_alternate() -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi"), Message.assistant("Hello"), Message.user("Bye"))
    )
    body = legacy_body(request)
    assert body["system"] == "Be brief."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["stream"] is False


def test_consecutive_user_messages_are_merged_into_one_turn() -> None:
    body = legacy_body(ChatRequest(messages=(Message.user("One"), Message.user("Two"))))
    assert body["messages"] == [{"role": "user", "content": "One\n\nTwo"}]


@pytest.mark.parametrize(
    ("messages", "rule"),
    [
        ((Message.assistant("Hello"), Message.user("Hi")), "start with a user message"),
        ((Message.user("Hi"), Message.assistant("Hello")), "end with a user message"),
        ((Message.system("Only a system prompt"),), "start with a user message"),
    ],
)
def test_a_conversation_ernie_cannot_take_is_refused_naming_the_rule(messages, rule) -> None:
    with pytest.raises(InvalidRequestError, match=rule) as caught:
        legacy_body(ChatRequest(messages=messages))
    assert caught.value.field == "messages"


def test_a_tool_round_trip_becomes_function_call_and_function_turns() -> None:
    call = ToolCall("call_1", "get_weather", '{"q": "Oslo"}')
    request = ChatRequest(
        messages=(Message.user("Weather?"), Message.assistant(tool_calls=[call]), Message.tool("call_1", "Sunny")),
        tools=(WEATHER,),
    )
    body = legacy_body(request)
    assert body["functions"] == [
        {"name": "get_weather", "description": "Weather for a city", "parameters": dict(WEATHER.parameters)}
    ]
    assert body["messages"][1] == {
        "role": "assistant",
        "content": "",
        "function_call": {"name": "get_weather", "arguments": '{"q": "Oslo"}'},
    }
    assert body["messages"][2] == {"role": "function", "name": "get_weather", "content": "Sunny"}


def test_parameters_take_ernies_names_and_range() -> None:
    request = ChatRequest(
        messages=(Message.user("Hi"),), temperature=0.0, top_p=0.5, max_tokens=64, stop=("END",), user="u-1"
    )
    body = legacy_body(request)
    assert body["temperature"] == 0.01  # ERNIE refuses 0
    assert (body["top_p"], body["max_output_tokens"], body["stop"], body["user_id"]) == (0.5, 64, ["END"], "u-1")


def test_each_model_has_its_own_path_and_v2_only_models_are_refused() -> None:
    built = protocol.build_chat(target("ernie-4.0-8k"), ChatRequest.user_text("Hi"), stream=True)
    assert built.url == "https://aip.baidubce.com/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"
    with pytest.raises(UnsupportedFeatureError, match="v2 API style"):
        protocol.build_chat(target("ernie-4.5-turbo-128k"), ChatRequest.user_text("Hi"), stream=False)


def test_v2_style_builds_openai_requests_at_the_v2_root() -> None:
    v2 = target("ernie-4.5-turbo-128k", credentials={"api_style": "v2", "api_key": SECRET})
    built = protocol.build_chat(v2, ChatRequest.user_text("Hi"), stream=False)
    assert built.url == "https://qianfan.baidubce.com/v2/chat/completions"
    assert orjson.loads(built.body)["model"] == "ernie-4.5-turbo-128k"


# --- answers and errors -----------------------------------------------------------------------------------------


def test_a_chat_answer_is_read_with_its_usage_and_finish_reason() -> None:
    body = orjson.dumps(
        {
            "id": "as-1",
            "result": "Hi!",
            "is_truncated": False,
            "finish_reason": "normal",
            "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
        }
    )
    result = protocol.parse_chat(target(), body)
    assert (result.content, result.finish_reason, result.usage.prompt_tokens, result.usage.completion_tokens) == (
        "Hi!",
        "stop",
        4,
        2,
    )


def test_a_function_call_answer_is_a_tool_call() -> None:
    call = {"name": "get_weather", "arguments": '{"q": "x"}', "thoughts": "I will look."}
    body = orjson.dumps({"id": "as-2", "result": "", "finish_reason": "function_call", "function_call": call})
    result = protocol.parse_chat(target(), body)
    assert result.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", '{"q": "x"}')]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (110, UpstreamAuthError),
        (111, UpstreamAuthError),
        (14, UpstreamAuthError),
        (18, UpstreamRateLimitError),
        (336501, UpstreamRateLimitError),
        (4, UpstreamRateLimitError),
        (17, ProviderQuotaExhaustedError),
        (336003, UpstreamBadRequestError),
        (336007, UpstreamBadRequestError),
        (336100, UpstreamUnavailableError),
        (2, UpstreamUnavailableError),
    ],
)
def test_error_codes_inside_http_200_are_mapped(code, kind) -> None:
    with pytest.raises(kind) as caught:
        protocol.parse_chat(target(), orjson.dumps(error(code, f"code {code}")))
    assert caught.value.vendor_code == str(code)
    assert str(caught.value).startswith("[wenxin]")


def test_an_http_error_with_a_baidu_body_is_classified_by_its_code() -> None:
    failure = protocol.parse_error(target(), 500, {}, orjson.dumps(error(18, "qps limit")))
    assert isinstance(failure, UpstreamRateLimitError)


# --- streams ----------------------------------------------------------------------------------------------------


def parse_stream(model_target: Target, raw: bytes) -> list:
    decoder = NDJSONDecoder()
    parser = protocol.chat_stream_parser(model_target)
    events = decoder.feed(raw) + decoder.flush()
    return [chunk for event in events if (chunk := parser.feed(event)) is not None]


def test_a_stream_ends_at_is_end_with_usage_and_finish() -> None:
    chunks = parse_stream(target(), stream_events("Hel", "lo!"))
    assert "".join(c.content for c in chunks) == "Hello!"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


def test_an_error_line_in_the_stream_is_raised_as_its_error() -> None:
    raw = stream_events("Hel")[:-2].replace(b'"is_end":true', b'"is_end":false') + b"\n"
    raw += orjson.dumps(error(336100, "the server is busy")) + b"\n"
    with pytest.raises(UpstreamUnavailableError, match="busy"):
        parse_stream(target(), raw)


def test_v2_streams_are_read_line_by_line() -> None:
    v2 = target("ernie-4.5-turbo-128k", credentials={"api_style": "v2", "api_key": SECRET})
    raw = b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    chunks = parse_stream(v2, raw)
    assert [(c.content, c.finish_reason) for c in chunks] == [("Hi", "stop")]


# --- through the runtime, against the fake ----------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeWenxin]:
    upstream = FakeWenxin(keys={AK: SK}, api_keys={SECRET})
    server = TestServer(upstream.app, host="127.0.0.1")
    # No access log: it would show the token request's query, where Baidu wants the Secret Key.
    await server.start_server(access_log=None)
    upstream.url = str(server.make_url("")).rstrip("/")
    yield upstream
    await server.close()


@pytest.fixture
def legacy(fake) -> dict[str, str]:
    return {**LEGACY, "endpoint_url": fake.url}


@pytest.fixture
def v2(fake) -> dict[str, str]:
    return {"api_style": "v2", "api_key": SECRET, "endpoint_url": fake.url}


async def test_legacy_chat_plain_streamed_and_with_tools(runtime, fake, legacy) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    result = await runtime.chat(provider="wenxin", model="ernie-4.0-8k", credentials=legacy, messages=messages)
    assert (result.content, result.usage.prompt_tokens, result.usage.currency) == ("Hello!", 9, "CNY")
    assert fake.requests[-1].path.endswith("/chat/completions_pro")
    prove("wenxin", "llm", "invoke")

    stream = await runtime.chat(
        provider="wenxin", model="ernie-3.5-8k", credentials=legacy, messages=messages, stream=True
    )
    streamed = await stream.collect()
    assert (streamed.content, streamed.finish_reason, streamed.usage.completion_tokens) == ("Hello!", "stop", 2)
    prove("wenxin", "llm", "streaming")

    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    called = await runtime.chat(
        provider="wenxin",
        model="ernie-3.5-8k",
        credentials=legacy,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=tools,
    )
    assert [c.name for c in called.tool_calls] == ["get_weather"] and called.finish_reason == "tool_calls"
    streamed_call = await (
        await runtime.chat(
            provider="wenxin",
            model="ernie-3.5-8k",
            credentials=legacy,
            messages=[{"role": "user", "content": "Weather?"}],
            tools=tools,
            stream=True,
        )
    ).collect()
    assert [c.name for c in streamed_call.tool_calls] == ["get_weather"]
    prove("wenxin", "llm", "tools")


async def test_legacy_embeddings_and_rerank(runtime, fake, legacy) -> None:
    texts = [f"text {i}" for i in range(20)]  # embedding-v1 takes 16 per request: two batches
    embedded = await runtime.embed(provider="wenxin", model="embedding-v1", credentials=legacy, texts=texts)
    assert len(embedded.vectors) == 20 and embedded.usage.prompt_tokens == 40
    assert [len(r.json["input"]) for r in fake.requests if "embeddings" in r.path] in ([16, 4], [4, 16])
    prove("wenxin", "text-embedding", "invoke")

    reranked = await runtime.rerank(
        provider="wenxin",
        model="bce-reranker-base_v1",
        credentials=legacy,
        query="",
        documents=["a", "b", "c"],
        top_n=5,
    )
    assert [hit.index for hit in reranked.hits] == [2, 1, 0]
    assert fake.requests[-1].json == {"query": " ", "documents": ["a", "b", "c"], "top_n": 3}
    prove("wenxin", "rerank", "invoke")


async def test_a_revoked_token_is_an_auth_error(runtime, fake, legacy) -> None:
    await runtime.chat(
        provider="wenxin", model="ernie-3.5-8k", credentials=legacy, messages=[{"role": "user", "content": "Hi"}]
    )
    fake.revoke()
    with pytest.raises(UpstreamAuthError) as caught:
        await runtime.chat(
            provider="wenxin", model="ernie-3.5-8k", credentials=legacy, messages=[{"role": "user", "content": "Hi"}]
        )
    assert caught.value.vendor_code == "111"


async def test_a_stream_that_fails_at_once_raises_the_mapped_error(runtime, fake, legacy) -> None:
    fake.reply_raw(orjson.dumps(error(336501, "rpm limit reached")), content_type="application/json")
    stream = await runtime.chat(
        provider="wenxin",
        model="ernie-3.5-8k",
        credentials=legacy,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
    )
    with pytest.raises(UpstreamRateLimitError, match="rpm limit"):
        await stream.collect()


async def test_v2_chat_embeddings_and_rerank_with_the_bearer_key(runtime, fake, v2) -> None:
    result = await runtime.chat(
        provider="wenxin", model="ernie-4.5-turbo-128k", credentials=v2, messages=[{"role": "user", "content": "Hi"}]
    )
    assert result.content == "Hello!"
    chat = fake.requests[-1]
    assert (chat.path, chat.headers["authorization"]) == ("/v2/chat/completions", f"Bearer {SECRET}")
    assert [r.path for r in fake.requests] == ["/v2/chat/completions"]  # the key needs no exchange first
    await runtime.embed(provider="wenxin", model="tao-8k", credentials=v2, texts=["a", "b"])
    assert [r.json["input"] for r in fake.requests if r.path == "/v2/embeddings"] in ([["a"], ["b"]], [["b"], ["a"]])
    await runtime.rerank(provider="wenxin", model="bce-reranker-base_v1", credentials=v2, query="q", documents=["a"])
    assert fake.requests[-1].json["model"] == "bce-reranker-base"


async def test_a_refused_v2_key_is_an_auth_error(runtime, fake, v2) -> None:
    with pytest.raises(UpstreamAuthError):
        await runtime.chat(
            provider="wenxin",
            model="ernie-4.5-turbo-128k",
            credentials={**v2, "api_key": "bce-v3/x"},
            messages=[{"role": "user", "content": "Hi"}],
        )


def test_every_error_is_an_upstream_error() -> None:
    assert isinstance(protocol.parse_error(target(), 502, {}, b"<html>bad gateway</html>"), UpstreamError)


async def test_credentials_of_either_style_are_validated_with_a_free_model(runtime, fake, legacy, v2) -> None:
    accepted = await runtime.validate_credentials(provider="wenxin", credentials=legacy)
    assert accepted["api_style"] == "legacy"
    assert fake.requests[-1].path.endswith("/chat/ernie_speed")
    await runtime.validate_credentials(provider="wenxin", credentials=v2)
    assert fake.requests[-1].json["model"] == "ernie-speed-8k"


async def test_the_legacy_style_requires_the_secret_key(runtime, legacy) -> None:
    without = {k: v for k, v in legacy.items() if k != "secret_key"}
    with pytest.raises(CredentialValidationError) as caught:
        await runtime.validate_credentials(provider="wenxin", credentials=without)
    assert caught.value.field == "secret_key"
