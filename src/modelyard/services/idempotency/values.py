"""What the idempotency records hold and hand back, and the two errors a repeated key can get."""

from __future__ import annotations

from dataclasses import dataclass

from modelyard.errors import ConflictError, InvalidRequestError
from modelyard.services.recorded import StoredAnswer

HEADER = "Idempotency-Key"


@dataclass(frozen=True, slots=True)
class KeyScope:
    """One Idempotency-Key as the caller's own: the same text under another API key is another key."""

    workspace_id: str
    api_key_id: str
    key: str


@dataclass(frozen=True, slots=True)
class Claim:
    """This call holds the key: it runs, then `finish` keeps its answer or lets the key go. `token` fences the
    holder: once its lease has expired and another call claimed the key, its answer is not kept."""

    scope: KeyScope
    token: str


@dataclass(frozen=True, slots=True)
class Found:
    """What a claim found in place of a free key: the first call's fingerprint, its answer once it has one, and
    while it runs, how long its lease still holds the key."""

    fingerprint: str
    answer: StoredAnswer | None
    lease_left_s: float


class IdempotencyConflictError(ConflictError):
    """A call with this Idempotency-Key is still running: try again shortly for its answer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = HEADER


class IdempotencyKeyReusedError(InvalidRequestError):
    """The Idempotency-Key was used for another call (another route or body): a key names one call only."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field=HEADER)
