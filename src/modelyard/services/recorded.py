"""An answer the gateway sent, as recorded to send again: by Idempotency-Key replay and by the response cache."""

from __future__ import annotations

from dataclasses import dataclass

import orjson


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """Status, headers (lower-case names) and body as the gateway sent them, a stream's events assembled. Only what
    the gateway sent back is kept: nothing of the request, so never a credential."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def encoded_headers(self) -> bytes:
        return orjson.dumps(self.headers)

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers if key == name), None)

    @property
    def size(self) -> int:
        """Bytes it holds, roughly: what a bounded store counts."""
        return len(self.body) + sum(len(name) + len(value) for name, value in self.headers)

    @classmethod
    def of(cls, status: int, headers: bytes | str, body: bytes) -> StoredAnswer:
        return cls(status, tuple((name, value) for name, value in orjson.loads(headers)), body)
