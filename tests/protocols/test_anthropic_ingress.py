"""Anthropic-shaped JSON to unified requests, and unified results and chunks back to Anthropic's shapes."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import InvalidRequestError, UnsupportedFeatureError
from modelyard.protocols.anthropic import ReasoningBlock, SignedChunk, SignedMessage, SignedResult, egress, ingress
from modelyard.protocols.sse import SSEDecoder
from modelyard.types import (
    ChatChunk,
    ChatResult,
    DocumentPart,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from modelyard.types.chat import NamedToolChoice


def request(**fields):
    return ingress.chat_request({"max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], **fields})


def test_system_prompt_sampling_stop_user_and_max_tokens_are_read() -> None:
    unified = request(
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        temperature=0.3,
        top_k=5,
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        service_tier="auto",
    )

    assert unified.messages == (Message.system("Be brief."), Message.system("Be kind."), Message.user("Hi"))
    assert (unified.temperature, unified.stop, unified.user, unified.max_tokens) == (0.3, ("END",), "u-1", 64)
    assert unified.extra == {}  # Anthropic-only fields have no unified form and do not travel upstream


def test_tool_results_become_tool_messages_ahead_of_the_rest_of_the_turn() -> None:
    unified = request(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "-3C"}]},
                    {"type": "text", "text": "Dress warmly?"},
                ],
            },
        ]
    )

    assert unified.messages[1:] == (
        Message.assistant("Checking.", [ToolCall("toolu_1", "get_weather", '{"city":"Oslo"}')]),
        Message.tool("toolu_1", "-3C"),
        Message.user([TextPart("Dress warmly?")]),
    )


def test_images_and_documents_become_unified_parts() -> None:
    unified = request(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.test/a.jpg"}},
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}},
                    {
                        "type": "document",
                        "source": {"type": "text", "media_type": "text/plain", "data": "hi"},
                        "title": "n",
                    },
                ],
            }
        ]
    )

    assert unified.messages[0].content == (
        ImagePart("data:image/png;base64,iVBOR"),
        ImagePart("https://example.test/a.jpg"),
        DocumentPart("JVBE", "application/pdf"),
        DocumentPart("aGk=", "text/plain", "n"),
    )


def test_thinking_blocks_keep_their_signatures() -> None:
    unified = request(
        messages=[
            {"role": "user", "content": "Hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Hello."},
                ],
            },
        ]
    )
    turn = unified.messages[1]

    assert isinstance(turn, SignedMessage)
    assert (turn.content, turn.reasoning) == ("Hello.", "Hmm.")
    assert turn.reasoning_blocks == (ReasoningBlock("Hmm.", "sig"), ReasoningBlock(redacted="opaque"))


def test_tools_tool_choice_effort_and_output_format_are_read() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    unified = request(
        tools=[{"name": "get_weather", "description": "Weather", "input_schema": schema, "strict": True}],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True},
        output_config={"effort": "high", "format": {"type": "json_schema", "schema": schema}},
    )

    assert unified.tools == (Tool("get_weather", "Weather", schema, True),)
    assert (unified.tool_choice, unified.parallel_tool_calls) == (NamedToolChoice("get_weather"), False)
    assert unified.reasoning_effort == "high"
    assert unified.response_format == ResponseFormat("json_schema", schema=schema)
    assert request(tool_choice={"type": "any"}).tool_choice == "required"
    assert request(thinking={"type": "disabled"}).reasoning_effort == "none"
    assert request(thinking={"type": "enabled", "budget_tokens": 2048}).reasoning_effort is None


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"max_tokens": None}, InvalidRequestError),
        ({"max_tokens": 0}, InvalidRequestError),
        ({"messages": []}, InvalidRequestError),
        ({"messages": [{"role": "robot", "content": "Hi"}]}, InvalidRequestError),
        ({"messages": [{"role": "user", "content": [{"type": "search_result"}]}]}, UnsupportedFeatureError),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, UnsupportedFeatureError),
        ({"tools": [{"name": "x"}]}, InvalidRequestError),
        ({"tool_choice": {"type": "sometimes"}}, InvalidRequestError),
        ({"output_config": {"format": {"type": "json_object"}}}, InvalidRequestError),
        ({"stop_sequences": "END"}, InvalidRequestError),
    ],
)
def test_malformed_or_unsupported_requests_name_the_field(fields, error) -> None:
    with pytest.raises(error) as caught:
        request(**fields)
    assert caught.value.field


def test_a_result_becomes_a_message_with_thinking_text_and_tool_use() -> None:
    result = SignedResult(
        model="claude-x",
        content="Checking.",
        finish_reason="tool_calls",
        usage=Usage(prompt_tokens=120, completion_tokens=30, cached_tokens=100, reasoning_tokens=12),
        tool_calls=(ToolCall("toolu_1", "get_weather", '{"city":"Oslo"}'), ToolCall("c2", "broken", "not json")),
        reasoning="Hmm.",
        reasoning_blocks=(ReasoningBlock("Hmm.", "sig"),),
    )

    assert egress.message(result, message_id="msg_1", model="anthropic/claude-x") == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "anthropic/claude-x",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
            {"type": "tool_use", "id": "c2", "name": "broken", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 20,
            "output_tokens": 30,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 100,
            "output_tokens_details": {"thinking_tokens": 12},
        },
    }


def test_reasoning_from_another_vendor_becomes_an_unsigned_thinking_block() -> None:
    result = ChatResult(model="m", content="Hi", finish_reason="length", usage=Usage(), reasoning="Because.")
    answer = egress.message(result, message_id="msg_1", model="m")

    assert answer["content"][0] == {"type": "thinking", "thinking": "Because.", "signature": ""}
    assert answer["stop_reason"] == "max_tokens"


def events_of(*chunks: ChatChunk) -> list[dict]:
    writer = egress.MessageEvents(message_id="msg_1", model="m")
    raw = writer.start() + b"".join(writer.chunk(chunk) for chunk in chunks)
    events = SSEDecoder().feed(raw)
    for event in events:
        assert event.event == orjson.loads(event.data)["type"]  # the SDK dispatches on the event name
    return [orjson.loads(event.data) for event in events]


def test_stream_opens_and_closes_one_block_per_kind_and_ends_with_usage() -> None:
    events = events_of(
        ChatChunk(reasoning="Hm"),
        ChatChunk(reasoning="m."),
        SignedChunk(reasoning_signature="sig"),
        ChatChunk(content="Hel"),
        ChatChunk(content="lo"),
        ChatChunk(tool_calls=(ToolCallDelta(0, id="c1", name="get_weather"),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments='{"city":"Oslo"}'),)),
        ChatChunk(tool_calls=(ToolCallDelta(1, id="c2", name="get_time", arguments="{}"),)),
        ChatChunk(finish_reason="tool_calls", usage=Usage(prompt_tokens=9, completion_tokens=4)),
    )
    shapes = [(e["type"], e.get("index"), (e.get("delta") or e.get("content_block") or {}).get("type")) for e in events]

    assert shapes == [
        ("message_start", None, None),
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "text"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("content_block_start", 3, "tool_use"),
        ("content_block_delta", 3, "input_json_delta"),
        ("content_block_stop", 3, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    assert events[10]["content_block"] == {"type": "tool_use", "id": "c1", "name": "get_weather", "input": {}}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    assert events[-2]["usage"]["input_tokens"] == 9 and events[-2]["usage"]["output_tokens"] == 4


def test_a_redacted_thinking_block_streams_whole() -> None:
    events = events_of(SignedChunk(redacted_reasoning="opaque"), ChatChunk(usage=Usage()))

    assert events[1]["content_block"] == {"type": "redacted_thinking", "data": "opaque"}
    assert [e["type"] for e in events[2:]] == ["content_block_stop", "message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] == "end_turn"


def test_error_bodies_and_events_use_anthropics_error_types() -> None:
    assert orjson.loads(egress.error_body(404, "no such model", request_id="req_1")) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "no such model"},
        "request_id": "req_1",
    }
    assert [egress.error_type(s) for s in (400, 401, 402, 403, 413, 429, 500, 502, 503, 504)] == [
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "api_error",
        "overloaded_error",
        "timeout_error",
    ]
    event = SSEDecoder().feed(egress.MessageEvents(message_id="m", model="m").error(503, "Overloaded"))[0]
    assert (event.event, orjson.loads(event.data)["error"]["type"]) == ("error", "overloaded_error")


def test_cache_markers_thinking_and_task_budget_travel_through_and_go_back_out_as_sent() -> None:
    from modelyard.protocols.anthropic import requests as anthropic_requests
    from tests.protocols.test_anthropic import claude

    hour, five = {"type": "ephemeral", "ttl": "1h"}, {"type": "ephemeral"}
    sent = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 4000,
        "system": [{"type": "text", "text": "Rules."}, {"type": "text", "text": "More rules.", "cache_control": hour}],
        "tools": [{"name": "look", "input_schema": {"type": "object", "properties": {}}, "cache_control": five}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
                        "cache_control": five,
                    },
                    {"type": "text", "text": "Summarise."},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "look", "input": {}, "cache_control": five}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok", "cache_control": hour}],
            },
        ],
        "thinking": {"type": "enabled", "budget_tokens": 2000, "display": "omitted"},
        "output_config": {"task_budget": {"type": "tokens", "total": 30000}},
        "cache_control": five,
    }
    unified = ingress.chat_request(sent)

    assert unified.messages[1].cache == "1h" and unified.messages[2].content[0].cache == "5m"
    assert unified.tools[0].cache == "5m"
    assert unified.extra == {
        "thinking": True,
        "thinking_budget": 2000,
        "thinking_display": "omitted",
        "task_budget": 30000,
        "prompt_cache": "5m",
    }
    upstream = anthropic_requests.build_chat(claude(), unified, stream=False)
    assert orjson.loads(upstream.body) == sent
    assert upstream.headers["anthropic-beta"] == "task-budgets-2026-03-13"


@pytest.mark.parametrize("control", [{"type": "persistent"}, {"type": "ephemeral", "ttl": "1d"}, "ephemeral"])
def test_a_malformed_cache_control_is_refused_naming_where_it_is(control) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        request(messages=[{"role": "user", "content": [{"type": "text", "text": "Hi", "cache_control": control}]}])
    assert caught.value.field == "messages[0].content[0].cache_control"


def test_usage_reports_cache_writes_apart_from_fresh_input() -> None:
    body = egress.usage_body(Usage(prompt_tokens=100, completion_tokens=5, cached_tokens=60, cache_write_tokens=30))
    assert (body["input_tokens"], body["cache_read_input_tokens"], body["cache_creation_input_tokens"]) == (10, 60, 30)
