"""Reservations left open by a process that died are closed: at the server's start-up, then every RECONCILE_INTERVAL_S.

The rule: a reservation still open `stale_after_s` after it was made (the call's total timeout and a minute, so no
call that could still close it is running) is settled as reserved. Its call may have run and been paid for upstream,
so it is charged its reservation, the estimate, and never released: a crash never loses a charge, and may charge a
call that failed, or charge its worst case instead of its real usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import and_, exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.services.hosted import QuotaUnit
from modelyard.services.quota.ledger import ledger_table, quota_table
from modelyard.services.quota.values import Reservation
from modelyard.store.tables import utcnow

RECONCILE_INTERVAL_S = 300.0
_log = logging.getLogger(__name__)


class Reconciler:
    """Finds open reservations older than `stale_after_s` in the ledger and has `settle` close each as reserved."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settle: Callable[[Reservation], Awaitable[None]],
        *,
        stale_after_s: float,
        interval_s: float = RECONCILE_INTERVAL_S,
    ) -> None:
        self._db = db
        self._settle = settle
        self.stale_after_s = stale_after_s
        self._interval_s = interval_s
        # Rows up to this id are closed; the next pass reads only later ones. It trails the last pass by one, so a
        # row whose id was taken before that pass but committed after it (PostgreSQL) is still read.
        self._through = 0
        self._seen = 0
        self._task: asyncio.Task[None] | None = None
        # Set by a long-running process (the server) before it starts: a CLI command or a test that starts services
        # for a moment leaves the sweep to the server, and `run_once` to whoever asks.
        self.is_periodic = False

    def start(self, before: Callable[[], Awaitable[None]]) -> None:
        """When `is_periodic`: reconcile now and every interval, `before` first each time (writes what is queued,
        finds journals)."""
        if self.is_periodic:
            self._task = asyncio.create_task(self._run(before), name="modelyard-quota-reconcile")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """One pass; returns how many reservations it settled."""
        ledger, quota = ledger_table.c, quota_table.c
        closing = ledger_table.alias("closing")
        query = (
            select(ledger.id, ledger.workspace_id, ledger.provider, ledger.reservation_id, ledger.model, ledger.amount)
            .add_columns(ledger.idempotency_key, ledger.created_at, quota.unit)
            .join(quota_table, and_(quota.workspace_id == ledger.workspace_id, quota.provider == ledger.provider))
            .where(ledger.step == 0, ledger.id > self._through)
            .where(~exists().where(and_(closing.c.reservation_id == ledger.reservation_id, closing.c.step == 1)))
            .order_by(ledger.id)
        )
        async with self._db() as session:
            rows = (await session.execute(query)).all()
        cutoff = utcnow() - timedelta(seconds=self.stale_after_s)
        settled = 0
        first_open = None
        for row in rows:
            if _as_utc(row.created_at) > cutoff:  # its call may still be running: read it again next time
                first_open = first_open if first_open is not None else row.id
                continue
            unit = cast(QuotaUnit, row.unit)
            reservation = Reservation(
                row.reservation_id, row.workspace_id, row.provider, row.model, unit, row.amount, row.idempotency_key
            )
            await self._settle(reservation)
            settled += 1
        self._through = self._seen if first_open is None else min(self._seen, first_open - 1)
        self._seen = max(self._seen, rows[-1].id if rows else 0)
        if settled:
            _log.warning("settled %d hosted-quota reservations left open by a stopped process", settled)
        return settled

    async def _run(self, before: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await before()
                await self.run_once()
            except Exception:
                _log.exception("reconciling open hosted-quota reservations failed; retrying later")
            await asyncio.sleep(self._interval_s)


def _as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # SQLite hands back naive UTC
