from __future__ import annotations

import base64
import struct
from decimal import Decimal

import orjson
import pytest

from modelyard.errors import UpstreamError, UpstreamProtocolError, UpstreamRateLimitError
from modelyard.protocols.openai import OpenAI
from modelyard.protocols.sse import ServerSentEvent
from modelyard.types import RerankRequest, ToolCall, ToolCallDelta
from modelyard.types.usage import UNREPORTED
from tests.fakes.openai import chat_chunk, completion, tool_call, usage_chunk
from tests.protocols.targets import target

openai = OpenAI()


def test_chat_result_has_content_tool_calls_reasoning_and_usage() -> None:
    body = completion(
        None,
        tool_calls=[tool_call("call_a", "get_weather", '{"city":"Paris"}'), tool_call("call_b", "get_time", "{}")],
        reasoning="Two lookups.",
        finish_reason="tool_calls",
        usage=(20, 10),
    )
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 8}
    body["usage"]["completion_tokens_details"] = {"reasoning_tokens": 4}
    result = openai.parse_chat(target(), orjson.dumps(body))

    assert result.content == ""
    assert result.reasoning == "Two lookups."
    assert result.tool_calls == (
        ToolCall("call_a", "get_weather", '{"city":"Paris"}'),
        ToolCall("call_b", "get_time", "{}"),
    )
    assert result.finish_reason == "tool_calls"
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (20, 10)
    assert (result.usage.cached_tokens, result.usage.reasoning_tokens) == (8, 4)


def test_chat_without_usage_is_marked_unreported_for_the_runtime_to_estimate() -> None:
    result = openai.parse_chat(target(), orjson.dumps(completion("Hi", usage=None)))
    assert result.usage is UNREPORTED


def test_tool_arguments_sent_as_an_object_become_json_text() -> None:
    body = completion(
        None, tool_calls=[{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]
    )
    assert openai.parse_chat(target(), orjson.dumps(body)).tool_calls[0].arguments == '{"a":1}'


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"choices": []}', b'{"choices": [{"nothing": 1}]}'])
def test_unreadable_chat_is_a_protocol_error_naming_the_provider(body: bytes) -> None:
    with pytest.raises(UpstreamProtocolError, match=r"^\[acme\] unreadable chat response"):
        openai.parse_chat(target(), body)


def test_an_error_object_inside_http_200_is_raised() -> None:
    body = {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}
    with pytest.raises(UpstreamRateLimitError):
        openai.parse_chat(target(), orjson.dumps(body))


def test_embeddings_decode_base64_and_restore_input_order() -> None:
    packed = base64.b64encode(struct.pack("<3f", 0.5, -1.0, 2.0)).decode()
    body = {
        "data": [{"index": 1, "embedding": [1.0, 2.0, 3.0]}, {"index": 0, "embedding": packed}],
        "model": "e",
        "usage": {"prompt_tokens": 6, "total_tokens": 6},
    }
    result = openai.parse_embeddings(target("text-embedding"), orjson.dumps(body))
    assert result.vectors == ([0.5, -1.0, 2.0], [1.0, 2.0, 3.0])
    assert result.usage.prompt_tokens == 6


def test_rerank_maps_scores_back_to_the_documents_best_first() -> None:
    body = {
        "results": [
            {"index": 0, "relevance_score": 0.1},
            {"index": 2, "score": 0.9},
            {"index": 1, "relevance_score": 0.5},
        ]
    }
    request = RerankRequest("q", ("a", "b", "c"))
    result = openai.parse_rerank(target("rerank"), request, orjson.dumps(body))
    assert [(hit.index, hit.document, hit.score) for hit in result.hits] == [
        (2, "c", 0.9),
        (1, "b", 0.5),
        (0, "a", 0.1),
    ]


