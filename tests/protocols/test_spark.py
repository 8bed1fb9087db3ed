from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols import PROTOCOLS
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import ChatRequest, Message, Tool, ToolCall
from tests.fakes.openai import sse
from tests.fakes.registry import FAKES, serving
from tests.fakes.spark import FakeSpark, answer_frame, error_frame, usage_text
from tests.support import SECRET, eventually

SPARK = PROTOCOLS["spark"]
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})
SOCKET_CREDENTIALS = {"app_id": "a1b2c3d4", "api_key": SECRET, "api_secret": SECRET}
HTTP_CREDENTIALS = {"api_password": SECRET, "wire": "https://spark-api-open.xf-yun.com/v1"}


@pytest.fixture
async def fake() -> AsyncIterator[FakeSpark]:
    async with serving(FAKES["spark"]) as upstream:
        yield upstream


def socket_target(runtime, fake: FakeSpark, model: str = "4.0Ultra", credentials: dict[str, str] | None = None):
    base = "ws" + fake.url.removeprefix("http")
    return runtime.target("spark", model, "llm", credentials or SOCKET_CREDENTIALS, base_url=base)


def http_target(runtime, fake: FakeSpark, model: str = "generalv3.5"):
    return runtime.target("spark", model, "llm", HTTP_CREDENTIALS, base_url=f"{fake.url}/v1")


def frame_of(runtime, request: ChatRequest, model: str = "4.0Ultra") -> tuple[str, dict[str, Any]]:
    target = runtime.target("spark", model, "llm", SOCKET_CREDENTIALS)
    socket = SPARK.build_chat_socket(target, request)
    assert socket is not None
    return socket.url, orjson.loads(socket.frames[0])


# --- the request frame ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "url"),
    [
        ("4.0Ultra", "wss://spark-api.xf-yun.com/v4.0/chat"),
        ("max-32k", "wss://spark-api.xf-yun.com/chat/max-32k"),
        ("generalv3.5", "wss://spark-api.xf-yun.com/v3.5/chat"),
        ("pro-128k", "wss://spark-api.xf-yun.com/chat/pro-128k"),
        ("generalv3", "wss://spark-api.xf-yun.com/v3.1/chat"),
        ("lite", "wss://spark-api.xf-yun.com/v1.1/chat"),
    ],
)
def test_each_version_has_its_socket_path_and_domain(runtime, model: str, url: str) -> None:
    socket_url, frame = frame_of(runtime, ChatRequest.user_text("Hi"), model)
    assert socket_url == url
    assert frame["parameter"]["chat"]["domain"] == model


def test_the_request_frame_carries_app_id_parameters_and_the_conversation(runtime) -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi"), Message.assistant("Hello"), Message.user("More")),
        temperature=0.3,
        max_tokens=100,
        user="u-42",
        extra={"top_k": 3},
    )
    _, frame = frame_of(runtime, request)
    assert frame["header"] == {"app_id": "a1b2c3d4", "uid": "u-42"}
    assert frame["parameter"] == {"chat": {"domain": "4.0Ultra", "temperature": 0.3, "max_tokens": 100, "top_k": 3}}
    assert frame["payload"]["message"]["text"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "More"},
    ]
    assert "functions" not in frame["payload"]


def test_tools_go_as_functions_and_a_call_and_its_result_go_back_in_the_history(runtime) -> None:
    call = ToolCall("call_1", "get_weather", '{"q": "Oslo"}')
    request = ChatRequest(
        messages=(
            Message.user("Weather?"),
            Message(role="assistant", content="", tool_calls=(call,)),
            Message(role="tool", content="12 C", tool_call_id="call_1"),
        ),
        tools=(WEATHER,),
    )
    _, frame = frame_of(runtime, request)
    assert frame["payload"]["functions"] == {
        "text": [{"name": "get_weather", "description": "Weather for a city", "parameters": dict(WEATHER.parameters)}]
    }
    assert frame["payload"]["message"]["text"][1:] == [
        {"role": "assistant", "content": "", "function_call": {"name": "get_weather", "arguments": '{"q": "Oslo"}'}},
        {"role": "user", "content": "12 C"},
    ]


def test_an_https_base_url_means_the_http_api(runtime) -> None:
    target = runtime.target("spark", "generalv3.5", "llm", HTTP_CREDENTIALS)
    assert SPARK.build_chat_socket(target, ChatRequest.user_text("Hi")) is None
    request = SPARK.build_chat(target, ChatRequest.user_text("Hi"), stream=False)
    assert request.url == "https://spark-api-open.xf-yun.com/v1/chat/completions"
    assert orjson.loads(request.body)["model"] == "generalv3.5"


# --- answer frames ----------------------------------------------------------------------------------------------


