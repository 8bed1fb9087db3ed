"""Unified results and chunks to Responses API objects and events, held to the SDK's types and its stream helper."""

from __future__ import annotations

import orjson
import pytest
from openai._types import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from modelyard.error_contract import answer_for
from modelyard.errors import UpstreamRateLimitError
from modelyard.protocols.openai_responses import egress, ingress
from modelyard.protocols.sse import SSEDecoder
from modelyard.types import ChatChunk, ChatResult, ToolCall, ToolCallDelta, Usage

EVENT = TypeAdapter(ResponseStreamEvent)
USAGE = Usage(prompt_tokens=12, completion_tokens=5, cached_tokens=2, reasoning_tokens=3)
TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]


def call_of(**body):
    return ingress.read({"model": "m", "input": "Hi", **body})


def decoded(data: bytes) -> list[dict]:
    return [orjson.loads(e.data) for e in SSEDecoder().feed(data)]


def accumulated(stream_events: list[dict]):
    """What the SDK's own stream helper makes of the events; it raises on any out-of-order or unknown item."""
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    for raw in stream_events:
        state.handle_event(EVENT.validate_python(raw))
    return state._completed_response


def test_a_whole_answer_is_a_valid_response_with_reasoning_text_and_calls() -> None:
    result = ChatResult(
        model="m",
        content="Checking.",
        reasoning="Plan.",
        tool_calls=(ToolCall("c1", "get_weather", '{"city":"Oslo"}'),),
        finish_reason="tool_calls",
        usage=USAGE,
    )
    body = egress.response(call_of(reasoning={"summary": "auto"}, tools=TOOLS), result, response_id="resp_1", model="m")
    parsed = Response.model_validate(body)
    assert [item.type for item in parsed.output] == ["reasoning", "message", "function_call"]
    assert parsed.output_text == "Checking."
    assert parsed.output[2].call_id == "c1"
    assert (parsed.status, parsed.usage.input_tokens_details.cached_tokens, parsed.usage.total_tokens) == (
        "completed",
        2,
        17,
    )
    assert parsed.usage.output_tokens_details.reasoning_tokens == 3


def test_reasoning_is_answered_only_when_a_summary_was_asked_for() -> None:
    result = ChatResult(model="m", content="Hi", reasoning="Plan.", finish_reason="stop", usage=USAGE)
    body = egress.response(call_of(), result, response_id="resp_1", model="m")
    assert [item["type"] for item in body["output"]] == ["message"]


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_an_answer_cut_short_is_incomplete_with_its_reason(finish, reason) -> None:
    result = ChatResult(model="m", content="Tr", finish_reason=finish, usage=USAGE)
    parsed = Response.model_validate(egress.response(call_of(), result, response_id="resp_1", model="m"))
    assert (parsed.status, parsed.incomplete_details.reason, parsed.output[0].status) == (
        "incomplete",
        reason,
        "incomplete",
    )


def stream_of(chunks, **body) -> tuple[list[dict], egress.ResponseEvents]:
    call = call_of(**body)
    events = egress.ResponseEvents(
        egress.shell(call, response_id="resp_2", model="m"), summary=call.reasoning_summary is not None
    )
    data = events.start() + b"".join(events.chunk(chunk) for chunk in chunks)
    return decoded(data), events


def test_a_stream_of_reasoning_text_and_interleaved_calls_is_what_the_sdk_helper_accumulates() -> None:
    chunks = [
        ChatChunk(reasoning="Pl"),
        ChatChunk(reasoning="an."),
        ChatChunk(content="Chec"),
        ChatChunk(content="king."),
        ChatChunk(tool_calls=(ToolCallDelta(0, "c1", "get_weather", '{"ci'),)),
        ChatChunk(tool_calls=(ToolCallDelta(1, "c2", "get_weather", '{"city"'),)),
        ChatChunk(tool_calls=(ToolCallDelta(0, arguments='ty":"Oslo"}'), ToolCallDelta(1, arguments=':"Rome"}'))),
        ChatChunk(finish_reason="tool_calls", usage=USAGE),
    ]
    stream_events, events = stream_of(chunks, reasoning={"summary": "auto"}, tools=TOOLS)
    assert [e["sequence_number"] for e in stream_events] == list(range(len(stream_events)))
    kinds = [e["type"] for e in stream_events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    final = accumulated(stream_events)
    assert final is not None
    assert final.output_text == "Checking."
    assert [(i.call_id, i.arguments) for i in final.output if i.type == "function_call"] == [
        ("c1", '{"city":"Oslo"}'),
        ("c2", '{"city":"Rome"}'),
    ]
    assert final.output[0].summary[0].text == "Plan."
    assert events.done and events.response["status"] == "completed"
    assert (
        Response.model_validate(events.response).model_dump()
        == Response.model_validate(stream_events[-1]["response"]).model_dump()
    )


def test_a_stream_cut_short_ends_with_response_incomplete() -> None:
    stream_events, _ = stream_of([ChatChunk(content="Tr"), ChatChunk(finish_reason="length", usage=USAGE)])
    for raw in stream_events:
        EVENT.validate_python(raw)
    assert stream_events[-1]["type"] == "response.incomplete"
    assert stream_events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_after_the_first_byte_is_an_error_event_then_response_failed() -> None:
    call = call_of()
    events = egress.ResponseEvents(egress.shell(call, response_id="resp_3", model="m"), summary=False)
    data = events.start() + events.chunk(ChatChunk(content="Hel"))
    data += events.failed(answer_for(UpstreamRateLimitError("slow down", provider="p", retry_after_s=3)))
    stream_events = decoded(data)
    for raw in stream_events:
        EVENT.validate_python(raw)
    error, failed = stream_events[-2:]
    assert (error["type"], error["code"], error["message"]) == ("error", "rate_limit_exceeded", "[p] slow down")
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"] == {"code": "rate_limit_exceeded", "message": "[p] slow down"}
    assert failed["sequence_number"] == error["sequence_number"] + 1


def test_response_ids_are_random_and_item_ids_unique_within_a_response() -> None:
    assert egress.new_response_id() != egress.new_response_id()
    result = ChatResult(
        model="m",
        content="x",
        tool_calls=(ToolCall("c1", "f", "{}"), ToolCall("c2", "f", "{}")),
        finish_reason="tool_calls",
        usage=USAGE,
    )
    body = egress.response(call_of(), result, response_id=egress.new_response_id(), model="m")
    ids = [item["id"] for item in body["output"]]
    assert len(set(ids)) == len(ids) == 3
