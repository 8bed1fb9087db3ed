"""Hunyuan: the native API (TC3-signed ChatCompletions, GetEmbedding) and the OpenAI-compatible one, on bytes and
through the runtime against the Tencent fake, which verifies every signature."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest

from modelyard.errors import (
    ContentFilteredError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.protocols.hunyuan import Hunyuan
from modelyard.protocols.hunyuan.protocol import is_native
from modelyard.protocols.sse import NDJSONDecoder, ServerSentEvent
from modelyard.types import ChatRequest, EmbeddingRequest, ImagePart, Message, TextPart, Tool, ToolCall
from modelyard.types.chat import NamedToolChoice
from modelyard.types.usage import UNREPORTED
from tests.capabilities import prove
from tests.fakes.loopback import served
from tests.fakes.tencent import (
    FakeTencent,
    chat_answer,
    cloud_error,
    sse_lines,
    stream_event,
    text_stream,
    tool_call,
    tool_stream,
)
from tests.support import SECRET

NATIVE = "https://hunyuan.tencentcloudapi.com"
SECRET_ID = "AKIDhunyuantest0001"
SECRET_KEY = "hunyuan-secret-key-0001"
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
hunyuan = Hunyuan()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTencent]:
    async with served(FakeTencent(keys={SECRET_ID: SECRET_KEY})) as upstream:
        yield upstream


NATIVE_CREDENTIALS = {"endpoint": NATIVE, "secret_id": SECRET_ID, "secret_key": SECRET_KEY}


def native_target(runtime, model: str = "hunyuan-turbos-latest", model_type: str = "llm", **credentials: str):
    return runtime.target("hunyuan", model, model_type, NATIVE_CREDENTIALS | credentials, base_url=NATIVE)


def lines(body: bytes) -> list[ServerSentEvent]:
    decoder = NDJSONDecoder()
    return decoder.feed(body) + decoder.flush()


def feed_all(parser, body: bytes) -> list:
    return [chunk for event in lines(body) if (chunk := parser.feed(event)) is not None]


# --- choosing the API --------------------------------------------------------------------------------------------


def test_the_endpoint_credential_chooses_the_api(runtime) -> None:
    assert is_native(native_target(runtime))
    openai = runtime.target("hunyuan", "hunyuan-lite", "llm", {"api_key": SECRET})  # the form's default endpoint
    assert not is_native(openai)
    assert openai.base_url == "https://api.hunyuan.cloud.tencent.com/v1"


# --- native requests ---------------------------------------------------------------------------------------------


def test_native_chat_request_is_pascal_case_with_tool_parameters_as_a_json_string(runtime) -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief."),
            Message.user("Weather in Oslo?"),
            Message.assistant("", [ToolCall("call_1", "get_weather", '{"city": "Oslo"}')]),
            Message.tool("call_1", "Sunny"),
            Message.user([TextPart("And this?"), ImagePart("https://img.test/a.png")]),
        ),
        tools=(WEATHER,),
        tool_choice="auto",
        temperature=0.5,
        top_p=0.9,
        seed=7,
        stop=("END",),
        max_tokens=100,
    )
    upstream = hunyuan.build_chat(native_target(runtime), request, stream=True)
    body = orjson.loads(upstream.body)

    assert upstream.url == f"{NATIVE}/"
    assert upstream.headers["X-TC-Action"] == "ChatCompletions"
    assert upstream.headers["X-TC-Version"] == "2023-09-01"
    assert body["Model"] == "hunyuan-turbos-latest"
    assert body["Stream"] is True
    assert body["Messages"] == [
        {"Role": "system", "Content": "Be brief."},
        {"Role": "user", "Content": "Weather in Oslo?"},
        {
            "Role": "assistant",
            "Content": "",
            "ToolCalls": [
                {
                    "Id": "call_1",
                    "Type": "function",
                    "Function": {"Name": "get_weather", "Arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"Role": "tool", "Content": "Sunny", "ToolCallId": "call_1"},
        {
            "Role": "user",
            "Contents": [
                {"Type": "text", "Text": "And this?"},
                {"Type": "image_url", "ImageUrl": {"Url": "https://img.test/a.png"}},
            ],
        },
    ]
    function = body["Tools"][0]["Function"]
    assert isinstance(function["Parameters"], str)
    assert orjson.loads(function["Parameters"]) == dict(WEATHER.parameters)
    assert body["ToolChoice"] == "auto"
    assert (body["Temperature"], body["TopP"], body["Seed"], body["Stop"]) == (0.5, 0.9, 7, ["END"])
    assert "MaxTokens" not in body  # the native API has no output-length field


def test_native_named_tool_choice_is_custom_with_the_tool(runtime) -> None:
    other = Tool("get_time", "Time in a city")
    request = ChatRequest(
        messages=(Message.user("Hi"),), tools=(WEATHER, other), tool_choice=NamedToolChoice("get_time")
    )
    body = orjson.loads(hunyuan.build_chat(native_target(runtime), request, stream=False).body)
    assert body["ToolChoice"] == "custom"
    assert body["CustomTool"]["Function"]["Name"] == "get_time"

    required = ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice="required")
    body = orjson.loads(hunyuan.build_chat(native_target(runtime), required, stream=False).body)
    assert body["CustomTool"]["Function"]["Name"] == "get_weather"
    with pytest.raises(UnsupportedFeatureError):
        hunyuan.build_chat(
            native_target(runtime),
            ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER, other), tool_choice="required"),
            stream=False,
        )


def test_native_extra_parameters_and_thinking_switch_pass_through(runtime) -> None:
    request = ChatRequest(
        messages=(Message.user("Hi"),), reasoning_effort="none", extra={"EnableEnhancement": True, "Citation": True}
    )
    body = orjson.loads(hunyuan.build_chat(native_target(runtime), request, stream=False).body)
    assert body["EnableThinking"] is False
    assert body["EnableEnhancement"] is True and body["Citation"] is True


# --- native answers ----------------------------------------------------------------------------------------------


def test_native_answer_reads_content_reasoning_tools_finish_and_usage(runtime) -> None:
    target = native_target(runtime)
    answer = chat_answer("", tool_calls=[tool_call("get_weather")], reasoning="Look it up.", finish="tool_calls")
    answer["Response"]["Usage"]["PromptTokensDetails"] = {"CachedTokens": 4}
    result = hunyuan.parse_chat(target, orjson.dumps(answer))
    assert result.tool_calls == (ToolCall("call_1", "get_weather", '{"q": "x"}'),)
    assert result.reasoning == "Look it up."
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.cached_tokens) == (9, 3, 4)


def test_native_sensitive_finish_is_a_content_filter_stop(runtime) -> None:
    result = hunyuan.parse_chat(native_target(runtime), orjson.dumps(chat_answer("部分", finish="sensitive")))
    assert result.finish_reason == "content_filter"


ERRORS = [
    ("AuthFailure.SignatureFailure", UpstreamAuthError),
    ("AuthFailure.SecretIdNotFound", UpstreamAuthError),
    ("LimitExceeded", UpstreamRateLimitError),
    ("RequestLimitExceeded.UinLimitExceeded", UpstreamRateLimitError),
    ("ResourceInsufficient.ChargeResourceExhaust", ProviderQuotaExhaustedError),
    ("ResourceUnavailable.InArrears", ProviderQuotaExhaustedError),
    ("FailedOperation.ResourcePackExhausted", ProviderQuotaExhaustedError),
    ("InvalidParameter", UpstreamBadRequestError),
    ("InvalidParameterValue.Model", UpstreamBadRequestError),
    ("OperationDenied.TextIllegalDetected", ContentFilteredError),
    ("FailedOperation.EngineRequestTimeout", UpstreamTimeoutError),
    ("InternalError", UpstreamUnavailableError),
    ("FailedOperation.SomethingNew", UpstreamBadRequestError),
]


@pytest.mark.parametrize(("code", "kind"), ERRORS)
def test_native_error_codes_inside_http_200_are_classified(runtime, code: str, kind: type[UpstreamError]) -> None:
    with pytest.raises(kind) as caught:
        hunyuan.parse_chat(native_target(runtime), orjson.dumps(cloud_error(code, "nope")))
    assert type(caught.value) is kind
    assert caught.value.vendor_code == code
    assert code in str(caught.value) and "req-fake-0001" in str(caught.value)


def test_native_error_message_never_carries_the_secret_key(runtime) -> None:
    body = orjson.dumps(cloud_error("AuthFailure.SignatureFailure", f"bad key {SECRET_KEY}"))
    with pytest.raises(UpstreamAuthError) as caught:
        hunyuan.parse_chat(native_target(runtime), body)
    assert SECRET_KEY not in str(caught.value)


def test_native_http_failure_without_an_envelope_goes_by_status(runtime) -> None:
    error = hunyuan.parse_error(native_target(runtime), 503, {}, b"<html>busy</html>")
    assert isinstance(error, UpstreamUnavailableError)
    error = hunyuan.parse_error(
        native_target(runtime), 429, {"Retry-After": "3"}, orjson.dumps(cloud_error("LimitExceeded", "slow"))
    )
    assert isinstance(error, UpstreamRateLimitError) and error.retry_after_s == 3


# --- native streams ----------------------------------------------------------------------------------------------


def test_native_stream_reads_deltas_and_cumulative_usage(runtime) -> None:
    chunks = feed_all(hunyuan.chat_stream_parser(native_target(runtime)), text_stream("Hel", "lo!"))
    assert "".join(c.content for c in chunks) == "Hello!"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


def test_native_stream_tool_call_fragments_keep_their_index(runtime) -> None:
    chunks = feed_all(hunyuan.chat_stream_parser(native_target(runtime)), tool_stream("get_weather"))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].name == "get_weather" and deltas[0].id == "call_1"
    assert {d.index for d in deltas} == {0}
    assert "".join(d.arguments for d in deltas) == '{"q": "x"}'
    assert chunks[-1].finish_reason == "tool_calls"


def test_native_stream_refused_with_a_plain_json_body_raises(runtime) -> None:
    parser = hunyuan.chat_stream_parser(native_target(runtime))
    with pytest.raises(UpstreamAuthError):
        feed_all(parser, orjson.dumps(cloud_error("AuthFailure.SignatureExpire", "too old")))


def test_native_stream_error_event_raises_after_what_came_before(runtime) -> None:
    body = sse_lines(stream_event({"Role": "assistant", "Content": "Hel"}), {"ErrorMsg": {"Code": 2001, "Msg": "boom"}})
    parser = hunyuan.chat_stream_parser(native_target(runtime))
    events = lines(body)
    assert parser.feed(events[0]).content == "Hel"
    with pytest.raises(UpstreamUnavailableError, match="boom"):
        parser.feed(events[1])


def test_native_stream_garbage_is_a_protocol_error(runtime) -> None:
    with pytest.raises(UpstreamProtocolError):
        hunyuan.chat_stream_parser(native_target(runtime)).feed(ServerSentEvent(b"data: {not json"))


# --- through the runtime, against the fake (which checks every TC3 signature) ------------------------------------


async def test_native_chat_through_the_runtime_is_signed_and_priced(runtime, fake) -> None:
    result = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-turbos-latest",
        credentials=NATIVE_CREDENTIALS,
        messages=[{"role": "user", "content": "Hi"}],
        base_url=fake.url,
    )
    assert result.content == "Hello!"
    assert fake.signatures[-1] == (SECRET_ID, "hunyuan", True)
    assert fake.last.headers["x-tc-action"] == "ChatCompletions"
    assert fake.last.json["Messages"] == [{"Role": "user", "Content": "Hi"}]
    assert result.usage.currency == "CNY"
    assert result.usage.total_price == Decimal(9) * Decimal("0.8e-6") + Decimal(3) * Decimal("2e-6")
    prove("hunyuan", "llm", "invoke")


async def test_native_stream_through_the_runtime(runtime, fake) -> None:
    stream = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-turbos-latest",
        credentials=NATIVE_CREDENTIALS,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        base_url=fake.url,
    )
    result = await stream.collect()
    assert result.content == "Hello!"
    assert result.finish_reason == "stop"
    assert result.usage.completion_tokens == 2 and not result.usage.is_estimated
    prove("hunyuan", "llm", "streaming")


async def test_native_streamed_tool_call_through_the_runtime(runtime, fake) -> None:
    stream = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-turbos-latest",
        credentials=NATIVE_CREDENTIALS,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[WEATHER],
        stream=True,
        base_url=fake.url,
    )
    result = await stream.collect()
    assert result.tool_calls == (ToolCall("call_1", "get_weather", '{"q": "x"}'),)
    assert result.finish_reason == "tool_calls"
    prove("hunyuan", "llm", "tools")


async def test_native_stream_refusal_surfaces_as_an_error_not_an_empty_answer(runtime, fake) -> None:
    fake.fail_cloud("ResourceUnavailable.InArrears", "account in arrears")
    stream = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-turbos-latest",
        credentials=NATIVE_CREDENTIALS,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        base_url=fake.url,
    )
    with pytest.raises(ProviderQuotaExhaustedError, match="InArrears"):
        await stream.collect()


async def test_the_fake_refuses_a_wrong_secret_key(runtime, fake) -> None:
    with pytest.raises(UpstreamAuthError, match="SignatureFailure"):
        await runtime.chat(
            provider="hunyuan",
            model="hunyuan-lite",
            credentials=NATIVE_CREDENTIALS | {"secret_key": "not-the-key"},
            messages=[{"role": "user", "content": "Hi"}],
            base_url=fake.url,
        )
    assert fake.signatures[-1] == (SECRET_ID, "hunyuan", False)


async def test_native_embeddings_through_the_runtime(runtime, fake) -> None:
    result = await runtime.embed(
        provider="hunyuan",
        model="hunyuan-embedding",
        credentials=NATIVE_CREDENTIALS,
        texts=["a", "bb"],
        base_url=fake.url,
    )
    assert len(result.vectors) == 2 and result.vectors[0] != result.vectors[1]
    assert fake.last.headers["x-tc-action"] == "GetEmbedding"
    assert fake.last.json == {"InputList": ["a", "bb"]}
    assert result.usage.prompt_tokens == 3 and result.usage.currency == "CNY"
    prove("hunyuan", "text-embedding", "invoke")


def test_native_embeddings_refuse_a_size(runtime) -> None:
    with pytest.raises(UnsupportedFeatureError):
        hunyuan.build_embeddings(
            native_target(runtime, "hunyuan-embedding", "text-embedding"), EmbeddingRequest(("a",), 256)
        )


def test_native_embedding_usage_missing_is_unreported(runtime) -> None:
    target = native_target(runtime, "hunyuan-embedding", "text-embedding")
    body = orjson.dumps({"Response": {"Data": [{"Embedding": [0.1], "Index": 0}], "RequestId": "r"}})
    assert hunyuan.parse_embeddings(target, body).usage is UNREPORTED


# --- the OpenAI-compatible endpoint ------------------------------------------------------------------------------


async def test_openai_compatible_chat_and_stream_use_the_bearer_key(runtime, fake) -> None:
    credentials = {"api_key": SECRET}
    result = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-t1-latest",
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        max_tokens=50,
        base_url=fake.url,
    )
    assert result.content == "Hello!"
    assert fake.last.path == "/chat/completions"
    assert fake.last.headers["authorization"] == f"Bearer {SECRET}"
    assert fake.last.json["max_tokens"] == 50 and fake.last.json["model"] == "hunyuan-t1-latest"
    assert "x-tc-action" not in fake.last.headers

    stream = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-t1-latest",
        credentials=credentials,
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        base_url=fake.url,
    )
    streamed = await stream.collect()
    assert streamed.content == "Hello!" and streamed.usage.prompt_tokens == 9


async def test_openai_compatible_stream_error_body_is_raised(runtime, fake) -> None:
    fake.reply_raw(orjson.dumps({"error": {"message": "bad key", "type": "auth", "code": "invalid_api_key"}}))
    stream = await runtime.chat(
        provider="hunyuan",
        model="hunyuan-lite",
        credentials={"api_key": SECRET},
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        base_url=fake.url,
    )
    with pytest.raises(UpstreamError, match="bad key"):
        await stream.collect()
