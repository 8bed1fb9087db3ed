"""Where a budget stands in its current period: what the console and the CLI show beside a key or a workspace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from modelyard.services.governance.periods import meter_name, period_end, period_start
from modelyard.services.governance.policy import Budget
from modelyard.services.quota.budgets import from_units, to_units


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    limit: Decimal
    currency: str
    window: str
    soft_limit: Decimal | None
    period_start: date | None  # None: the budget never resets
    resets_at: datetime | None
    spent: Decimal  # this period's, calls in flight counted at their worst case
    remaining: Decimal
    is_soft_limit_reached: bool
    is_exhausted: bool


def budget_meter(scope: str, budget: Budget, now: datetime) -> str:
    """The counter of the budget's current period; `scope` is `key:<id>` or `workspace`."""
    return meter_name(scope, budget.window, now)


def budget_status(budget: Budget, spent_units: int, now: datetime) -> BudgetStatus:
    limit = to_units(budget.limit)
    soft = None if budget.soft_limit is None else to_units(budget.soft_limit)
    return BudgetStatus(
        limit=budget.limit,
        currency=budget.currency,
        window=budget.window,
        soft_limit=budget.soft_limit,
        period_start=period_start(budget.window, now),
        resets_at=period_end(budget.window, now),
        spent=from_units(spent_units),
        remaining=from_units(max(limit - spent_units, 0)),
        is_soft_limit_reached=soft is not None and spent_units >= soft,
        is_exhausted=spent_units >= limit,
    )
