"""The database as the quota counter, when there is no Redis: the reservation is written at once, the rest in batches.

One conditional UPDATE of the quota row (`used + minimum <= limit`) and the ledger row, in one transaction. SQLite has a
single writer and PostgreSQL re-checks the condition under the row lock, so concurrent callers can never spend past
the limit. This is the only database write a gateway call waits for.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import BigInteger, ColumnElement, Select, case, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import ReturningUpdate

from modelyard.errors import NotFoundError
from modelyard.services.quota.lease import grant
from modelyard.services.quota.ledger import LedgerWriter, closing_row, ledger_table, quota_table, reserve_row
from modelyard.services.quota.values import Demand, LedgerKind, Reservation, exhausted
from modelyard.store.tables import HostedQuota, QuotaLedgerEntry


class SqlCounter:
    """The database is the counter: the reservation is written at once, the rest in batches."""

    def __init__(self, db: async_sessionmaker[AsyncSession], writer: LedgerWriter, *, dialect: str) -> None:
        self._db = db
        self._writer = writer
        self._one_statement = dialect == "postgresql"

    async def reserve(
        self,
        reservation: Reservation,
        demand: Demand,
        *,
        block: int | None = None,
    ) -> Reservation:
        """`block`: a lease's size (see `lease.grant`), instead of the call's `demand` alone."""
        if block is not None:
            return await self._lease(reservation, demand, block)
        for _ in range(3):  # a release flushed between a refusal and its explanation earns another try
            try:
                reserved = await self._spend(reservation, demand)
                if reserved is not None:
                    return reserved
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
            if row.quota_limit >= 0 and row.used + demand.minimum > row.quota_limit:
                raise exhausted(row.provider, row.quota_type, row.quota_limit, row.unit)
        raise exhausted(row.provider, row.quota_type, row.quota_limit, row.unit)

    async def close(self, reservation: Reservation, kind: LedgerKind, actual: int | None) -> None:
        # Queued, not written: the batch keeps the first closing row of a reservation and drops the others.
        self._writer.add(closing_row(reservation, kind, _closing_delta(kind, reservation.amount, actual)))

    async def settle_orphan(self, reservation: Reservation) -> None:
        """Close, as reserved, a reservation no call will close (its process died): `used` keeps its amount."""
        self._writer.add(closing_row(reservation, "settle", 0))

    async def used(self, rows: list[HostedQuota]) -> list[int]:
        return [row.used for row in rows]

    async def _spend(self, reservation: Reservation, demand: Demand) -> Reservation | None:
        """The conditional UPDATE, its cut back to the limit when less remained, and the ledger row, in one
        transaction; None when there is no room.

        The UPDATE adds the whole demand (at most the limit), and `used` past the limit is what did not remain.
        Reading the row first instead would leave SQLite's write lock to a later statement, and cost PostgreSQL
        a round trip under the row lock on every reservation, not only on the last one that fills the quota.
        """
        quota = quota_table.c
        has_room = or_(quota.quota_limit < 0, quota.used + demand.minimum <= quota.quota_limit)
        asked = literal(_asked(demand), BigInteger)
        added = case(
            (quota.quota_limit < 0, literal(_asked_of_unlimited(demand), BigInteger)),
            (asked <= quota.quota_limit, asked),
            else_=quota.quota_limit,
        )
        spend = (
            update(quota_table)
            .where(quota.workspace_id == reservation.workspace_id, quota.provider == reservation.provider)
            .where(has_room)
            .values(used=quota.used + added)
            .returning(quota.workspace_id, quota.used, quota.quota_limit)
        )
        async with self._db.begin() as session:
            if self._one_statement:
                # PostgreSQL: `WITH spent AS (UPDATE ... RETURNING), recorded AS (INSERT ... SELECT FROM spent)
                # SELECT FROM spent`. The row lock is held until COMMIT, so one round trip less under it is more
                # reservations per second.
                outcome = (await session.execute(_spend_and_record(spend, reservation, demand))).first()
                if outcome is None:
                    return None
                reserved = _reserved(reservation, demand, outcome.used, outcome.quota_limit)
            else:
                # SQLite takes the write lock at this UPDATE, before reading `used`: the check and the spend are one.
                outcome = (await session.execute(spend)).first()
                if outcome is None:
                    return None
                reserved = _reserved(reservation, demand, outcome.used, outcome.quota_limit)
                await session.execute(insert(ledger_table).values(reserve_row(reserved).values()))
            if reserved.is_capped and outcome.used > outcome.quota_limit:
                await session.execute(
                    update(quota_table)
                    .where(quota.workspace_id == reservation.workspace_id, quota.provider == reservation.provider)
                    .values(used=quota.quota_limit)
                )
        return reserved

    async def _lease(self, reservation: Reservation, demand: Demand, block: int) -> Reservation:
        """A lease: the row locked first (a no-op UPDATE: SQLite's write lock, PostgreSQL's row lock), its grant
        worked out from what remains, then spent and recorded, in one transaction. Three statements, not the call
        path's one: a lease is renewed once per block of calls."""
        quota = quota_table.c
        here = (quota.workspace_id == reservation.workspace_id, quota.provider == reservation.provider)
        async with self._db.begin() as session:
            row = (
                await session.execute(
                    update(quota_table)
                    .where(*here)
                    .values(used=quota.used)
                    .returning(quota.used, quota.quota_limit, quota.quota_type, quota.unit)
                )
            ).first()
            if row is None:
                workspace = reservation.workspace_id
                raise NotFoundError(f"no hosted {reservation.provider} quota for workspace {workspace!r}")
            granted = grant(row.used, row.quota_limit, demand.amount, demand.minimum, block)
            if granted is None:
                raise exhausted(reservation.provider, row.quota_type, row.quota_limit, row.unit)
            reserved = replace(reservation, amount=granted[0], is_capped=granted[1])
            await session.execute(update(quota_table).where(*here).values(used=quota.used + reserved.amount))
            await session.execute(insert(ledger_table).values(reserve_row(reserved).values()))
        return reserved

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


