"""AWS event-stream messages as a fake Bedrock or SageMaker sends them."""

from __future__ import annotations

import struct
import zlib


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message with string headers: what fake upstreams send."""
    encoded = b"".join(
        bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value.encode())) + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))
