"""Old ledger rows pruned without unbalancing a counter: closed reservations folded into one carried row.

A counter's `used` is the sum of its ledger rows (quota/ledger.py), and hosted quota never resets, so rows cannot
simply go. A pruning batch deletes whole closed reservations (their reserve and closing rows) and adds what they
summed to the counter's carried row (kind `carried`, step 2: one per workspace and counter), in one transaction: the
sum stays exact. A reservation still open is never touched (its close, or the reconciler's, may still come), nor the
rows of a budget period not yet over. This lives outside the quota package, whose import (the engine, the catalog)
would cost `modelyard usage prune` a second.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import ColumnElement, Table, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from modelyard.store.tables import BudgetLedgerEntry, QuotaLedgerEntry

if TYPE_CHECKING:
    from modelyard.services.governance.policy import Window

CARRIED_STEP = 2  # after reserve (0) and close (1): never read as an open reservation by the reconciler
CLOSING_STEP = 1


def carried_id(workspace_id: str, meter: str) -> str:
    """The carried row's reservation id: fixed per counter, so the unique (reservation_id, step) is its upsert key."""
    digest = hashlib.sha256(f"{workspace_id}\0{meter}".encode()).hexdigest()
    return f"carry_{digest[:26]}"  # 32 characters: the quota ledger's column width


def budget_period_is_open(meter: str, now: datetime) -> bool:
    """True while a budget counter's period runs (`key:<id>:monthly:2026-12-01`); a period-less one (`…:none`)
    runs forever, and its carried row keeps what it spent, so its rows may go like the hosted quota's."""
    from modelyard.services.governance.periods import period_end  # the governance package is imported lazily

    if meter.endswith(":none"):
        return False
    rest, _, start = meter.rpartition(":")
    window = rest.rpartition(":")[2]
    try:
        first_day = date.fromisoformat(start)
    except ValueError:
        return True  # a name this code does not know: keep its rows
    if window not in ("daily", "weekly", "monthly"):
        return True
    end = period_end(cast("Window", window), datetime.combine(first_day, time.min, UTC))
    return end is None or end > now


def never(_meter: str, _now: datetime) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Ledger:
    """A ledger to prune: its table, the column naming a counter in its workspace, and which counters keep rows."""

    table: Table
    key: str
    keeps: Callable[[str, datetime], bool] = never

    def is_old(self, before: datetime) -> ColumnElement[bool]:
        """A reserve or closing row older than the cut-off (carried rows are the sums: they stay)."""
        return and_(self.table.c.step <= CLOSING_STEP, self.table.c.created_at < before)


HOSTED_QUOTA_LEDGER = Ledger(cast(Table, QuotaLedgerEntry.__table__), "provider")  # hosted quota never resets
BUDGET_LEDGER = Ledger(cast(Table, BudgetLedgerEntry.__table__), "meter", budget_period_is_open)


async def fold_closed(
    connection: AsyncConnection,
    tables: Ledger,
    *,
    after: int,
    last: int,
    before: datetime,
    now: datetime,
    dry_run: bool = False,
) -> int:
    """In the caller's transaction: the reservations whose closing row (id in (after, last]) is older than
    `before` are deleted and added to their counters' carried rows, unless the ledger keeps their counter's rows
    `now`. Returns the rows deleted (with `dry_run`, that would be)."""
    ledger = tables.table.c
    meter_column = ledger[tables.key]
    closing = await connection.execute(
        select(ledger.reservation_id, meter_column).where(
            ledger.id > after, ledger.id <= last, ledger.step == CLOSING_STEP, ledger.created_at < before
        )
    )
    reservation_ids = [reservation_id for reservation_id, meter in closing if not tables.keeps(meter, now)]
    if not reservation_ids:
        return 0
    doomed = and_(ledger.reservation_id.in_(reservation_ids), ledger.step <= CLOSING_STEP)
    if dry_run:
        return int(await connection.scalar(select(func.count()).select_from(tables.table).where(doomed)) or 0)
    # RETURNING: only what this transaction deleted is carried, even when another replica prunes the same rows.
    deleted = (
        await connection.execute(
            delete(tables.table).where(doomed).returning(ledger.workspace_id, meter_column, ledger.amount)
        )
    ).all()
    sums: Counter[tuple[str, str]] = Counter()
    for workspace_id, meter, amount in deleted:
        sums[(workspace_id, meter)] += amount
    carried = [
        _carried_row(tables, workspace_id, meter, amount)
        for (workspace_id, meter), amount in sorted(sums.items())  # one lock order: no deadlocks
        if amount
    ]
    if carried:
        await connection.execute(_carry_statement(tables, connection.dialect.name), carried)
    return len(deleted)


def _carried_row(tables: Ledger, workspace_id: str, meter: str, amount: int) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        tables.key: meter,
        "reservation_id": carried_id(workspace_id, meter),
        "model": "",  # the carried sum spans models
        "kind": "carried",
        "step": CARRIED_STEP,
        "amount": amount,
        "created_at": datetime.now(UTC),  # when it last grew
    }


def _carry_statement(tables: Ledger, dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(tables.table)
    return statement.on_conflict_do_update(
        index_elements=["reservation_id", "step"],
        set_={
            "amount": tables.table.c.amount + statement.excluded.amount,
            "created_at": statement.excluded.created_at,
        },
    )