def test_moderation_keeps_category_names_with_slashes() -> None:
    body = {
        "model": "omni-moderation-latest",
        "results": [
            {"flagged": True, "categories": {"self-harm/intent": True}, "category_scores": {"self-harm/intent": 0.9}}
        ],
    }
    result = openai.parse_moderation(target("moderation"), orjson.dumps(body))
    assert result.flagged
    assert result.verdicts[0].categories == {"self-harm/intent": True}


def test_transcription_reads_text_and_duration() -> None:
    body = {"text": "hi there", "usage": {"type": "duration", "seconds": 3.5}}
    result = openai.parse_transcription(target("speech2text"), orjson.dumps(body))
    assert (result.text, result.duration_s) == ("hi there", 3.5)


def test_model_list_accepts_openai_envelope_and_bare_arrays() -> None:
    enveloped = orjson.dumps({"object": "list", "data": [{"id": "m1", "owned_by": "me"}]})
    bare = orjson.dumps([{"id": "m2"}])
    assert [m.id for m in openai.parse_list_models(target(), enveloped)] == ["m1"]
    assert [m.id for m in openai.parse_list_models(target(), bare)] == ["m2"]


# --- streaming ---------------------------------------------------------------------------------------------------


def feed_all(parser, payloads: list[bytes]):
    chunks = []
    for payload in payloads:
        chunk = parser.feed(ServerSentEvent(payload))
        if chunk is not None:
            chunks.append(chunk)
    return chunks


def test_stream_parser_merges_nothing_but_reports_every_delta_and_the_end() -> None:
    parser = openai.chat_stream_parser(target())
    chunks = feed_all(
        parser,
        [
            orjson.dumps(chat_chunk({"role": "assistant", "content": ""})),
            orjson.dumps(chat_chunk({"reasoning_content": "Think."})),
            orjson.dumps(chat_chunk({"content": "Hel"})),
            orjson.dumps(chat_chunk({"content": "lo"}, "stop")),
            orjson.dumps(usage_chunk(5, 2)),
            b"[DONE]",
        ],
    )
    assert [c.reasoning for c in chunks if c.reasoning] == ["Think."]
    assert "".join(c.content for c in chunks) == "Hello"
    assert chunks[-2].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 7
    assert parser.finished


def test_stream_parser_keys_parallel_tool_call_fragments_by_index() -> None:
    parser = openai.chat_stream_parser(target())
    first = {"index": 0, "id": "call_a", "type": "function", "function": {"name": "f", "arguments": ""}}
    second = {"index": 1, "id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"x"'}}
    chunks = feed_all(
        parser,
        [
            orjson.dumps(chat_chunk({"tool_calls": [first]})),
            orjson.dumps(chat_chunk({"tool_calls": [second]})),
            orjson.dumps(chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":1}'}}]})),
            orjson.dumps(chat_chunk({"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]}, "tool_calls")),
        ],
    )
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas == [
        ToolCallDelta(0, "call_a", "f", ""),
        ToolCallDelta(1, "call_b", "g", '{"x"'),
        ToolCallDelta(0, None, None, '{"a":1}'),
        ToolCallDelta(1, None, None, ":2}"),
    ]


def test_stream_parser_numbers_whole_tool_calls_that_come_without_index() -> None:
    parser = openai.chat_stream_parser(target())
    chunks = feed_all(
        parser, [orjson.dumps(chat_chunk({"tool_calls": [tool_call("a", "f", "{}"), tool_call("b", "g", "{}")]}))]
    )
    assert [d.index for d in chunks[0].tool_calls] == [0, 1]


def test_stream_parser_raises_an_error_event_with_its_status() -> None:
    parser = openai.chat_stream_parser(target())
    error = {"error": {"code": 502, "message": "Upstream model crashed"}}
    with pytest.raises(UpstreamError, match="Upstream model crashed") as caught:
        parser.feed(ServerSentEvent(orjson.dumps(error)))
    assert caught.value.status_code == 502


def test_usage_prices_are_decimal() -> None:
    # parse_usage produces counts only; prices are the runtime's job
    result = openai.parse_chat(target(), orjson.dumps(completion("x")))
    assert result.usage.total_price == Decimal(0)
