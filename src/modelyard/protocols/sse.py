"""Incremental decoders for the stream framings providers use: SSE and NDJSON. Pure: bytes in, events out."""

from __future__ import annotations

from modelyard.types.value import Value


class ServerSentEvent(Value, frozen=True):
    data: bytes
    event: str | None = None
    id: str | None = None


class SSEDecoder:
    """Decodes `text/event-stream` bytes as they arrive, whatever the chunk boundaries.

    Follows the WHATWG rules that matter upstream: CRLF or LF line ends, comment lines (`:`) skipped,
    multi-line `data:` joined with newlines, an optional space after the colon, unknown fields ignored.
    """

    __slots__ = ("_buffer", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._pending_cr:  # a CR ended the previous chunk: its LF may start this one
            chunk = b"\r" + chunk
            self._pending_cr = False
        if b"\r" in chunk:
            if chunk.endswith(b"\r"):
                chunk, self._pending_cr = chunk[:-1], True
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\n\n" not in buffer:
            self._buffer = buffer
            return []
        *blocks, self._buffer = buffer.split(b"\n\n")
        events = []
        for block in blocks:
            event = _parse_block(block)
            if event is not None:
                events.append(event)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """Events left when the stream ends without a final blank line."""
        block, self._buffer = self._buffer, b""
        event = _parse_block(block) if block.strip() else None
        return [event] if event is not None else []


def _parse_block(block: bytes) -> ServerSentEvent | None:
    if block.startswith(b"data: ") and b"\n" not in block:  # the common case: one data line
        return ServerSentEvent(block[6:])
    data: list[bytes] = []
    event_name: str | None = None
    event_id: str | None = None
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            data.append(value)
        elif name == b"event":
            event_name = value.decode()
        elif name == b"id":
            event_id = value.decode()
    if not data and event_name is None:
        return None
    return ServerSentEvent(b"\n".join(data), event_name, event_id)


class NDJSONDecoder:
    """Splits newline-delimited JSON into one event per non-empty line."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\n" not in buffer:
            self._buffer = buffer
            return []
        *lines, self._buffer = buffer.split(b"\n")
        return [ServerSentEvent(line.strip()) for line in lines if line.strip()]

    def flush(self) -> list[ServerSentEvent]:
        line, self._buffer = self._buffer.strip(), b""
        return [ServerSentEvent(line)] if line else []
