"""The Cohere v2 protocol on bytes: requests built, answers and typed stream events read, errors classified."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import (
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.cohere import Cohere
from modelyard.protocols.sse import ServerSentEvent, SSEDecoder
from modelyard.types import (
    ChatRequest,
    EmbeddingRequest,
    ImagePart,
    Message,
    RerankRequest,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from modelyard.types.chat import NamedToolChoice
from modelyard.types.usage import UNREPORTED
from tests.fakes.cohere import chat_response, event, sse_events, text_stream, tool_call, tool_stream, usage
from tests.protocols.targets import target

cohere = Cohere()
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})


def cohere_target(model_type: str = "llm", **kwargs):
    return target(model_type, protocol="cohere", base_url="https://api.cohere.test", **kwargs)


def sent(request) -> dict:
    return orjson.loads(request.body)


def events_of(body: bytes) -> list[ServerSentEvent]:
    return SSEDecoder().feed(body)


# --- chat requests -----------------------------------------------------------------------------------------------


def test_chat_request_maps_every_role_and_cohere_parameter_names() -> None:
    request = ChatRequest(
        messages=(
            Message.system("Be brief."),
            Message.user("Weather in Oslo?"),
            Message.assistant("", [ToolCall("call_1", "get_weather", '{"city":"Oslo"}')], reasoning="I will look."),
            Message.tool("call_1", "-3C"),
        ),
        tools=(WEATHER,),
        temperature=0.2,
        top_p=0.8,
        max_tokens=100,
        stop=("END",),
        seed=7,
        presence_penalty=0.1,
        frequency_penalty=0.3,
        user="u-1",
        parallel_tool_calls=True,
        extra={"top_k": 40, "safety_mode": "STRICT"},
    )
    upstream = cohere.build_chat(cohere_target(), request, stream=False)

    assert upstream.url == "https://api.cohere.test/v2/chat"
    assert sent(upstream) == {
        "model": "acme-1",
        "stream": False,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
                "tool_plan": "I will look.",
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "-3C"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "temperature": 0.2,
        "p": 0.8,
        "k": 40,
        "max_tokens": 100,
        "stop_sequences": ["END"],
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
        "safety_mode": "STRICT",
    }


def test_images_go_as_image_url_parts_and_json_schema_as_json_object_with_a_schema() -> None:
    schema = {"type": "object", "properties": {"caption": {"type": "string"}}}
    request = ChatRequest(
        messages=(Message.user([TextPart("Describe"), ImagePart("data:image/png;base64,iVBO", "low")]),),
        response_format=ResponseFormat("json_schema", "caption", schema),
    )
    body = sent(cohere.build_chat(cohere_target(), request, stream=True))

    assert body["stream"] is True
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"}},
    ]
    assert body["response_format"] == {"type": "json_object", "json_schema": schema}


@pytest.mark.parametrize(
    ("choice", "wire", "tool_names"),
    [
        ("auto", None, ["get_weather", "get_time"]),
        ("none", "NONE", ["get_weather", "get_time"]),
        ("required", "REQUIRED", ["get_weather", "get_time"]),
        (NamedToolChoice("get_time"), "REQUIRED", ["get_time"]),
    ],
)
def test_tool_choice_is_upper_case_and_a_named_tool_is_sent_alone_and_required(choice, wire, tool_names) -> None:
    tools = (WEATHER, Tool("get_time", strict=True))
    request = ChatRequest(messages=(Message.user("Hi"),), tools=tools, tool_choice=choice)
    body = sent(cohere.build_chat(cohere_target(), request, stream=False))
    assert body.get("tool_choice") == wire
    assert [t["function"]["name"] for t in body["tools"]] == tool_names
    assert body["strict_tools"] is True


def test_reasoning_effort_switches_thinking_on_or_off() -> None:
    def thinking(effort: str) -> dict:
        request = ChatRequest(messages=(Message.user("Hi"),), reasoning_effort=effort)
        return sent(cohere.build_chat(cohere_target(), request, stream=False))["thinking"]

    assert thinking("none") == {"type": "disabled"}
    assert thinking("high") == {"type": "enabled"}


def test_audio_parts_are_refused_before_any_request() -> None:
    from modelyard.types import AudioPart

    request = ChatRequest(messages=(Message.user([AudioPart("AAAA", "wav")]),))
    with pytest.raises(UnsupportedFeatureError):
        cohere.build_chat(cohere_target(), request, stream=False)


# --- chat answers ------------------------------------------------------------------------------------------------


def test_chat_answer_keeps_text_apart_from_thinking_and_tool_plan() -> None:
    body = chat_response(
        "Calling.",
        thinking="Let me think. ",
        tool_calls=[tool_call("call_a", "get_weather", '{"city":"Paris"}')],
        tool_plan="I will look it up.",
        finish_reason="TOOL_CALL",
    )
    result = cohere.parse_chat(cohere_target(), orjson.dumps(body))

    assert result.content == "Calling."
    assert result.reasoning == "Let me think. I will look it up."
    assert result.tool_calls == (ToolCall("call_a", "get_weather", '{"city":"Paris"}'),)
    assert result.finish_reason == "tool_calls"
    assert result.id == "c-fake"


def test_usage_counts_billed_units_and_falls_back_to_raw_tokens() -> None:
    billed = cohere.parse_chat(cohere_target(), orjson.dumps(chat_response(usage_=usage(9, 3)))).usage
    assert (billed.prompt_tokens, billed.completion_tokens) == (9, 3)

    raw = {"tokens": {"input_tokens": 12, "output_tokens": 4}, "cached_tokens": 5}
    counted = cohere.parse_chat(cohere_target(), orjson.dumps(chat_response(usage_=raw))).usage
    assert (counted.prompt_tokens, counted.completion_tokens, counted.cached_tokens) == (12, 4, 5)

    assert cohere.parse_chat(cohere_target(), orjson.dumps(chat_response(usage_={}))).usage is UNREPORTED


@pytest.mark.parametrize(
    ("cohere_reason", "reason"),
    [
        ("COMPLETE", "stop"),
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("TOOL_CALL", "tool_calls"),
        ("ERROR", "error"),
        ("TIMEOUT", "error"),
    ],
)
def test_finish_reasons_map_to_openai_words(cohere_reason: str, reason: str) -> None:
    body = chat_response(finish_reason=cohere_reason)
    assert cohere.parse_chat(cohere_target(), orjson.dumps(body)).finish_reason == reason


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "x"}', b'{"message": {"tool_calls": [{"id": 1}]}}'])
def test_unreadable_chat_is_a_protocol_error_naming_the_provider(body: bytes) -> None:
    with pytest.raises(UpstreamProtocolError, match=r"^\[acme\] unreadable chat response"):
        cohere.parse_chat(cohere_target(), body)


# --- chat streams ------------------------------------------------------------------------------------------------


def test_text_stream_yields_deltas_then_finish_and_billed_usage() -> None:
    parser = cohere.chat_stream_parser(cohere_target())
    chunks = [c for e in events_of(text_stream("Hel", "lo!")) if (c := parser.feed(e)) is not None]

    assert [c.content for c in chunks] == ["Hel", "lo!", ""]
    assert chunks[-1].finish_reason == "stop"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (9, 3)
    assert parser.finished


def test_tool_stream_yields_the_plan_as_reasoning_and_call_fragments_by_index() -> None:
    parser = cohere.chat_stream_parser(cohere_target())
    chunks = [c for e in events_of(tool_stream("get_weather")) if (c := parser.feed(e)) is not None]

    assert chunks[0].reasoning == "I will look."
    assert [c.tool_calls for c in chunks[1:4]] == [
        (ToolCallDelta(index=0, id="call_1", name="get_weather", arguments=""),),
        (ToolCallDelta(index=0, arguments='{"q": '),),
        (ToolCallDelta(index=0, arguments='"x"}'),),
    ]
    assert chunks[-1].finish_reason == "tool_calls"


def test_thinking_deltas_are_reasoning_and_bookkeeping_events_yield_nothing() -> None:
    parser = cohere.chat_stream_parser(cohere_target())
    stream = sse_events(
        event("message-start", id="x", delta={"message": {"role": "assistant"}}),
        event("content-start", index=0, delta={"message": {"content": {"type": "thinking", "thinking": ""}}}),
        event("content-delta", index=0, delta={"message": {"content": {"thinking": "Hmm."}}}),
        event("content-end", index=0),
        event("citation-start", index=0, delta={"message": {"citations": {"start": 0, "end": 1}}}),
        event("citation-end", index=0),
        event("debug", prompt="..."),
        event("some-future-event"),
    )
    chunks = [parser.feed(e) for e in events_of(stream)]
    assert [c.reasoning for c in chunks if c is not None] == ["Hmm."]
    assert not parser.finished


def test_an_error_at_message_end_after_http_200_is_raised() -> None:
    parser = cohere.chat_stream_parser(cohere_target())
    stream = sse_events(
        event("content-delta", index=0, delta={"message": {"content": {"text": "Half"}}}),
        event("message-end", delta={"finish_reason": "ERROR", "error": "internal failure"}),
    )
    first, end = events_of(stream)
    assert parser.feed(first).content == "Half"
    with pytest.raises(UpstreamUnavailableError, match="internal failure"):
        parser.feed(end)


def test_an_error_object_in_place_of_an_event_is_raised() -> None:
    parser = cohere.chat_stream_parser(cohere_target())
    with pytest.raises(UpstreamUnavailableError, match="stream broke"):
        parser.feed(ServerSentEvent(orjson.dumps({"id": "e", "message": "stream broke"})))


def test_a_done_sentinel_ends_the_stream_and_garbage_is_a_protocol_error() -> None:
    parser = cohere.chat_stream_parser(cohere_target())
    assert parser.feed(ServerSentEvent(b"[DONE]")) is None
    assert parser.finished
    with pytest.raises(UpstreamProtocolError):
        cohere.chat_stream_parser(cohere_target()).feed(ServerSentEvent(b"{not json"))


# --- embeddings and rerank ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ours", "theirs"), [("query", "search_query"), ("document", "search_document"), (None, "search_document")]
)
def test_embed_request_names_the_input_type_and_asks_for_floats(ours, theirs) -> None:
    request = EmbeddingRequest(("a", "b"), input_type=ours)
    upstream = cohere.build_embeddings(cohere_target("text-embedding"), request)
    assert upstream.url == "https://api.cohere.test/v2/embed"
    assert sent(upstream) == {
        "model": "acme-1",
        "texts": ["a", "b"],
        "input_type": theirs,
        "embedding_types": ["float"],
    }


def test_dimensions_go_as_output_dimension_only_where_the_model_takes_them() -> None:
    request = EmbeddingRequest(("a",), dimensions=256)
    flexible = cohere_target("text-embedding", properties={"supports_dimensions": True})
    assert sent(cohere.build_embeddings(flexible, request))["output_dimension"] == 256
    with pytest.raises(UnsupportedFeatureError):
        cohere.build_embeddings(cohere_target("text-embedding"), request)


def test_embed_answer_reads_the_float_embeddings_and_billed_tokens() -> None:
    body = {
        "id": "e",
        "response_type": "embeddings_by_type",
        "embeddings": {"float": [[0.5, -1.0], [1, 2]]},
        "meta": {"billed_units": {"input_tokens": 6}},
    }
    result = cohere.parse_embeddings(cohere_target("text-embedding"), orjson.dumps(body))
    assert result.vectors == ([0.5, -1.0], [1.0, 2.0])
    assert result.usage.prompt_tokens == 6


def test_rerank_request_and_answer_map_scores_back_to_the_documents_best_first() -> None:
    request = RerankRequest("capital?", ("Paris", "Rome", "Oslo"), top_n=2)
    upstream = cohere.build_rerank(cohere_target("rerank"), request)
    assert upstream.url == "https://api.cohere.test/v2/rerank"
    assert sent(upstream) == {
        "model": "acme-1",
        "query": "capital?",
        "documents": ["Paris", "Rome", "Oslo"],
        "top_n": 2,
    }

    body = {"results": [{"index": 2, "relevance_score": 0.2}, {"index": 0, "relevance_score": 0.9}]}
    result = cohere.parse_rerank(cohere_target("rerank"), request, orjson.dumps(body))
    assert [(h.index, h.document, h.score) for h in result.hits] == [(0, "Paris", 0.9), (2, "Oslo", 0.2)]
    assert result.usage is UNREPORTED  # search units are billed per request, not tokens


# --- errors ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (400, UpstreamBadRequestError, False),
        (401, UpstreamAuthError, False),
        (402, ProviderQuotaExhaustedError, False),
        (403, UpstreamAuthError, False),
        (404, UpstreamBadRequestError, False),
        (422, UpstreamBadRequestError, False),
        (429, UpstreamRateLimitError, True),
        (498, UpstreamAuthError, False),
        (499, UpstreamConnectionError, True),
        (500, UpstreamUnavailableError, True),
        (501, UpstreamBadRequestError, False),
        (503, UpstreamUnavailableError, True),
        (504, UpstreamUnavailableError, True),
    ],
)
def test_every_documented_status_maps_into_the_hierarchy(status, expected, retryable) -> None:
    body = orjson.dumps({"id": "e-1", "message": "Something happened"})
    error = cohere.parse_error(cohere_target(), status, {}, body)
    assert type(error) is expected
    assert error.is_retryable is retryable
    assert error.status_code == status
    assert str(error).startswith("[acme] ")
    assert "Something happened" in str(error)


def test_rate_limit_keeps_retry_after_and_a_key_in_a_message_is_masked() -> None:
    body = orjson.dumps({"message": "invalid api token sk-test-0123456789"})
    error = cohere.parse_error(cohere_target(), 429, {"Retry-After": "4"}, body)
    assert error.retry_after_s == 4
    assert "sk-test-0123456789" not in str(error)


def test_a_non_json_error_body_still_says_what_came_back() -> None:
    error = cohere.parse_error(cohere_target(), 503, {}, b"<html>upstream connect error</html>")
    assert type(error) is UpstreamUnavailableError
    assert "upstream connect error" in str(error)


def test_the_cohere_protocol_serves_no_audio() -> None:
    from modelyard.types import SpeechRequest

    with pytest.raises(UnsupportedFeatureError):
        cohere.build_speech(cohere_target("tts"), SpeechRequest("Hi"))