def parse(runtime, *frames: dict[str, Any]) -> list[Any]:
    parser = SPARK.chat_stream_parser(runtime.target("spark", "4.0Ultra", "llm", SOCKET_CREDENTIALS))
    chunks = [parser.feed(ServerSentEvent(orjson.dumps(frame))) for frame in frames]
    assert parser.finished
    return chunks


def test_answer_frames_become_chunks_and_the_last_one_carries_usage_and_stop(runtime) -> None:
    first, middle, last = parse(
        runtime,
        answer_frame("Hel", status=0),
        answer_frame("lo", status=1),
        answer_frame("", status=2, usage=usage_text(20, 5)),
    )
    assert (first.content, middle.content, last.content) == ("Hel", "lo", "")
    assert last.finish_reason == "stop"
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (20, 5)


def test_a_function_call_frame_is_a_tool_call(runtime) -> None:
    (chunk,) = parse(
        runtime,
        answer_frame(status=2, function_call={"name": "get_weather", "arguments": '{"q":"Oslo"}'}, usage=usage_text()),
    )
    assert chunk.finish_reason == "tool_calls"
    assert [(d.index, d.name, d.arguments) for d in chunk.tool_calls] == [(0, "get_weather", '{"q":"Oslo"}')]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (10013, ContentFilteredError),
        (10014, ContentFilteredError),
        (10019, ContentFilteredError),
        (11200, UpstreamAuthError),
        (10015, UpstreamAuthError),
        (10016, ProviderQuotaExhaustedError),
        (11201, UpstreamRateLimitError),
        (11202, UpstreamRateLimitError),
        (11203, UpstreamRateLimitError),
        (10006, UpstreamRateLimitError),
        (10907, ContextLengthExceededError),
        (10163, UpstreamBadRequestError),
        (10003, UpstreamBadRequestError),
        (10012, UpstreamUnavailableError),
        (10999, UpstreamBadRequestError),
        (20001, UpstreamUnavailableError),
    ],
)
def test_error_codes_map_to_the_error_hierarchy(runtime, code: int, error: type[UpstreamError]) -> None:
    with pytest.raises(error) as caught:
        parse(runtime, error_frame(code, f"failure {code}"))
    assert type(caught.value) is error
    assert caught.value.vendor_code == str(code)
    assert f"failure {code} (code {code})" in str(caught.value)


def test_an_error_message_never_repeats_a_credential(runtime) -> None:
    with pytest.raises(UpstreamAuthError) as caught:
        parse(runtime, error_frame(11200, f"app a1b2c3d4 key {SECRET} not authorized"))
    assert SECRET not in str(caught.value)


# --- through the fake: the WebSocket API ------------------------------------------------------------------------


async def test_a_chat_over_the_socket_is_signed_answered_and_priced(runtime, fake) -> None:
    result = await runtime.invoke_chat(socket_target(runtime, fake, "lite"), ChatRequest.user_text("Hi"), stream=False)
    assert result.content == "Hello there!"
    assert result.finish_reason == "stop"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.is_estimated) == (9, 3, False)
    assert result.usage.currency == "CNY"
    recorded = fake.last
    assert recorded.path == "/v1.1/chat"
    assert set(recorded.query) == {"authorization", "date", "host"}
    assert recorded.json["header"]["app_id"] == "a1b2c3d4"


async def test_a_streamed_chat_over_the_socket_yields_each_frame(runtime, fake) -> None:
    fake.send_frames(
        answer_frame("One", status=0), answer_frame(" two", status=1), answer_frame("!", status=2, usage=usage_text())
    )
    stream = await runtime.invoke_chat(socket_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)
    chunks = [chunk async for chunk in stream]
    assert [c.content for c in chunks] == ["One", " two", "!"]
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert stream.usage is not None and stream.usage.prompt_tokens == 9


async def test_a_tool_call_over_the_socket(runtime, fake) -> None:
    request = ChatRequest(messages=(Message.user("Weather in Oslo?"),), tools=(WEATHER,))
    result = await runtime.invoke_chat(socket_target(runtime, fake), request, stream=False)
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", '{"q": "x"}')]
    assert result.finish_reason == "tool_calls"


async def test_a_wrong_secret_is_refused_at_the_handshake_as_an_auth_error(runtime, fake) -> None:
    credentials = {**SOCKET_CREDENTIALS, "api_secret": "not-the-secret"}
    target = socket_target(runtime, fake, credentials=credentials)
    with pytest.raises(UpstreamAuthError) as caught:
        await runtime.invoke_chat(target, ChatRequest.user_text("Hi"), stream=False)
    assert fake.requests == []
    # aiohttp's handshake error names the signed URL: it is not chained onto ours
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "authorization=" not in str(caught.value)


