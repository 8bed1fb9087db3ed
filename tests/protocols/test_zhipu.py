"""The Zhipu adapter on bytes alone: the SDK's request adjustments, business error codes, Zhipu's finish reasons."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols import PROTOCOLS
from modelyard.protocols.sse import ServerSentEvent
from modelyard.protocols.zhipu import Zhipu, ZhipuQuirks
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    ResponseFormat,
    TextPart,
    Tool,
)
from modelyard.types.chat import NamedToolChoice
from tests.fakes.openai import chat_chunk, completion
from tests.fakes.zhipu import zhipu_error
from tests.protocols.targets import target

BASE = "https://open.bigmodel.cn/api/paas/v4"
KEY = "a1b2c3d4e5.zhipu-secret-0001"
ZHIPU = Zhipu()
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def zhipu(model_type: str = "llm", model_id: str = "glm-4.6", **properties: object):
    return target(
        model_type,
        model_id=model_id,
        properties=properties or None,
        quirks=ZhipuQuirks(models_without_stop=("glm-4v-plus",)),
        base_url=BASE,
        credentials={"api_key": KEY, "endpoint_url": BASE},
        protocol="zhipu",
    )


def chat_body(request: ChatRequest, *, stream: bool = False, model_id: str = "glm-4.6") -> dict:
    built = ZHIPU.build_chat(zhipu(model_id=model_id), request, stream=stream)
    assert built.url == f"{BASE}/chat/completions"
    assert isinstance(built.body, bytes)
    return orjson.loads(built.body)


def test_protocol_is_registered_under_its_name() -> None:
    assert isinstance(PROTOCOLS["zhipu"], Zhipu)


# --- requests ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("temperature", "top_p", "expected"),
    [
        (0.0, 1.0, {"temperature": 0.01, "do_sample": False, "top_p": 0.99}),
        (1.0, 0.0, {"temperature": 0.99, "top_p": 0.01}),
        (1.5, 0.7, {"temperature": 0.99, "top_p": 0.7}),
        (0.5, 0.9, {"temperature": 0.5, "top_p": 0.9}),
    ],
)
def test_sampling_values_are_kept_inside_the_open_interval_as_the_sdk_does(temperature, top_p, expected) -> None:
    body = chat_body(ChatRequest(messages=(Message.user("Hi"),), temperature=temperature, top_p=top_p))

    assert {k: body[k] for k in expected} == expected
    assert ("do_sample" in body) == ("do_sample" in expected)


def test_user_becomes_user_id_and_fields_zhipu_does_not_define_are_left_out() -> None:
    request = ChatRequest(
        messages=(Message.user("Hi"),),
        user="end-user-42",
        presence_penalty=0.1,
        frequency_penalty=0.2,
        parallel_tool_calls=True,
        reasoning_effort="high",
        seed=7,
        max_tokens=64,
    )

    body = chat_body(request, stream=True)

    assert body == {
        "model": "glm-4.6",
        "messages": [{"role": "user", "content": "Hi"}],
        "user_id": "end-user-42",
        "seed": 7,
        "max_tokens": 64,
        "stream": True,  # and no stream_options: usage comes on the last chunk anyway
    }


def test_inline_images_go_as_bare_base64_and_urls_as_they_are() -> None:
    parts = (TextPart("Compare"), ImagePart(f"data:image/png;base64,{PNG}", "high"), ImagePart("https://x.test/a.jpg"))

    body = chat_body(ChatRequest(messages=(Message.user(parts),)), model_id="glm-4v-flash")

    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
    ]


def test_stop_is_dropped_only_for_the_models_that_fail_with_it() -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), stop=("END",))

    assert "stop" not in chat_body(request, model_id="glm-4v-plus")
    assert chat_body(request, model_id="glm-4.6")["stop"] == ["END"]


def test_tool_choice_none_sends_no_tools_and_auto_sends_them() -> None:
    none = chat_body(ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice="none"))
    auto = chat_body(ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice="auto"))

    assert "tools" not in none and "tool_choice" not in none
    assert auto["tool_choice"] == "auto"
    assert auto["tools"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(
    "request_",
    [
        ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice="required"),
        ChatRequest(messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice=NamedToolChoice("get_weather")),
        ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("json_schema", schema={})),
    ],
    ids=["tool-choice-required", "named-tool", "json-schema"],
)
def test_what_zhipu_cannot_do_is_refused_before_any_call(request_: ChatRequest) -> None:
    with pytest.raises(UnsupportedFeatureError):
        ZHIPU.build_chat(zhipu(), request_, stream=False)


def test_embeddings_send_model_input_and_dimensions_only() -> None:
    embedding = zhipu("text-embedding", "embedding-3", supports_dimensions=True)

    built = ZHIPU.build_embeddings(embedding, EmbeddingRequest(("a", "b"), dimensions=512))

    assert built.url == f"{BASE}/embeddings"
    assert orjson.loads(built.body) == {"model": "embedding-3", "input": ["a", "b"], "dimensions": 512}


# --- answers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "expected"), [("sensitive", "content_filter"), ("network_error", "error")])
def test_zhipus_own_finish_reasons_are_mapped(raw: str, expected: str) -> None:
    answer = completion("partial", finish_reason=raw)
    chunk = chat_chunk({"content": "x"}, raw)

    assert ZHIPU.parse_chat(zhipu(), orjson.dumps(answer)).finish_reason == expected
    streamed = ZHIPU.chat_stream_parser(zhipu()).feed(ServerSentEvent(orjson.dumps(chunk)))
    assert streamed is not None and streamed.finish_reason == expected


def test_a_stream_reads_text_tool_calls_and_usage_from_the_last_chunk() -> None:
    parser = ZHIPU.chat_stream_parser(zhipu())
    call = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}

    first = parser.feed(ServerSentEvent(orjson.dumps(chat_chunk({"role": "assistant", "tool_calls": [call]}))))
    last = parser.feed(ServerSentEvent(orjson.dumps(chat_chunk({"content": ""}, "tool_calls", usage=usage))))
    parser.feed(ServerSentEvent(b"[DONE]"))

    assert first is not None and first.tool_calls[0].name == "get_weather"
    assert last is not None and last.finish_reason == "tool_calls"
    assert last.usage is not None and last.usage.completion_tokens == 3
    assert parser.finished


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, "1113", ProviderQuotaExhaustedError),  # in arrears, though it arrives as a 429
        (400, "1261", ContextLengthExceededError),
        (400, "1301", ContentFilteredError),
        (429, "1302", UpstreamRateLimitError),
        (429, "1303", UpstreamRateLimitError),
        (429, "1305", UpstreamRateLimitError),
        (401, "1002", UpstreamAuthError),
        (401, "1003", UpstreamAuthError),
        (403, "1220", UpstreamAuthError),
        (400, "1211", UpstreamBadRequestError),
        (400, "1214", UpstreamBadRequestError),
        (500, "1234", UpstreamUnavailableError),
        (503, "9999", UpstreamUnavailableError),  # unknown code: the status decides
        (429, "9999", UpstreamRateLimitError),
    ],
)
def test_business_codes_decide_the_error(status: int, code: str, kind: type[UpstreamError]) -> None:
    body = orjson.dumps(zhipu_error(code, f"failure {code}"))

    error = ZHIPU.parse_error(zhipu(), status, {"Retry-After": "3"}, body)

    assert type(error) is kind
    assert error.vendor_code == code and error.status_code == status
    assert f"failure {code}" in str(error) and str(error).startswith("[acme]")


def test_rate_limits_carry_retry_after() -> None:
    error = ZHIPU.parse_error(zhipu(), 429, {"Retry-After": "3"}, orjson.dumps(zhipu_error("1302", "slow down")))

    assert isinstance(error, UpstreamRateLimitError) and error.retry_after_s == 3


def test_an_error_mid_stream_is_raised_with_its_business_meaning() -> None:
    parser = ZHIPU.chat_stream_parser(zhipu())
    assert parser.feed(ServerSentEvent(orjson.dumps(chat_chunk({"content": "Hel"})))) is not None

    with pytest.raises(ContentFilteredError) as caught:
        parser.feed(ServerSentEvent(orjson.dumps(zhipu_error("1301", "unsafe content"))))

    assert caught.value.vendor_code == "1301"


def test_an_error_in_a_200_body_is_raised() -> None:
    with pytest.raises(ProviderQuotaExhaustedError):
        ZHIPU.parse_chat(zhipu(), orjson.dumps(zhipu_error("1113", "in arrears")))
    with pytest.raises(UpstreamRateLimitError):
        ZHIPU.parse_embeddings(zhipu("text-embedding", "embedding-3"), orjson.dumps(zhipu_error("1302", "busy")))


def test_the_key_is_masked_if_an_error_echoes_it() -> None:
    body = orjson.dumps(zhipu_error("1002", f"token {KEY} is invalid"))

    error = ZHIPU.parse_error(zhipu(), 401, {}, body)

    assert KEY not in str(error) and "****" in str(error)


def test_a_non_json_error_body_falls_back_to_the_status() -> None:
    error = ZHIPU.parse_error(zhipu(), 502, {}, b"<html>Bad Gateway</html>")

    assert isinstance(error, UpstreamUnavailableError) and "Bad Gateway" in str(error)


def test_openai_endpoints_zhipu_does_not_offer_are_refused_not_sent() -> None:
    with pytest.raises(UnsupportedFeatureError):
        ZHIPU.build_rerank(zhipu("rerank"), RerankRequest("q", ("a",)))
    with pytest.raises(UnsupportedFeatureError):
        ZHIPU.build_list_models(zhipu())
