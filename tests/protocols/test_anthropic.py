"""The Anthropic Messages adapter on bytes alone: requests built, answers, streams and errors read."""

from __future__ import annotations

import base64

import orjson
import pytest

from modelyard.errors import (
    InvalidRequestError,
    ProviderQuotaExhaustedError,
    UnsupportedFeatureError,
    UpstreamAuthError,
    UpstreamBadRequestError,
    UpstreamProtocolError,
    UpstreamRateLimitError,
    UpstreamUnavailableError,
)
from modelyard.protocols.anthropic import Anthropic, AnthropicQuirks, ReasoningBlock, SignedChunk, SignedMessage
from modelyard.protocols.sse import SSEDecoder
from modelyard.types import (
    AudioPart,
    ChatChunk,
    ChatRequest,
    DocumentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
)
from modelyard.types.chat import NamedToolChoice
from modelyard.types.usage import UNREPORTED
from tests.fakes.anthropic import SIGNATURE, error_body, message, sse, stream_events, text, thinking, tool_use, usage
from tests.protocols.targets import target

anthropic = Anthropic()
WEATHER = Tool("get_weather", "Weather for a city", {"type": "object", "properties": {"city": {"type": "string"}}})


def claude(**overrides):
    overrides.setdefault("model_id", "claude-sonnet-5-5")
    overrides.setdefault("base_url", "https://api.anthropic.test")
    overrides.setdefault("quirks", AnthropicQuirks())
    overrides.setdefault("protocol", "anthropic")
    return target(**overrides)


def body_of(request: ChatRequest, *, stream: bool = False, **target_overrides) -> dict:
    return orjson.loads(anthropic.build_chat(claude(**target_overrides), request, stream=stream).body)


def test_chat_request_goes_to_v1_messages_with_the_system_prompt_on_top() -> None:
    request = ChatRequest(
        messages=(Message.system("Be brief."), Message.user("Hi")), max_tokens=100, stop=("END",), user="u-1"
    )
    upstream = anthropic.build_chat(claude(), request, stream=True)

    assert (upstream.method, upstream.url) == ("POST", "https://api.anthropic.test/v1/messages")
    assert upstream.headers["anthropic-version"] == "2026-10-21"
    assert orjson.loads(upstream.body) == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }


def test_several_system_messages_become_text_blocks_of_the_system_prompt() -> None:
    request = ChatRequest(messages=(Message.system("One."), Message.user("Hi"), Message.system("Two.")), max_tokens=5)

    assert body_of(request)["system"] == [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]


def test_tool_calls_and_results_become_blocks_and_consecutive_turns_merge() -> None:
    request = ChatRequest(
        messages=(
            Message.user("Weather in Paris and Rome?"),
            Message.user("Quickly."),
            Message.assistant("Looking.", [ToolCall("toolu_1", "get_weather", '{"city":"Paris"}')]),
            Message.tool("toolu_1", "18C"),
            Message.tool("toolu_2", "21C"),
            Message.user("And?"),
        ),
        tools=(WEATHER,),
        max_tokens=50,
    )
    body = body_of(request)

    assert body["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Weather in Paris and Rome?"}, {"type": "text", "text": "Quickly."}],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Looking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "21C"},
                {"type": "text", "text": "And?"},
            ],
        },
    ]
    assert body["tools"] == [
        {"name": "get_weather", "description": "Weather for a city", "input_schema": WEATHER.parameters}
    ]
    assert "tool_choice" not in body


def test_images_go_as_base64_or_url_sources_and_documents_as_document_blocks() -> None:
    note = base64.b64encode(b"plain notes").decode()
    request = ChatRequest(
        messages=(
            Message.user(
                [
                    TextPart("Compare"),
                    ImagePart("data:image/png;base64,iVBORw0KGgo="),
                    ImagePart("https://example.test/cat.jpg"),
                    DocumentPart("JVBERi0=", "application/pdf", "report.pdf"),
                    DocumentPart(note, "text/plain"),
                ]
            ),
        ),
        max_tokens=5,
    )

    assert body_of(request)["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.test/cat.jpg"}},
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
            "title": "report.pdf",
        },
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"}},
    ]


