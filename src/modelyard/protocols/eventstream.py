"""AWS event-stream framing (Bedrock ConverseStream, SageMaker InvokeEndpointWithResponseStream), decoded.

Each message: a 12-byte prelude (total length, headers length, prelude CRC32), typed headers, the payload,
and a CRC32 of everything before it. Bad CRCs mean a corrupt stream, never a partial result.
Documented at https://docs.aws.amazon.com/transcribe/latest/dg/streaming-setting-up.html (event stream
encoding); tests hold this decoder against botocore's own parser.
"""

from __future__ import annotations

import struct
import zlib

from modelyard.protocols.sse import ServerSentEvent

_PRELUDE = struct.Struct(">III")
_MAX_MESSAGE = 24 * 1024 * 1024


class EventStreamError(ValueError):
    """The bytes are not a well-formed event stream."""


class EventStreamDecoder:
    """Bytes in, events out: `event` is the `:event-type` (or `:exception-type`), `data` the payload.

    `:message-type` other than `event` is kept in `id` ("exception" or "error"), so a protocol can raise.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        events = []
        offset = 0
        while len(buffer) - offset >= _PRELUDE.size:
            total, headers_length, prelude_crc = _PRELUDE.unpack_from(buffer, offset)
            if zlib.crc32(buffer[offset : offset + 8]) != prelude_crc:
                raise EventStreamError("event-stream prelude checksum mismatch")
            if not 16 <= total <= _MAX_MESSAGE or headers_length > total - 16:
                raise EventStreamError(f"event-stream message of impossible length {total}")
            if len(buffer) - offset < total:
                break
            message = buffer[offset : offset + total]
            (message_crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != message_crc:
                raise EventStreamError("event-stream message checksum mismatch")
            headers = _headers(message[12 : 12 + headers_length])
            payload = message[12 + headers_length : total - 4]
            kind = headers.get(":message-type", "event")
            name = headers.get(":event-type") or headers.get(":exception-type") or headers.get(":error-code")
            events.append(ServerSentEvent(payload, name, None if kind == "event" else kind))
            offset += total
        self._buffer = buffer[offset:]
        return events

    def flush(self) -> list[ServerSentEvent]:
        if self._buffer:
            raise EventStreamError("the event stream ended inside a message")
        return []


def _headers(raw: bytes) -> dict[str, str]:
    """String-valued headers (the only kind AWS streams carry that we read); other types are skipped."""
    headers: dict[str, str] = {}
    position = 0
    while position < len(raw):
        name_length = raw[position]
        name = raw[position + 1 : position + 1 + name_length].decode()
        position += 1 + name_length
        kind = raw[position]
        position += 1
        if kind in (0, 1):  # true, false
            continue
        fixed = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}.get(kind)
        if fixed is not None:
            position += fixed
            continue
        if kind not in (6, 7):
            raise EventStreamError(f"unknown event-stream header type {kind}")
        (length,) = struct.unpack_from(">H", raw, position)
        value = raw[position + 2 : position + 2 + length]
        position += 2 + length
        if kind == 7:
            headers[name] = value.decode()
    return headers
