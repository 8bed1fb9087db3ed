"""Retention: usage records and ledger rows (and the daily usage sums, when asked) deleted once older than their
settings, in the background every hour and by `modelyard usage prune`.

Every table is walked along its primary key in windows of `batch_rows` rows: one short transaction per window,
then a pause, so a usage flush (which on SQLite waits for the one write lock) is never held up for long and no
index on the time is needed. Ids grow with time, so the walk ends at the first window with nothing old in it. The
usage views read the daily sums (usage_daily.py), which outlive the records: pruning changes none of their totals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelyard.services.ledger_pruning import BUDGET_LEDGER, HOSTED_QUOTA_LEDGER, Ledger, fold_closed
from modelyard.store.tables import UsageDaily, UsageRecord

if TYPE_CHECKING:
    from modelyard.settings import Settings

PRUNE_INTERVAL_S = 3600.0
FIRST_PRUNE_DELAY_S = 600.0  # not at start-up: replicas restarted together would all prune at once
BATCH_ROWS = 2000
# Between batches: longer than SQLite's busy-handler sleeps (up to 100 ms), so a waiting writer gets the lock.
PAUSE_S = 0.1

_log = logging.getLogger(__name__)
records_table = cast(Table, UsageRecord.__table__)
daily_table = cast(Table, UsageDaily.__table__)

# Deletes (or, in a dry run, counts) the old rows with ids in (after, last], in the caller's transaction.
WindowAction = Callable[[AsyncConnection, int, int], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class TablePruned:
    """One table's pruning: rows older than `before` (None: kept forever, not walked)."""

    table: str
    before: datetime | None
    rows: int  # deleted, or in a dry run that would be
    batches: int
    longest_batch_ms: float  # the longest batch transaction: how long a writer could have waited


@dataclass(frozen=True, slots=True)
class PruneReport:
    dry_run: bool
    tables: list[TablePruned]
    longest_batch_ms: float


class Retention:
    """Prunes by the retention settings: `prune()` once, or `start()` for every PRUNE_INTERVAL_S in the background."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        usage_days: int,
        ledger_days: int,
        aggregate_days: int = 0,
        batch_rows: int = BATCH_ROWS,
        pause_s: float = PAUSE_S,
        interval_s: float = PRUNE_INTERVAL_S,
        first_delay_s: float = FIRST_PRUNE_DELAY_S,
    ) -> None:
        self._engine = engine
        self.usage_days = usage_days  # 0: forever
        self.ledger_days = ledger_days
        self.aggregate_days = aggregate_days
        self._batch_rows = batch_rows
        self._pause_s = pause_s
        self._interval_s = interval_s
        self._first_delay_s = first_delay_s
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, engine: AsyncEngine, settings: Settings) -> Retention:
        return cls(
            engine,
            usage_days=settings.usage_retention_days,
            ledger_days=settings.ledger_retention_days,
            aggregate_days=settings.aggregate_retention_days,
        )

    def start(self) -> None:
        if self._task is None and (self.usage_days or self.ledger_days or self.aggregate_days):
            self._task = asyncio.create_task(self._run(), name="modelyard-retention")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()  # a batch cut short rolls back whole
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def prune(
        self, *, before: date | None = None, dry_run: bool = False, now: datetime | None = None
    ) -> PruneReport:
        """Delete what the settings no longer keep; `before` (a UTC day) instead of them for records and ledgers."""
        now = now or datetime.now(UTC)
        records_before = _cutoff(now, self.usage_days, before)
        ledger_before = _cutoff(now, self.ledger_days, before)
        days_before = _cutoff(now, self.aggregate_days, None)
        pruned = [
            await self._prune_records(records_before, dry_run),
            await self._prune_daily(days_before, dry_run),
            await self._prune_ledger(HOSTED_QUOTA_LEDGER, ledger_before, now, dry_run),
            await self._prune_ledger(BUDGET_LEDGER, ledger_before, now, dry_run),
        ]
        longest = max(table.longest_batch_ms for table in pruned)
        return PruneReport(dry_run=dry_run, tables=pruned, longest_batch_ms=longest)

    async def _prune_records(self, before: datetime | None, dry_run: bool) -> TablePruned:
        if before is None:
            return TablePruned(records_table.name, None, 0, 0, 0.0)
        old = records_table.c.created_at < before
        return await self._walk(records_table, before, old, _delete_or_count(records_table, old, dry_run))

    async def _prune_daily(self, before: datetime | None, dry_run: bool) -> TablePruned:
        if before is None:
            return TablePruned(daily_table.name, None, 0, 0, 0.0)
        old = daily_table.c.day < before.date()
        return await self._walk(daily_table, before, old, _delete_or_count(daily_table, old, dry_run))

    async def _prune_ledger(self, ledger: Ledger, before: datetime | None, now: datetime, dry_run: bool) -> TablePruned:
        if before is None:
            return TablePruned(ledger.table.name, None, 0, 0, 0.0)

        async def fold(connection: AsyncConnection, after: int, last: int) -> int:
            return await fold_closed(
                connection, ledger, after=after, last=last, before=before, now=now, dry_run=dry_run
            )

        return await self._walk(ledger.table, before, ledger.is_old(before), fold)

    async def _walk(
        self, table: Table, before: datetime, old: ColumnElement[bool], action: WindowAction
    ) -> TablePruned:
        """Window after window along the primary key, each acted on in a short transaction of its own."""
        rows = batches = 0
        longest_s = 0.0
        after = 0
        while True:
            window = (
                select(table.c.id.label("id"), case((old, 1), else_=0).label("old"))
                .where(table.c.id > after)
                .order_by(table.c.id)
                .limit(self._batch_rows)
                .subquery()
            )
            async with self._engine.connect() as connection:
                last, olds = (await connection.execute(select(func.max(window.c.id), func.sum(window.c.old)))).one()
            if last is None or not olds:
                break
            started = time.perf_counter()
            async with self._engine.begin() as connection:
                rows += await action(connection, after, last)
            longest_s = max(longest_s, time.perf_counter() - started)
            batches += 1
            after = last
            await asyncio.sleep(self._pause_s)
        return TablePruned(table.name, before, rows, batches, round(longest_s * 1000, 1))

    async def _run(self) -> None:
        delay = self._first_delay_s
        while True:
            await asyncio.sleep(delay * random.uniform(0.9, 1.1))  # replicas drift apart instead of pruning together
            delay = self._interval_s
            try:
                report = await self.prune()
            except Exception:
                _log.exception("pruning old usage records and ledger rows failed; retrying in an hour")
                continue
            deleted = {table.table: table.rows for table in report.tables if table.rows}
            if deleted:
                _log.info("pruned %s (longest batch %.1f ms)", deleted, report.longest_batch_ms)


def _cutoff(now: datetime, days: int, before: date | None) -> datetime | None:
    if before is not None:
        return datetime.combine(before, datetime.min.time(), UTC)
    return now - timedelta(days=days) if days else None


def _delete_or_count(table: Table, old: ColumnElement[bool], dry_run: bool) -> WindowAction:
    async def act(connection: AsyncConnection, after: int, last: int) -> int:
        window = and_(table.c.id > after, table.c.id <= last, old)
        if dry_run:
            return int(await connection.scalar(select(func.count()).select_from(table).where(window)) or 0)
        return (await connection.execute(delete(table).where(window))).rowcount

    return act