def test_audio_input_and_arguments_that_are_no_object_are_refused() -> None:
    with pytest.raises(UnsupportedFeatureError):
        body_of(ChatRequest(messages=(Message.user([AudioPart("UklGRg==", "wav")]),), max_tokens=5))
    broken = Message.assistant("", [ToolCall("toolu_1", "get_weather", "[1, 2]")])
    with pytest.raises(InvalidRequestError):
        body_of(ChatRequest(messages=(Message.user("Hi"), broken), max_tokens=5))


def test_sampling_parameters_are_left_out_from_api_version_2026_10_21_on() -> None:
    request = ChatRequest(messages=(Message.user("Hi"),), temperature=0.2, top_p=0.9, seed=3, max_tokens=5)

    assert {"temperature", "top_p", "seed"}.isdisjoint(body_of(request))
    pinned = body_of(request, headers={"anthropic-version": "2023-06-01"})
    assert (pinned["temperature"], pinned["top_p"]) == (0.2, 0.9)
    assert anthropic.build_chat(claude(headers={"Anthropic-Version": "2023-06-01"}), request, stream=False).headers[
        "anthropic-version"
    ] == ("2023-06-01")


@pytest.mark.parametrize(
    ("choice", "parallel", "wire"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", False, {"type": "none"}),
        (NamedToolChoice("get_weather"), None, {"type": "tool", "name": "get_weather"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
    ],
)
def test_tool_choice_and_parallel_calls_map_to_anthropic_tool_choice(choice, parallel, wire) -> None:
    request = ChatRequest(
        messages=(Message.user("Hi"),), tools=(WEATHER,), tool_choice=choice, parallel_tool_calls=parallel, max_tokens=5
    )

    assert body_of(request)["tool_choice"] == wire


def test_reasoning_effort_sets_output_config_effort_and_none_turns_thinking_off() -> None:
    def with_effort(effort: str) -> dict:
        return body_of(ChatRequest(messages=(Message.user("Hi"),), reasoning_effort=effort, max_tokens=5))

    assert with_effort("xhigh")["output_config"] == {"effort": "xhigh"}
    assert with_effort("minimal")["output_config"] == {"effort": "low"}
    assert with_effort("none")["thinking"] == {"type": "disabled"}
    assert "output_config" not in with_effort("none")


def test_json_schema_output_goes_to_output_config_format_and_schemaless_json_is_refused() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "required": ["a"],
        "additionalProperties": False,
    }
    request = ChatRequest(
        messages=(Message.user("Hi"),), response_format=ResponseFormat("json_schema", schema=schema), max_tokens=5
    )

    assert body_of(request)["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    with pytest.raises(UnsupportedFeatureError):
        body_of(
            ChatRequest(messages=(Message.user("Hi"),), response_format=ResponseFormat("json_object"), max_tokens=5)
        )


def test_signed_thinking_goes_back_first_and_unsigned_reasoning_is_left_out() -> None:
    signed = SignedMessage(
        role="assistant",
        tool_calls=(ToolCall("toolu_1", "get_weather", "{}"),),
        reasoning="Need weather.",
        reasoning_blocks=(ReasoningBlock("Need weather.", SIGNATURE), ReasoningBlock(redacted="c2VjcmV0")),
    )
    unsigned = Message.assistant("Done.", reasoning="from another vendor")
    request = ChatRequest(
        messages=(Message.user("Hi"), signed, Message.tool("toolu_1", "18C"), unsigned, Message.user("Thanks")),
        max_tokens=5,
    )
    turns = body_of(request)["messages"]

    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "Need weather.", "signature": SIGNATURE},
        {"type": "redacted_thinking", "data": "c2VjcmV0"},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    ]
    assert turns[3] == {"role": "assistant", "content": "Done."}


