"""What one call's admission checks, level by level, and what it found: the values admission backends share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from modelyard.services.governance.policy import Budget
from modelyard.services.quota.budgets import BudgetDemand, BudgetHold

Level = Literal["key", "workspace"]
RateKind = Literal["requests", "tokens"]


@dataclass(frozen=True, slots=True)
class RateCheck:
    """A token bucket of `capacity` per minute, refilled continuously; the call takes `cost` from it."""

    level: Level
    scope: str  # the counter's owner: the key id, or the workspace id
    kind: RateKind
    capacity: int
    cost: int

    @property
    def per_ms(self) -> float:
        return self.capacity / 60_000


@dataclass(frozen=True, slots=True)
class SlotCheck:
    """At most `limit` calls of the scope in flight at once."""

    level: Level
    scope: str
    limit: int


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """`demand.amount` prices the prompt by its byte bound; `exact`, asked only near the limit, by the tokenizer."""

    level: Level
    budget: Budget
    demand: BudgetDemand
    exact: Callable[[], int] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one call must pass: budgets first (a spent budget is the reason to give, not a busy minute)."""

    call_id: str
    workspace_id: str
    model: str  # provider/model, for the ledger
    budgets: tuple[BudgetCheck, ...] = ()
    rates: tuple[RateCheck, ...] = ()
    slots: tuple[SlotCheck, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.budgets or self.rates or self.slots)


@dataclass(frozen=True, slots=True)
class RateReading:
    """A bucket as the call left it: what the x-ratelimit-* headers report."""

    check: RateCheck
    remaining: int
    reset_ms: int  # until the bucket is full again


@dataclass(slots=True)
class Admitted:
    """What admission took for one call; `finish` gives back what the call did not use."""

    plan: Plan
    holds: list[BudgetHold] = field(default_factory=list)
    readings: list[RateReading] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a call was refused: the first check that failed, and how long until it could pass (None: not by waiting)."""

    check: BudgetCheck | RateCheck | SlotCheck
    retry_after_ms: int | None
    used: int = 0  # a budget's spend when it refused
    readings: tuple[RateReading, ...] = ()
