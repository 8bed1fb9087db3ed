"""The database as the quota counter, when there is no Redis: the reservation is written at once, the rest in batches.

One conditional UPDATE of the quota row (`used + n <= limit`) and the ledger row, in one transaction. SQLite has a
single writer and PostgreSQL re-checks the condition under the row lock, so concurrent callers can never spend past
the limit. This is the only database write a gateway call waits for.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from sqlalchemy import CursorResult, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import NotFoundError
from modelyard.services.quota.ledger import LedgerWriter, closing_row, ledger_table, quota_table, reserve_row
from modelyard.services.quota.values import LedgerKind, Reservation, exhausted
from modelyard.store.tables import HostedQuota, QuotaLedgerEntry


class SqlCounter:
    """The database is the counter: the reservation is written at once, the rest in batches."""

    def __init__(self, db: async_sessionmaker[AsyncSession], writer: LedgerWriter, *, dialect: str) -> None:
        self._db = db
        self._writer = writer
        self._one_statement = dialect == "postgresql"

    async def reserve(self, reservation: Reservation) -> Reservation:
        for _ in range(3):  # a release flushed between a refusal and its explanation earns another try
            try:
                if await self._spend(reservation):
                    return reservation
            except IntegrityError:
                # The only constraint a fresh reservation can break: its Idempotency-Key was used already.
                if reservation.idempotency_key is None:
                    raise
            if reservation.idempotency_key is not None:
                replay = await self._replay(reservation)
                if replay is not None:
                    return replay
            async with self._db() as session:
                row = await quota_of(session, reservation.workspace_id, reservation.provider)
            if row.quota_limit >= 0 and row.used + reservation.amount > row.quota_limit:
                raise exhausted(row.provider, row.quota_type, row.quota_limit, row.unit)
        raise exhausted(row.provider, row.quota_type, row.quota_limit, row.unit)

    async def close(self, reservation: Reservation, kind: LedgerKind, actual: int | None) -> None:
        # Queued, not written: the batch keeps the first closing row of a reservation and drops the others.
        self._writer.add(closing_row(reservation, kind, _closing_delta(kind, reservation.amount, actual)))

    async def used(self, rows: list[HostedQuota]) -> list[int]:
        return [row.used for row in rows]

    async def _spend(self, reservation: Reservation) -> bool:
        """The conditional UPDATE and the ledger row, in one transaction; False when there is no room."""
        has_room = or_(
            quota_table.c.quota_limit < 0, quota_table.c.used + reservation.amount <= quota_table.c.quota_limit
        )
        spend = (
            update(quota_table)
            .where(
                quota_table.c.workspace_id == reservation.workspace_id, quota_table.c.provider == reservation.provider
            )
            .where(has_room)
            .values(used=quota_table.c.used + reservation.amount)
        )
        row = reserve_row(reservation).values()
        async with self._db.begin() as session:
            if self._one_statement:
                # PostgreSQL: `WITH spent AS (UPDATE ... RETURNING) INSERT ... SELECT FROM spent`. The row lock is
                # held until COMMIT, so one round trip less under it is more reservations per second.
                spent = spend.returning(quota_table.c.workspace_id).cte("spent")
                columns = [name for name in row if name != "workspace_id"]
                record = insert(ledger_table).from_select(
                    ["workspace_id", *columns],
                    select(spent.c.workspace_id, *(literal(row[name], ledger_table.c[name].type) for name in columns)),
                )
                result = cast(CursorResult[Any], await session.execute(record))
                return result.rowcount == 1
            # SQLite takes the write lock at this UPDATE, before reading `used`: the check and the spend are one.
            result = cast(CursorResult[Any], await session.execute(spend))
            if result.rowcount != 1:
                return False
            await session.execute(insert(ledger_table).values(row))
        return True

    async def _replay(self, reservation: Reservation) -> Reservation | None:
        async with self._db() as session:
            first = await session.scalar(
                select(QuotaLedgerEntry).where(
                    QuotaLedgerEntry.workspace_id == reservation.workspace_id,
                    QuotaLedgerEntry.provider == reservation.provider,
                    QuotaLedgerEntry.idempotency_key == reservation.idempotency_key,
                )
            )
        if first is None:
            return None
        return replace(reservation, id=first.reservation_id, model=first.model, amount=first.amount, is_replay=True)


async def quota_of(session: AsyncSession, workspace_id: str, provider: str) -> HostedQuota:
    """The quota row the database counts on; the Redis counter starts from it too."""
    row = await session.scalar(
        select(HostedQuota).where(HostedQuota.workspace_id == workspace_id, HostedQuota.provider == provider)
    )
    if row is None:  # another workspace's quota, or none at all, reads the same
        raise NotFoundError(f"no hosted {provider} quota for workspace {workspace_id!r}")
    return row


def _closing_delta(kind: LedgerKind, reserved: int, actual: int | None) -> int:
    if kind == "release":
        return -reserved
    return 0 if actual is None else actual - reserved
