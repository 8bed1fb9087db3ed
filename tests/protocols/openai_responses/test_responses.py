"""Responses API answers to unified results (modelyard/protocols/openai_responses/responses.py), on bytes alone."""

from __future__ import annotations

import orjson
import pytest

from modelyard.errors import UpstreamProtocolError, UpstreamRateLimitError, UpstreamUnavailableError
from modelyard.protocols.openai_responses import OpenAIResponses, ResponsesQuirks
from modelyard.types.usage import UNREPORTED
from tests.fakes.openai_responses import function_call, message, reasoning, refusal, response, usage
from tests.protocols.targets import target

PROTOCOL = OpenAIResponses()
TARGET = target(
    quirks=ResponsesQuirks(),
    credentials={"api_key": "sk-test-0123456789", "endpoint_url": "https://x.test", "api_protocol": "responses"},
)


def parse(body: dict):
    return PROTOCOL.parse_chat(TARGET, orjson.dumps(body))


def test_text_reasoning_summaries_and_usage_with_cached_and_reasoning_tokens() -> None:
    result = parse(
        response(reasoning("First.", "Second."), message("Bonjour !"), tokens=usage(20, 7, cached=8, reasoning=4))
    )
    assert (result.content, result.reasoning, result.finish_reason) == ("Bonjour !", "First.\n\nSecond.", "stop")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (20, 7)
    assert (result.usage.cached_tokens, result.usage.reasoning_tokens) == (8, 4)
    assert (result.id, result.model) == ("resp_fake", "fake-model")


def test_function_calls_become_tool_calls_in_order() -> None:
    result = parse(
        response(
            function_call("c1", "get_weather", '{"city":"Oslo"}'), function_call("c2", "get_time", "{}", item_id="fc_2")
        )
    )
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("c1", "get_weather", '{"city":"Oslo"}'),
        ("c2", "get_time", "{}"),
    ]
    assert result.finish_reason == "tool_calls"


def test_a_refusal_is_the_answer_the_caller_sees() -> None:
    assert parse(response(refusal("I can't help with that."))).content == "I can't help with that."


@pytest.mark.parametrize(("reason", "finish"), [("max_output_tokens", "length"), ("content_filter", "content_filter")])
def test_an_incomplete_answer_says_why_it_stopped(reason, finish) -> None:
    assert parse(response(message("Trunc"), status="incomplete", incomplete=reason)).finish_reason == finish


def test_an_answer_without_usage_is_estimated_by_the_runtime() -> None:
    assert parse(response(message("Hi"), tokens={})).usage is UNREPORTED


def test_a_failed_response_raises_the_error_its_code_names() -> None:
    with pytest.raises(UpstreamRateLimitError):
        parse(response(status="failed", error={"code": "rate_limit_exceeded", "message": "slow down"}))
    with pytest.raises(UpstreamUnavailableError) as failed:
        parse(response(status="failed", error={"code": "server_error", "message": "boom"}))
    assert "boom" in str(failed.value)


def test_an_unreadable_answer_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        PROTOCOL.parse_chat(TARGET, b'{"output": [{"type": "function_call"}]}')
    with pytest.raises(UpstreamProtocolError):
        PROTOCOL.parse_chat(TARGET, b"[]")
