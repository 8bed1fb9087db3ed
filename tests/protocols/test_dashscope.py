"""The DashScope protocol on bytes (requests built, answers, cumulative and incremental streams read, errors
classified), then through the fake with the shipped tongyi provider: native and OpenAI-compatible mode."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from modelyard.catalog import default_catalog
from modelyard.catalog.loader import Catalog
from modelyard.errors import (
    ContentFilteredError,
    ContextLengthExceededError,
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
from modelyard.protocols.dashscope import DashScope
from modelyard.protocols.sse import ServerSentEvent, SSEDecoder
from modelyard.runtime import Runtime
from modelyard.types import (
    AudioPart,
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from modelyard.types.usage import UNREPORTED
from tests.capabilities import prove
from tests.fakes.dashscope import (
    FakeDashScope,
    error_body,
    generation,
    sse_events,
    text_stream,
    tool_call,
    tool_stream,
    usage,
)
from tests.fakes.loopback import served
from tests.protocols.targets import target
from tests.support import SECRET

dashscope = DashScope()
ROOT = "https://dashscope.test"
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})
PIXEL = "data:image/png;base64,iVBORw0KGgo="


def ds_target(model_type: str = "llm", *, features: tuple[str, ...] = ("tool-call",), **kwargs):
    kwargs.setdefault("base_url", ROOT)
    return target(model_type, protocol="dashscope", features=features, **kwargs)


def sent(request) -> dict:
    return orjson.loads(request.body)


def chunks_of(body: bytes, model_target=None) -> list:
    parser = dashscope.chat_stream_parser(model_target or ds_target())
    chunks = []
    for event in SSEDecoder().feed(body):
        chunk = parser.feed(event)
        if chunk is not None:
            chunks.append(chunk)
    assert parser.finished
    return chunks


# --- chat requests -----------------------------------------------------------------------------------------------


def test_text_request_puts_messages_in_input_and_options_in_parameters() -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi")),
        temperature=0.2,
        max_tokens=10,
        stop=("END",),
        frequency_penalty=0.4,  # no native counterpart: dropped
        reasoning_effort="high",
        extra={"enable_search": True, "thinking_budget": 100},
    )
    built = dashscope.build_chat(ds_target(), request, stream=False)
    assert built.url == f"{ROOT}/api/v1/services/aigc/text-generation/generation"
    assert "X-DashScope-SSE" not in built.headers
    assert sent(built) == {
        "model": "acme-1",
        "input": {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
        "parameters": {
            "result_format": "message",
            "temperature": 0.2,
            "max_tokens": 10,
            "stop": ["END"],
            "enable_thinking": True,
            "enable_search": True,
            "thinking_budget": 100,
        },
    }


def test_stream_request_asks_for_sse_by_header_and_for_incremental_output() -> None:
    built = dashscope.build_chat(ds_target(), ChatRequest.user_text("Hi"), stream=True)
    assert built.headers["X-DashScope-SSE"] == "enable"
    assert built.headers["Accept"] == "text/event-stream"
    assert sent(built)["parameters"] == {"result_format": "message", "incremental_output": True}
    omni = dashscope.build_chat(ds_target(model_id="qwen-omni-turbo"), ChatRequest.user_text("Hi"), stream=True)
    assert "incremental_output" not in sent(omni)["parameters"]  # the SDK leaves omni models alone too


def test_vision_models_and_image_parts_go_to_multimodal_generation_with_content_lists() -> None:
    request = ChatRequest(messages=(Message.system("Be brief."), Message.user([TextPart("What?"), ImagePart(PIXEL)])))
    for model_target in (ds_target(features=("vision",)), ds_target(features=())):
        built = dashscope.build_chat(model_target, request, stream=False)
        assert built.url == f"{ROOT}/api/v1/services/aigc/multimodal-generation/generation"
        assert sent(built)["input"]["messages"] == [
            {"role": "system", "content": [{"text": "Be brief."}]},
            {"role": "user", "content": [{"text": "What?"}, {"image": PIXEL}]},
        ]
    text_only = dashscope.build_chat(ds_target(features=("vision",)), ChatRequest.user_text("Hi"), stream=False)
    assert sent(text_only)["input"]["messages"] == [{"role": "user", "content": [{"text": "Hi"}]}]


def test_tool_turns_are_sent_as_dashscope_reads_them() -> None:
    call = tool_call("call_1", "get_weather", '{"city": "Oslo"}')
    request = ChatRequest(
        messages=(
            Message.user("Weather?"),
            Message.assistant("", [_tool_call_of(call)]),
            Message.tool("call_1", "Sunny"),
        ),
        tools=(WEATHER,),
        tool_choice="required",
    )
    body = sent(dashscope.build_chat(ds_target(), request, stream=False))
    assert body["input"]["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ],
    }
    assert body["input"]["messages"][2] == {"role": "tool", "content": "Sunny", "tool_call_id": "call_1"}
    assert body["parameters"]["tools"][0]["function"]["name"] == "get_weather"
    assert body["parameters"]["tool_choice"] == "required"


def _tool_call_of(raw: dict) -> ToolCall:
    return ToolCall(raw["id"], raw["function"]["name"], raw["function"]["arguments"])


def test_audio_parts_go_to_multimodal_generation_as_data_urls() -> None:
    request = ChatRequest(messages=(Message.user([TextPart("Say it back"), AudioPart("AAAA", "mp3")]),))
    built = dashscope.build_chat(ds_target(), request, stream=False)
    assert built.url.endswith("/multimodal-generation/generation")
    content = orjson.loads(built.body)["input"]["messages"][0]["content"]
    assert content == [{"text": "Say it back"}, {"audio": "data:audio/mpeg;base64,AAAA"}]


def test_compatible_mode_speaks_openai_at_the_compatible_root_whatever_url_was_pasted() -> None:
    model_target = ds_target(
        base_url=f"{ROOT}/api/v1", credentials={"api_key": "sk-test-0123456789", "api_mode": "compatible"}
    )
    built = dashscope.build_chat(model_target, ChatRequest.user_text("Hi"), stream=True)
    assert built.url == f"{ROOT}/compatible-mode/v1/chat/completions"
    assert sent(built) == {
        "model": "acme-1",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    embedded = dashscope.build_embeddings(
        ds_target("text-embedding", base_url=model_target.base_url, credentials=dict(model_target.credentials)),
        EmbeddingRequest(("a",)),
    )
    assert embedded.url == f"{ROOT}/compatible-mode/v1/embeddings"
    rerank = dashscope.build_rerank(
        ds_target("rerank", base_url=f"{ROOT}/compatible-mode/v1", credentials=dict(model_target.credentials)),
        RerankRequest("q", ("a",)),
    )
    assert rerank.url == f"{ROOT}/api/v1/services/rerank/text-rerank/text-rerank"  # no compatible rerank route


# --- answers -----------------------------------------------------------------------------------------------------


def test_chat_answer_reads_text_reasoning_usage_and_request_id() -> None:
    body = generation("Hi!", reasoning="Short.", usage_=usage(10, 4, output_tokens_details={"reasoning_tokens": 2}))
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 6}
    result = dashscope.parse_chat(ds_target(), orjson.dumps(body))
    assert (result.content, result.reasoning, result.finish_reason) == ("Hi!", "Short.", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (10, 4)
    assert (result.usage.cached_tokens, result.usage.reasoning_tokens) == (6, 2)
    assert result.id == body["request_id"]


def test_chat_answer_reads_tool_calls_and_multimodal_content_lists() -> None:
    body = generation(None, tool_calls=[tool_call("call_9", "get_weather", '{"city": "Oslo"}')], multimodal=True)
    body["output"]["choices"][0]["finish_reason"] = "tool_calls"
    result = dashscope.parse_chat(ds_target(), orjson.dumps(body))
    assert result.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [("call_9", "get_weather", '{"city": "Oslo"}')]
    listed = dashscope.parse_chat(ds_target(), orjson.dumps(generation("A", multimodal=True)))
    assert listed.content == "A"


def test_legacy_text_format_and_missing_usage_are_read() -> None:
    body = {"output": {"text": "Hi", "finish_reason": "length"}, "request_id": "r"}
    result = dashscope.parse_chat(ds_target(), orjson.dumps(body))
    assert (result.content, result.finish_reason) == ("Hi", "length")
    assert result.usage is UNREPORTED


def test_an_error_answered_with_200_is_raised_and_a_malformed_answer_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamRateLimitError):
        dashscope.parse_chat(ds_target(), orjson.dumps(error_body("Throttling.RateQuota", "Requests rate limit")))
    with pytest.raises(UpstreamProtocolError):
        dashscope.parse_chat(ds_target(), b'{"output": {"choices": [{}]}}')


def test_embeddings_are_ordered_by_text_index_and_rerank_hits_by_score() -> None:
    body = {
        "output": {"embeddings": [{"text_index": 1, "embedding": [2.0]}, {"text_index": 0, "embedding": [1.0]}]},
        "usage": {"total_tokens": 5},
    }
    embedded = dashscope.parse_embeddings(ds_target("text-embedding"), orjson.dumps(body))
    assert embedded.vectors == ([1.0], [2.0])
    assert embedded.usage.prompt_tokens == 5
    ranked = {"output": {"results": [{"index": 0, "relevance_score": 0.1}, {"index": 1, "relevance_score": 0.9}]}}
    result = dashscope.parse_rerank(ds_target("rerank"), RerankRequest("q", ("a", "b")), orjson.dumps(ranked))
    assert [(hit.index, hit.document) for hit in result.hits] == [(1, "b"), (0, "a")]


def test_embedding_request_sends_text_type_and_dimension_only_when_supported() -> None:
    supported = ds_target("text-embedding", properties={"supports_dimensions": True})
    body = sent(dashscope.build_embeddings(supported, EmbeddingRequest(("a", "b"), 512, "document")))
    assert body == {
        "model": "acme-1",
        "input": {"texts": ["a", "b"]},
        "parameters": {"text_type": "document", "dimension": 512},
    }
    with pytest.raises(UnsupportedFeatureError):
        dashscope.build_embeddings(ds_target("text-embedding"), EmbeddingRequest(("a",), 512))


# --- streams -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("incremental", [True, False])
def test_text_streams_become_deltas_whether_incremental_or_cumulative(incremental: bool) -> None:
    chunks = chunks_of(text_stream("Hel", "lo", " world", "!", incremental=incremental))
    # A cumulative stream is recognised on its third event, so its second text comes one event late.
    assert [c.content for c in chunks] == (
        ["Hel", "lo", " world", "!"] if incremental else ["Hel", "", "lo world", "!"]
    )
    assert [c.finish_reason for c in chunks] == [None, None, None, "stop"]  # "null" is not a finish
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


@pytest.mark.parametrize("incremental", [True, False])
def test_reasoning_streams_apart_from_content(incremental: bool) -> None:
    chunks = chunks_of(text_stream("Yes", ".", reasoning=("Let me", " think"), incremental=incremental))
    assert "".join(c.reasoning for c in chunks) == "Let me think"
    assert "".join(c.content for c in chunks) == "Yes."


@pytest.mark.parametrize("incremental", [True, False])
@pytest.mark.parametrize("fragments", [('{"ci', 'ty": ', '"Oslo"}'), ('{"city": ', '"Oslo"}')])
def test_streamed_tool_calls_arrive_as_argument_fragments_either_way(incremental: bool, fragments) -> None:
    chunks = chunks_of(tool_stream("get_weather", fragments, incremental=incremental))
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]
    assert deltas[0] == ToolCallDelta(index=0, id="call_1", name="get_weather", arguments=fragments[0])
    assert all(delta.id is None and delta.name is None for delta in deltas[1:])
    assert "".join(delta.arguments for delta in deltas) == '{"city": "Oslo"}'
    assert chunks[-1].finish_reason == "tool_calls"


def test_incremental_pieces_that_repeat_the_text_so_far_are_not_mistaken_for_a_cumulative_stream() -> None:
    assert "".join(c.content for c in chunks_of(text_stream("Ha", "Ha", "!"))) == "HaHa!"
    # Undecided when it ends: read as asked (incremental_output: true), so nothing held back is lost.
    body = text_stream("Ha", "Ha", "")
    assert "".join(c.content for c in chunks_of(body)) == "HaHa"
    # Two continuations in a row do make it cumulative.
    assert [c.content for c in chunks_of(text_stream("Ha", "Ha!", "Ha!?", incremental=True))] == ["Ha", "", "!?"]


def test_multimodal_stream_content_lists_are_read() -> None:
    chunks = chunks_of(text_stream("A", "B", incremental=False, multimodal=True))
    assert "".join(c.content for c in chunks) == "AB"


def test_an_error_event_inside_a_200_stream_raises_the_mapped_error() -> None:
    first = {"output": {"choices": [{"finish_reason": "null", "message": {"role": "assistant", "content": "Hel"}}]}}
    body = sse_events(first, error=error_body("DataInspectionFailed", "Output data may contain inappropriate content."))
    parser = dashscope.chat_stream_parser(ds_target())
    events = SSEDecoder().feed(body)
    assert parser.feed(events[0]).content == "Hel"
    with pytest.raises(ContentFilteredError) as caught:
        parser.feed(events[1])
    assert caught.value.vendor_code == "DataInspectionFailed"


def test_a_stream_event_without_choices_carries_only_usage() -> None:
    parser = dashscope.chat_stream_parser(ds_target())
    chunk = parser.feed(ServerSentEvent(orjson.dumps({"output": {}, "usage": usage(3, 0)})))
    assert chunk is not None and chunk.usage is not None and not chunk.content


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "message", "kind"),
    [
        (401, "InvalidApiKey", "Invalid API-key provided.", UpstreamAuthError),
        (403, "AccessDenied.Unpurchased", "Access to model denied.", UpstreamAuthError),
        (429, "Throttling", "Requests throttling triggered.", UpstreamRateLimitError),
        (429, "Throttling.RateQuota", "Requests rate limit exceeded", UpstreamRateLimitError),
        (429, "Throttling.AllocationQuota", "Free allocated quota exceeded.", ProviderQuotaExhaustedError),
        (
            400,
            "Arrearage",
            "Access denied, please make sure your account is in good standing.",
            ProviderQuotaExhaustedError,
        ),
        (400, "DataInspectionFailed", "Input data may contain inappropriate content.", ContentFilteredError),
        (400, "InvalidParameter", "Range of input length should be [1, 129024]", ContextLengthExceededError),
        (400, "InvalidParameter", "The tool call is not supported.", UpstreamBadRequestError),
        (404, "ModelNotFound", "Model not exist.", UpstreamBadRequestError),
        (500, "InternalError.Algo", "An internal error has occured", UpstreamUnavailableError),
        (503, "ServiceUnavailable", "Service unavailable", UpstreamUnavailableError),
        (504, "RequestTimeOut", "Request timed out", UpstreamTimeoutError),
        (502, None, "", UpstreamUnavailableError),
    ],
)
def test_errors_map_to_the_hierarchy(status: int, code: str | None, message: str, kind: type[UpstreamError]) -> None:
    body = orjson.dumps({"code": code, "message": message, "request_id": "r"} if code else {})
    error = dashscope.parse_error(ds_target(), status, {}, body)
    assert type(error) is kind
    assert error.status_code == status
    assert error.vendor_code == code


def test_compatible_mode_errors_are_read_and_keys_are_redacted() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {SECRET}", "type": "invalid_request_error",
                      "code": "invalid_api_key"}, "request_id": "r"}  # fmt: skip
    model_target = ds_target(credentials={"api_key": SECRET, "endpoint_url": ROOT})
    error = dashscope.parse_error(model_target, 401, {}, orjson.dumps(body))
    assert isinstance(error, UpstreamAuthError)
    assert SECRET not in str(error)
    quota = dashscope.parse_error(model_target, 400, {}, b'{"error": {"message": "overdue", "code": "Arrearage"}}')
    assert isinstance(quota, ProviderQuotaExhaustedError)


def test_rate_limit_errors_carry_retry_after() -> None:
    error = dashscope.parse_error(ds_target(), 429, {"Retry-After": "3"}, orjson.dumps(error_body("Throttling", "x")))
    assert isinstance(error, UpstreamRateLimitError) and error.retry_after_s == 3


# --- through the fake, with the shipped provider file ------------------------------------------------------------


@pytest.fixture
async def runtime() -> AsyncIterator[Runtime]:
    shipped = default_catalog()
    catalog = Catalog({"tongyi": shipped.get("tongyi")}, {"tongyi": shipped.source("tongyi")}, shipped.icons_dir)
    async with Runtime(catalog) as runtime:
        yield runtime


@pytest.fixture
async def fake() -> AsyncIterator[FakeDashScope]:
    async with served(FakeDashScope()) as upstream:
        yield upstream


async def test_cumulative_stream_through_the_runtime_reaches_the_caller_as_deltas(runtime, fake) -> None:
    fake.stream(text_stream("Hel", "lo", "!", incremental=False), piece_size=7)
    credentials = {"api_key": SECRET, "endpoint_url": fake.url}
    stream = await runtime.chat(
        provider="tongyi", model="qwen-plus", credentials=credentials, messages=[Message.user("Hi")], stream=True
    )
    pieces = [chunk.content async for chunk in stream if chunk.content]
    assert pieces == ["Hel", "lo!"]  # the second text waits for the third to tell the stream cumulative
    assert stream.usage is not None and stream.usage.completion_tokens == 3
    assert stream.usage.currency == "CNY" and stream.usage.total_price > 0
    prove("tongyi", "llm", "streaming")


async def test_streamed_tool_call_through_the_runtime(runtime, fake) -> None:
    credentials = {"api_key": SECRET, "endpoint_url": fake.url}
    request = ChatRequest(messages=(Message.user("Weather?"),), tools=(WEATHER,))
    stream = await runtime.chat(
        provider="tongyi", model="qwen-max", credentials=credentials, request=request, stream=True
    )
    result = await stream.collect()
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", '{"q": "x"}')]
    assert result.finish_reason == "tool_calls"
    prove("tongyi", "llm", "tools")


async def test_error_event_mid_stream_through_the_runtime(runtime, fake) -> None:
    first = {"output": {"choices": [{"finish_reason": "null", "message": {"role": "assistant", "content": "Hel"}}]}}
    fake.stream(sse_events(first, error=error_body("Throttling", "Requests throttling triggered.")))
    credentials = {"api_key": SECRET, "endpoint_url": fake.url}
    stream = await runtime.chat(
        provider="tongyi", model="qwen-plus", credentials=credentials, messages=[Message.user("Hi")], stream=True
    )
    with pytest.raises(UpstreamRateLimitError):
        _ = [chunk async for chunk in stream]


async def test_http_error_through_the_runtime_and_the_workspace_header(runtime, fake) -> None:
    fake.fail(400, "Access denied, please make sure your account is in good standing.", code="Arrearage")
    credentials = {"api_key": SECRET, "endpoint_url": fake.url, "workspace_id": "llm-ws1"}
    with pytest.raises(ProviderQuotaExhaustedError):
        await runtime.chat(provider="tongyi", model="qwen-plus", credentials=credentials, messages=[Message.user("Hi")])
    assert fake.last.headers["x-dashscope-workspace"] == "llm-ws1"
    assert fake.last.headers["authorization"] == f"Bearer {SECRET}"


async def test_compatible_mode_through_the_runtime(runtime, fake) -> None:
    credentials = {"api_key": SECRET, "endpoint_url": fake.url, "api_mode": "compatible"}
    result = await runtime.chat(
        provider="tongyi", model="qwen-plus", credentials=credentials, messages=[Message.user("Hi")]
    )
    assert result.content == "Hello!"
    assert fake.last.path == "/compatible-mode/v1/chat/completions"
    stream = await runtime.chat(
        provider="tongyi", model="qwen-plus", credentials=credentials, messages=[Message.user("Hi")], stream=True
    )
    assert (await stream.collect()).content == "Hello!"
    embedded = await runtime.embed(provider="tongyi", model="text-embedding-v4", credentials=credentials, texts=["a"])
    assert embedded.vectors and fake.last.path == "/compatible-mode/v1/embeddings"
    ranked = await runtime.rerank(
        provider="tongyi", model="gte-rerank-v2", credentials=credentials, query="q", documents=["a", "b"]
    )
    assert ranked.hits[0].index == 1 and fake.last.path.endswith("/text-rerank/text-rerank")
