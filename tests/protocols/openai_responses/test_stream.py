"""The Responses API's typed events to unified chunks, fed event by event as the runtime does."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import UpstreamRateLimitError, UpstreamUnavailableError
from modelyard.protocols.openai_responses import OpenAIResponses, ResponsesQuirks
from modelyard.protocols.sse import ServerSentEvent
from tests.fakes.openai_responses import events, function_call, message, reasoning, response, usage
from tests.protocols.targets import target

TARGET = target(
    quirks=ResponsesQuirks(),
    credentials={"api_key": "sk-test-0123456789", "endpoint_url": "https://x.test", "api_protocol": "responses"},
)


def feed(stream_events):
    parser = OpenAIResponses().chat_stream_parser(TARGET)
    chunks = []
    for stream_event in stream_events:
        chunk = parser.feed(ServerSentEvent(orjson.dumps(stream_event), event=stream_event["type"]))
        if chunk is not None:
            chunks.append(chunk)
    return parser, chunks


def test_text_and_reasoning_deltas_then_the_end_with_usage() -> None:
    final = response(reasoning("Plan.", "Check."), message("Bonjour !"), tokens=usage(12, 5, cached=2, reasoning=3))
    parser, chunks = feed(events(final))
    assert "".join(c.content for c in chunks) == "Bonjour !"
    assert "".join(c.reasoning for c in chunks) == "Plan.\n\nCheck."
    last = chunks[-1]
    assert (last.finish_reason, last.usage.prompt_tokens, last.usage.cached_tokens, last.usage.reasoning_tokens) == (
        "stop",
        12,
        2,
        3,
    )
    assert parser.finished


def test_function_calls_are_indexed_by_call_not_by_output_position() -> None:
    final = response(
        reasoning("Two lookups."),
        function_call("c1", "get_weather", '{"city":"Oslo"}'),
        function_call("c2", "get_weather", '{"city":"Rome"}', item_id="fc_2"),
    )
    _, chunks = feed(events(final, piece=4))
    calls: dict[int, dict] = {}
    for delta in (d for c in chunks for d in c.tool_calls):
        call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
        call["id"] = call["id"] or delta.id
        call["name"] = call["name"] or delta.name
        call["arguments"] += delta.arguments
    assert calls == {
        0: {"id": "c1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
        1: {"id": "c2", "name": "get_weather", "arguments": '{"city":"Rome"}'},
    }
    assert chunks[-1].finish_reason == "tool_calls"


def test_a_server_that_sends_only_done_events_still_yields_the_text_and_arguments() -> None:
    final = response(message("Whole"), function_call("c1", "f", '{"a":1}'))
    without_deltas = [e for e in events(final) if not e["type"].endswith(".delta")]
    _, chunks = feed(without_deltas)
    assert "".join(c.content for c in chunks) == "Whole"
    assert "".join(d.arguments for c in chunks for d in c.tool_calls) == '{"a":1}'


def test_an_incomplete_response_ends_the_stream_with_its_reason() -> None:
    parser, chunks = feed(events(response(message("Tr"), status="incomplete", incomplete="max_output_tokens")))
    assert chunks[-1].finish_reason == "length"
    assert parser.finished


def test_a_failed_response_raises_mid_stream() -> None:
    failed = response(status="failed", error={"code": "server_error", "message": "overloaded"})
    with pytest.raises(UpstreamUnavailableError) as raised:
        feed(events(failed))
    assert "upstream stream error: overloaded" in str(raised.value)


def test_an_error_event_raises_the_error_its_code_names() -> None:
    with pytest.raises(UpstreamRateLimitError):
        feed([{"type": "error", "code": "rate_limit_exceeded", "message": "slow down", "sequence_number": 0}])