def test_max_tokens_defaults_to_the_quirk_capped_by_the_models_output_limit() -> None:
    request = ChatRequest(messages=(Message.user("Hi"),))

    assert body_of(request)["max_tokens"] == 16384
    assert body_of(request, properties={"max_output_tokens": 4096})["max_tokens"] == 4096
    assert body_of(request, quirks=AnthropicQuirks(default_max_tokens=1000))["max_tokens"] == 1000


def test_extra_vendor_parameters_are_sent_as_they_are() -> None:
    request = ChatRequest(
        messages=(Message.user("Hi"),), max_tokens=5, extra={"thinking": {"type": "enabled", "budget_tokens": 2048}}
    )

    assert body_of(request)["thinking"] == {"type": "enabled", "budget_tokens": 2048}


# --- answers ------------------------------------------------------------------------------------------------------


def test_answer_has_text_tool_calls_signed_thinking_and_usage_with_cache() -> None:
    body = message(
        [thinking("Two lookups."), text("Checking."), tool_use("toolu_a", "get_weather", {"city": "Paris"})],
        stop_reason="tool_use",
        tokens=usage(
            12,
            30,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=5,
            output_tokens_details={"thinking_tokens": 20},
        ),
    )
    result = anthropic.parse_chat(claude(), orjson.dumps(body))

    assert result.content == "Checking."
    assert result.tool_calls == (ToolCall("toolu_a", "get_weather", '{"city":"Paris"}'),)
    assert result.reasoning == "Two lookups."
    assert result.finish_reason == "tool_calls"
    assert result.message().reasoning_blocks == (ReasoningBlock("Two lookups.", SIGNATURE),)
    usage_ = result.usage
    assert (usage_.prompt_tokens, usage_.cached_tokens, usage_.completion_tokens, usage_.reasoning_tokens) == (
        117,
        100,
        30,
        20,
    )
    assert result.id == "msg_fake01"


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_openai_finish_reasons(stop, finish) -> None:
    assert anthropic.parse_chat(claude(), orjson.dumps(message(stop_reason=stop))).finish_reason == finish


def test_an_answer_without_usage_is_unreported_and_a_malformed_one_is_a_protocol_error() -> None:
    body = message()
    del body["usage"]
    assert anthropic.parse_chat(claude(), orjson.dumps(body)).usage is UNREPORTED
    with pytest.raises(UpstreamProtocolError):
        anthropic.parse_chat(claude(), b'{"type": "message"}')


def test_an_error_object_answered_with_200_is_raised() -> None:
    with pytest.raises(UpstreamUnavailableError):
        anthropic.parse_chat(claude(), orjson.dumps(error_body("overloaded_error", "Overloaded")))


def test_model_list_reads_ids() -> None:
    body = {"data": [{"type": "model", "id": "claude-haiku-5-5"}], "has_more": False}
    assert [m.id for m in anthropic.parse_list_models(claude(), orjson.dumps(body))] == ["claude-haiku-5-5"]


# --- streams ------------------------------------------------------------------------------------------------------


def chunks_of(raw: bytes, *, piece: int = 7) -> list[ChatChunk]:
    """Feed the bytes in small pieces, the way a slow network delivers them."""
    decoder, parser, chunks = SSEDecoder(), anthropic.chat_stream_parser(claude()), []
    for at in range(0, len(raw), piece):
        for event in decoder.feed(raw[at : at + piece]):
            chunk = parser.feed(event)
            if chunk is not None:
                chunks.append(chunk)
    assert parser.finished
    return chunks


def test_stream_of_text_arrives_in_deltas_with_finish_reason_and_usage_last() -> None:
    chunks = chunks_of(sse(*stream_events([text("Hello there!")], input_tokens=11, output_tokens=4)))

    assert "".join(c.content for c in chunks) == "Hello there!"
    assert chunks[-1].finish_reason == "stop"
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 4)