_EVERYTHING = 2**62  # more than any limit: an unbounded demand reserves all that remains


def _asked(demand: Demand) -> int:
    return _EVERYTHING if demand.amount is None else demand.amount


def _asked_of_unlimited(demand: Demand) -> int:
    return demand.minimum if demand.amount is None else demand.amount


def _reserved(reservation: Reservation, demand: Demand, used: int, limit: int) -> Reservation:
    """The reservation as granted, from `used` after the UPDATE added min(asked, limit) to it."""
    if limit < 0:
        return replace(reservation, amount=_asked_of_unlimited(demand))
    granted = min(_asked(demand), limit) - max(used - limit, 0)
    return replace(reservation, amount=granted, is_capped=granted < _asked(demand))


def _spend_and_record(
    spend: ReturningUpdate[tuple[str, int, int]], reservation: Reservation, demand: Demand
) -> Select[tuple[int, int]]:
    """PostgreSQL's one statement: the spend, and the ledger row of what it granted, for each row it changed."""
    spent = spend.cte("spent")
    row = reserve_row(reservation).values()
    columns = [name for name in row if name not in ("workspace_id", "amount")]
    record = insert(ledger_table).from_select(
        ["workspace_id", *columns, "amount"],
        select(
            spent.c.workspace_id,
            *(literal(row[name], ledger_table.c[name].type) for name in columns),
            _granted_in_sql(demand, spent.c.used, spent.c.quota_limit),
        ),
    )
    return select(spent.c.used, spent.c.quota_limit).add_cte(record.cte("recorded"))


def _granted_in_sql(demand: Demand, used: ColumnElement[int], limit: ColumnElement[int]) -> ColumnElement[int]:
    """`_reserved`'s amount as a SQL expression, for the ledger row PostgreSQL writes in the same statement."""
    asked = literal(_asked(demand), BigInteger)
    return case(
        (limit < 0, literal(_asked_of_unlimited(demand), BigInteger)),
        else_=case((asked <= limit, asked), else_=limit) - case((used > limit, used - limit), else_=0),
    )


def _closing_delta(kind: LedgerKind, reserved: int, actual: int | None) -> int:
    if kind == "release":
        return -reserved
    return 0 if actual is None else actual - reserved
