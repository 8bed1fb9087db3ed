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
    amount: int  # set aside, in the quota's unit; settling a token quota replaces it with the real usage
    idempotency_key: str | None = None
    # Less remained than the call's worst case (or nothing bounded it), so `amount` is what remained: the caller
    # keeps the call within it (a chat call's max_tokens is lowered to fit).
    is_capped: bool = False
    # An earlier call's reservation, returned for a repeated Idempotency-Key: nothing was spent, and it is that
    # call's to close, so settle and release ignore it.
    is_replay: bool = False


@dataclass(frozen=True, slots=True)
class Demand:
    """What a reservation asks for, in the quota's unit: `amount`, or, when less remains, all that remains as long
    as that is at least `minimum`. `amount` None: nothing bounds the call, so all that remains (on an unlimited
    quota, `minimum`, settled with the real usage)."""

    amount: int | None
    minimum: int

    @classmethod
    def exactly(cls, amount: int) -> Demand:
        return cls(amount, amount)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    reservation_id: str
    provider: str
    model: str
    kind: LedgerKind | Literal["carried"]  # carried: the sum of pruned reservations (services/ledger_pruning.py)
    amount: int  # the signed change to `used`
    idempotency_key: str | None
    created_at: datetime


def exhausted(provider: str, quota_type: str, limit: int, unit: str) -> HostedQuotaExceededError:
    return HostedQuotaExceededError(f"hosted provider {provider}: the {quota_type} quota of {limit} {unit} is used up")