async def test_a_stale_date_is_refused(runtime, fake) -> None:
    fake.max_skew_s = -1  # every date is too far off now
    with pytest.raises(UpstreamAuthError):
        await runtime.invoke_chat(socket_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)


async def test_an_error_frame_first_raises_before_the_stream_is_handed_out(runtime, fake) -> None:
    fake.send_error(11202, "the per-second limit was exceeded")
    with pytest.raises(UpstreamRateLimitError, match="per-second"):
        await runtime.invoke_chat(socket_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)


async def test_an_error_frame_mid_stream_ends_the_stream_with_the_error(runtime, fake) -> None:
    fake.send_frames(answer_frame("Once upon", status=0), error_frame(10014, "the output failed moderation"))
    stream = await runtime.invoke_chat(socket_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)
    seen = []
    with pytest.raises(ContentFilteredError):
        async for chunk in stream:
            seen.append(chunk.content)
    assert seen == ["Once upon"]


async def test_a_missing_app_id_is_a_bad_request(runtime, fake) -> None:
    credentials = {"api_key": SECRET, "api_secret": SECRET}
    with pytest.raises(UpstreamBadRequestError, match="10163"):
        await runtime.invoke_chat(
            socket_target(runtime, fake, credentials=credentials), ChatRequest.user_text("Hi"), stream=False
        )


# --- through the fake: the HTTP API -----------------------------------------------------------------------------


async def test_the_http_api_takes_the_api_password_as_a_bearer(runtime, fake) -> None:
    result = await runtime.invoke_chat(http_target(runtime, fake), ChatRequest.user_text("Hi"), stream=False)
    assert result.content == "Hello!"
    assert fake.last.path == "/v1/chat/completions"
    assert fake.last.headers["authorization"] == f"Bearer {SECRET}"
    assert fake.last.json["model"] == "generalv3.5"


async def test_the_http_api_streams_and_calls_tools(runtime, fake) -> None:
    streamed = await (
        await runtime.invoke_chat(http_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)
    ).collect()
    assert streamed.content == "Hello!"
    request = ChatRequest(messages=(Message.user("Weather?"),), tools=(WEATHER,))
    called = await runtime.invoke_chat(http_target(runtime, fake), request, stream=False)
    assert [c.name for c in called.tool_calls] == ["get_weather"]
    assert fake.last.json["tools"][0]["function"]["name"] == "get_weather"


async def test_an_http_error_code_in_a_200_body_is_mapped(runtime, fake) -> None:
    fake.reply_json({"code": 10907, "message": "token limit exceeded", "sid": "cha000fake", "choices": []})
    with pytest.raises(ContextLengthExceededError):
        await runtime.invoke_chat(http_target(runtime, fake), ChatRequest.user_text("Hi"), stream=False)


async def test_an_http_error_code_inside_the_stream_is_mapped(runtime, fake) -> None:
    fake.stream(sse({"code": 10013, "message": "input failed moderation", "sid": "cha000fake"}))
    stream = await runtime.invoke_chat(http_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)
    with pytest.raises(ContentFilteredError):
        await stream.collect()


async def test_an_http_error_status_with_a_spark_code_is_mapped_by_the_code(runtime, fake) -> None:
    fake.reply_json({"code": 11200, "message": "AppIdNoAuthError"}, status=401)
    with pytest.raises(UpstreamAuthError, match="AppIdNoAuthError"):
        await runtime.invoke_chat(http_target(runtime, fake), ChatRequest.user_text("Hi"), stream=False)


async def test_closing_a_socket_stream_early_closes_the_upstream_socket(runtime, fake) -> None:
    frames = [answer_frame(f"piece {i} ", status=1, seq=i) for i in range(50)]
    fake.send_frames(*frames, answer_frame("", status=2, usage=usage_text()), pause_s=0.05)
    stream = await runtime.invoke_chat(socket_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)
    assert (await anext(aiter(stream))).content == "piece 0 "
    await stream.aclose()
    await eventually(lambda: fake.sockets_closed_early, "the upstream socket to be closed")
    assert fake.sockets_closed_early == 1


async def test_a_socket_that_closes_before_the_last_frame_is_an_error_not_a_short_answer(runtime, fake) -> None:
    fake.send_frames(answer_frame("Half an ans", status=0))
    with pytest.raises(UpstreamProtocolError, match="before the answer was finished"):
        await runtime.invoke_chat(socket_target(runtime, fake), ChatRequest.user_text("Hi"), stream=False)


async def test_the_http_api_is_not_sent_stream_options(runtime, fake) -> None:
    await (await runtime.invoke_chat(http_target(runtime, fake), ChatRequest.user_text("Hi"), stream=True)).collect()
    assert fake.last.json["stream"] is True
    assert "stream_options" not in fake.last.json
