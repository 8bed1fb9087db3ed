from __future__ import annotations

import pytest

from modelyard.protocols.sse import NDJSONDecoder, ServerSentEvent, SSEDecoder

STREAM = (
    b": keep-alive\n\n"
    b'data: {"a":1}\n\n'
    b"event: message_delta\r\nid: 7\r\ndata: line one\r\ndata: line two\r\n\r\n"
    b"data:no-space\n\n"
    b"retry: 100\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    ServerSentEvent(b'{"a":1}'),
    ServerSentEvent(b"line one\nline two", "message_delta", "7"),
    ServerSentEvent(b"no-space"),
    ServerSentEvent(b"[DONE]"),
]


def decode_in_pieces(decoder: SSEDecoder | NDJSONDecoder, data: bytes, size: int) -> list[ServerSentEvent]:
    events = []
    for start in range(0, len(data), size):
        events.extend(decoder.feed(data[start : start + size]))
    return events + decoder.flush()


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, len(STREAM)])
def test_sse_decoder_gives_the_same_events_whatever_the_chunk_boundaries(size: int) -> None:
    assert decode_in_pieces(SSEDecoder(), STREAM, size) == EXPECTED


def test_sse_decoder_splits_a_crlf_across_chunks_without_inventing_a_blank_line() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r") + decoder.feed(b"\ndata: b\r\n\r\n")
    assert events == [ServerSentEvent(b"a\nb")]


def test_sse_decoder_flushes_a_final_event_without_a_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"last":true}') == []
    assert decoder.flush() == [ServerSentEvent(b'{"last":true}')]


def test_sse_decoder_skips_comment_only_blocks() -> None:
    assert SSEDecoder().feed(b": OPENROUTER PROCESSING\n\n: ping\n\n") == []


@pytest.mark.parametrize("size", [1, 5, 100])
def test_ndjson_decoder_yields_one_event_per_line(size: int) -> None:
    data = b'{"a":1}\n\n{"b":2}\r\n{"c":3}'
    assert [e.data for e in decode_in_pieces(NDJSONDecoder(), data, size)] == [b'{"a":1}', b'{"b":2}', b'{"c":3}']
