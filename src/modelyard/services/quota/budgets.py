"""Budgets on the quota engine: a counter per budget period, reserved at admission, settled with the real cost.

Amounts are integer micro-units of the budget's currency, each call's price rounded up (at most a millionth of a
dollar more than the catalog's price, never less), exact in Redis's Lua numbers up to 9·10⁹ dollars. The
ledger and its batch writer are the hosted quota's (`ledger.LedgerWriter` over the budget tables), so `used` is
always the sum of the period's ledger rows. Without Redis, the database decides here: one transaction reserves all
of a call's budget periods (the key's and the workspace's), each a conditional UPDATE, or none of them. With Redis,
the governance admission script decides, in the same round trip as the rate limits, and the rows reach the database
through the same writer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.services.quota.lease import Hold, grant
from modelyard.services.quota.ledger import LedgerRow, LedgerWriter, MeterTables
from modelyard.services.quota.values import LedgerKind
from modelyard.store.tables import BudgetCounter, BudgetLedgerEntry, utcnow

budget_counters = cast(Table, BudgetCounter.__table__)
budget_ledger = cast(Table, BudgetLedgerEntry.__table__)
BUDGETS = MeterTables(budget_counters, budget_ledger, "meter", creates_counters=True)

MICRO = Decimal("0.000001")


def to_units(amount: Decimal) -> int:
    """An amount in whole micro-units, rounded up: a reservation never falls short of the price."""
    return int((amount / MICRO).to_integral_value(ROUND_CEILING))


def from_units(units: int) -> Decimal:
    """Micro-units as an amount without trailing zeros, and never in exponent form (20, not 2E+1)."""
    amount = (Decimal(units) * MICRO).normalize()
    return amount.quantize(Decimal(1)) if amount == amount.to_integral_value() else amount


@dataclass(frozen=True, slots=True)
class BudgetDemand:
    """What one call asks of one budget period: `amount`, or all that remains when nothing bounds its cost."""

    workspace_id: str
    meter: str
    limit: int
    amount: int | None


@dataclass(frozen=True, slots=True)
class BudgetHold:
    """Budget set aside for one call in one period; `used` is the period's spend right after it (for headers).

    A call's hold may be its part of a lease (`lease`: see `quota.lease`), whose own BudgetHold is the counter's
    reservation; closing the call then settles the lease in memory."""

    workspace_id: str
    meter: str
    reservation_id: str
    model: str
    amount: int
    used: int
    lease: Hold[BudgetKey, BudgetHold] | None = None


BudgetKey = tuple[str, str, int]  # workspace, meter, limit: a changed limit starts a new lease


class BudgetRefused(Exception):
    """A period has not enough left; raised inside the reserving transaction, so nothing of it is kept."""

    def __init__(self, demand: BudgetDemand, used: int) -> None:
        super().__init__(demand.meter)
        self.demand = demand
        self.used = used


def hold_row(hold: BudgetHold) -> LedgerRow:
    return LedgerRow(
        hold.workspace_id, hold.meter, hold.reservation_id, hold.model, "reserve", 0, hold.amount, None, utcnow()
    )


def closing_row(hold: BudgetHold, kind: LedgerKind, delta: int) -> LedgerRow:
    return LedgerRow(hold.workspace_id, hold.meter, hold.reservation_id, hold.model, kind, 1, delta, None, utcnow())


class SqlBudgets:
    """The database as the budget counter (no Redis): the reservation is written at once, the rest in batches."""

    def __init__(self, db: async_sessionmaker[AsyncSession], writer: LedgerWriter, *, dialect: str) -> None:
        self._db = db
        self._writer = writer
        self._insert = postgresql.insert if dialect == "postgresql" else sqlite.insert

    async def reserve(self, demands: Sequence[BudgetDemand], *, reservation_id: str, model: str) -> list[BudgetHold]:
        """Every demand, or none (BudgetRefused names the first period without room)."""
        holds: list[BudgetHold] = []
        async with self._db.begin() as session:
            for number, demand in sorted(enumerate(demands), key=lambda item: item[1].meter):  # one lock order
                amount, used = await self._spend(session, demand)
                holds.append(
                    BudgetHold(demand.workspace_id, demand.meter, f"{reservation_id}.{number}", model, amount, used)
                )
            # The reserve rows in the same transaction: `used` stays the sum of the ledger at every commit.
            await session.execute(budget_ledger.insert(), [hold_row(hold).values(BUDGETS) for hold in holds])
        return holds

    async def lease(self, demand: BudgetDemand, block: int, *, reservation_id: str) -> BudgetHold:
        """A lease of the period (`quota.lease.grant`: at most `block`, at least the demand), in one transaction;
        BudgetRefused when the demand does not fit."""
        assert demand.amount is not None
        counter = budget_counters.c
        here = (counter.workspace_id == demand.workspace_id, counter.meter == demand.meter)
        async with self._db.begin() as session:
            for _ in range(2):
                # The row locked first (SQLite's write lock, PostgreSQL's row lock): the amount read is what remains.
                used = await session.scalar(
                    update(budget_counters).where(*here).values(used=counter.used).returning(counter.used)
                )
                if used is not None:
                    break
                await session.execute(  # the period's first call: its counter starts at zero
                    self._insert(budget_counters)
                    .values(workspace_id=demand.workspace_id, meter=demand.meter, used=0)
                    .on_conflict_do_nothing(index_elements=["workspace_id", "meter"])
                )
            granted = None if used is None else grant(used, demand.limit, demand.amount, demand.amount, block)
            if used is None or granted is None:
                raise BudgetRefused(demand, used or 0)  # none left, or the workspace was deleted meanwhile
            await session.execute(update(budget_counters).where(*here).values(used=counter.used + granted[0]))
            hold = BudgetHold(demand.workspace_id, demand.meter, reservation_id, "*", granted[0], used + granted[0])
            await session.execute(budget_ledger.insert(), [hold_row(hold).values(BUDGETS)])
        return hold

    def close(self, hold: BudgetHold, kind: LedgerKind, actual: int | None) -> None:
        """Queued, not written: the batch keeps the first closing row of a reservation and drops the others."""
        delta = -hold.amount if kind == "release" else (0 if actual is None else actual - hold.amount)
        self._writer.add(closing_row(hold, kind, delta))

    async def _spend(self, session: AsyncSession, demand: BudgetDemand) -> tuple[int, int]:
        """Add the demand to the period's counter if it fits; (amount granted, used after)."""
        counter = budget_counters.c
        here = (counter.workspace_id == demand.workspace_id, counter.meter == demand.meter)
        for _ in range(2):
            if demand.amount is None:
                # All that remains: take the row's lock first (SQLite's write lock, PostgreSQL's row lock), so the
                # amount read is the amount taken.
                used = await session.scalar(
                    update(budget_counters).where(*here).values(used=counter.used).returning(counter.used)
                )
                if used is not None:
                    if used + 1 > demand.limit:
                        raise BudgetRefused(demand, used)
                    await session.execute(update(budget_counters).where(*here).values(used=demand.limit))
                    return demand.limit - used, demand.limit
            else:
                used = await session.scalar(
                    update(budget_counters)
                    .where(*here, counter.used + demand.amount <= demand.limit)
                    .values(used=counter.used + demand.amount)
                    .returning(counter.used)
                )
                if used is not None:
                    return demand.amount, used
                current = await session.scalar(select(counter.used).where(*here))
                if current is not None:
                    raise BudgetRefused(demand, current)
            # The period's first call: its counter starts at zero (another replica may have just made it).
            await session.execute(
                self._insert(budget_counters)
                .values(workspace_id=demand.workspace_id, meter=demand.meter, used=0)
                .on_conflict_do_nothing(index_elements=["workspace_id", "meter"])
            )
        raise BudgetRefused(demand, 0)  # the workspace was deleted meanwhile


async def stored_spend(
    db: async_sessionmaker[AsyncSession], workspace_id: str, meters: Sequence[str]
) -> dict[str, int]:
    """What the database holds for these periods (written batches only); absent periods spent nothing."""
    if not meters:
        return {}
    counter = budget_counters.c
    async with db() as session:
        rows = await session.execute(
            select(counter.meter, counter.used).where(counter.workspace_id == workspace_id, counter.meter.in_(meters))
        )
    return {meter: used for meter, used in rows}