def test_stream_of_tool_calls_numbers_calls_and_joins_input_json_fragments() -> None:
    content = [
        text("Checking."),
        tool_use("toolu_a", "get_weather", {"city": "Paris"}),
        tool_use("toolu_b", "get_time", {}),
    ]
    chunks = chunks_of(sse(*stream_events(content, stop_reason="tool_use", piece=3)))
    deltas = [delta for chunk in chunks for delta in chunk.tool_calls]

    assert deltas[0] == ToolCallDelta(0, id="toolu_a", name="get_weather")
    assert "".join(d.arguments for d in deltas if d.index == 0) == '{"city":"Paris"}'
    assert [d for d in deltas if d.index == 1] == [
        ToolCallDelta(1, id="toolu_b", name="get_time"),
        ToolCallDelta(1, arguments="{}"),  # no input streamed: the empty object
    ]
    assert chunks[-1].finish_reason == "tool_calls"


def test_stream_of_thinking_is_reasoning_and_ends_with_its_signature() -> None:
    chunks = chunks_of(sse(*stream_events([thinking("Let me see."), text("Yes.")])))

    assert "".join(c.reasoning for c in chunks) == "Let me see."
    signatures = [c.reasoning_signature for c in chunks if isinstance(c, SignedChunk)]
    assert signatures == [SIGNATURE]
    assert "".join(c.content for c in chunks) == "Yes."


def test_stream_usage_merges_message_start_and_the_cumulative_message_delta() -> None:
    events = stream_events([text("Hi")], input_tokens=50, output_tokens=9)
    events[-2]["usage"] = {"output_tokens": 9, "cache_read_input_tokens": 40, "input_tokens": 10}
    last = chunks_of(sse(*events))[-1]

    assert (last.usage.prompt_tokens, last.usage.cached_tokens, last.usage.completion_tokens) == (50, 40, 9)


def test_an_error_event_inside_a_200_stream_raises_the_mapped_error() -> None:
    events = stream_events([text("Hel")])[:4]
    raw = (
        sse(*events)
        + b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )

    with pytest.raises(UpstreamUnavailableError, match="Overloaded"):
        chunks_of(raw)


def test_unknown_events_and_deltas_are_ignored() -> None:
    events = stream_events([text("Hi")])
    events.insert(2, {"type": "content_block_delta", "index": 0, "delta": {"type": "citations_delta", "citation": {}}})
    events.insert(1, {"type": "brand_new_event"})

    assert "".join(c.content for c in chunks_of(sse(*events))) == "Hi"


# --- errors -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind", "code", "error"),
    [
        (400, "invalid_request_error", None, UpstreamBadRequestError),
        (401, "authentication_error", None, UpstreamAuthError),
        (402, "billing_error", None, ProviderQuotaExhaustedError),
        (403, "permission_error", None, UpstreamAuthError),
        (404, "not_found_error", None, UpstreamBadRequestError),
        (413, "request_too_large", None, UpstreamBadRequestError),
        (429, "rate_limit_error", None, UpstreamRateLimitError),
        (429, "rate_limit_error", "enforced_spend_limit_reached", ProviderQuotaExhaustedError),
        (500, "api_error", None, UpstreamUnavailableError),
        (529, "overloaded_error", None, UpstreamUnavailableError),
    ],
)
def test_every_documented_error_maps_into_the_hierarchy(status, kind, code, error) -> None:
    raised = anthropic.parse_error(claude(), status, {}, orjson.dumps(error_body(kind, "boom", error_code=code)))

    assert type(raised) is error
    assert raised.status_code == status
    assert raised.vendor_code == (code or kind)
    assert raised.is_retryable == (error in (UpstreamRateLimitError, UpstreamUnavailableError))


def test_rate_limit_keeps_retry_after_and_messages_never_show_the_key() -> None:
    key = "sk-ant-api03-verysecret"
    body = orjson.dumps(error_body("rate_limit_error", f"slow down {key}"))
    raised = anthropic.parse_error(claude(credentials={"api_key": key}), 429, {"retry-after": "7"}, body)

    assert raised.retry_after_s == 7
    assert key not in str(raised)


def test_an_error_page_that_is_not_json_keeps_its_status() -> None:
    raised = anthropic.parse_error(claude(), 413, {}, b"<html>Request Entity Too Large</html>")

    assert isinstance(raised, UpstreamBadRequestError) and "Too Large" in str(raised)
