from __future__ import annotations

import pytest
from botocore.eventstream import EventStreamBuffer

from modelyard.protocols.eventstream import EventStreamDecoder, EventStreamError
from tests.fakes.eventstream import encode_message

MESSAGES = [
    (
        {":event-type": "messageStart", ":content-type": "application/json", ":message-type": "event"},
        b'{"role":"assistant"}',
    ),
    ({":event-type": "contentBlockDelta", ":message-type": "event"}, b'{"delta":{"text":"Hi"},"contentBlockIndex":0}'),
    ({":exception-type": "throttlingException", ":message-type": "exception"}, b'{"message":"slow down"}'),
]
STREAM = b"".join(encode_message(headers, payload) for headers, payload in MESSAGES)


@pytest.mark.parametrize("size", [1, 5, 13, 100, len(STREAM)])
def test_decoder_reads_every_message_whatever_the_chunk_boundaries(size: int) -> None:
    decoder = EventStreamDecoder()
    events = []
    for start in range(0, len(STREAM), size):
        events.extend(decoder.feed(STREAM[start : start + size]))
    events.extend(decoder.flush())
    assert [(e.event, e.id, e.data) for e in events] == [
        ("messageStart", None, b'{"role":"assistant"}'),
        ("contentBlockDelta", None, b'{"delta":{"text":"Hi"},"contentBlockIndex":0}'),
        ("throttlingException", "exception", b'{"message":"slow down"}'),
    ]


def test_botocores_parser_reads_what_the_fakes_send_the_same_way() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(STREAM)
    parsed = [(m.headers, m.payload) for m in buffer]
    assert parsed == [(headers, payload) for headers, payload in MESSAGES]


def test_a_corrupt_message_is_an_error_not_a_partial_result() -> None:
    corrupt = bytearray(STREAM)
    corrupt[40] ^= 0xFF
    with pytest.raises(EventStreamError, match="checksum"):
        EventStreamDecoder().feed(bytes(corrupt))


def test_a_stream_cut_inside_a_message_is_an_error() -> None:
    decoder = EventStreamDecoder()
    decoder.feed(STREAM[:-3])
    with pytest.raises(EventStreamError, match="ended inside"):
        decoder.flush()
