"""What the parts of the quota engine hand each other and their callers, and the one error they raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from modelyard.errors import HostedQuotaExceededError
from modelyard.services.hosted import QuotaUnit

LedgerKind = Literal["reserve", "settle", "release"]


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    provider: str
    quota_type: str  # trial | paid | free
    unit: str  # times | tokens | credits
    limit: int  # -1: unlimited
    used: int  # includes open reservations
    remaining: int | None  # None: unlimited
    is_exhausted: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    """Quota set aside for one call; close it with `settle` or `release`."""

    id: str
    workspace_id: str
    provider: str
    model: str
    unit: QuotaUnit
    amount: int  # for tokens, a placeholder of 1 until settled with the real usage
    idempotency_key: str | None = None
    # An earlier call's reservation, returned for a repeated Idempotency-Key: nothing was spent, and it is that
    # call's to close, so settle and release ignore it.
    is_replay: bool = False


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    reservation_id: str
    provider: str
    model: str
    kind: LedgerKind
    amount: int  # the signed change to `used`
    idempotency_key: str | None
    created_at: datetime


def exhausted(provider: str, quota_type: str, limit: int, unit: str) -> HostedQuotaExceededError:
    return HostedQuotaExceededError(f"hosted provider {provider}: the {quota_type} quota of {limit} {unit} is used up")
