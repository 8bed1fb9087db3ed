"""The database as the idempotency store, when there is no Redis: one row per key, claimed by an INSERT.

The primary key (workspace, API key, Idempotency-Key) makes the INSERT of the in-flight row the atomic claim on
SQLite and PostgreSQL alike (`ON CONFLICT DO NOTHING`: a repeat finds the row instead of raising). A row whose
`expires_at` has passed (a crashed call's lease, or a kept answer past its lifetime) is taken over by an UPDATE that
names the token it saw, so two repeats cannot both take it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from modelyard.services.idempotency.values import Claim, Found, KeyScope
from modelyard.services.recorded import StoredAnswer
from modelyard.store.tables import IdempotencyRecord, utcnow

PRUNE_BATCH = 500
_records = cast(Table, IdempotencyRecord.__table__)


class SqlRecords:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgresql = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgresql else sqlite.insert

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that does not wait for its commit to reach the disk on PostgreSQL (≈ 2 ms each here): a
        record lost in a database crash only frees its key, and the repeat then runs as a new call, charged."""
        async with self._engine.begin() as connection:
            if self._postgresql:
                await connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield connection

    async def claim(self, scope: KeyScope, fingerprint: str, token: str, lease_s: float) -> Claim | Found | None:
        """The claim, or what holds the key; None when the key changed hands meanwhile (ask again)."""
        now = utcnow()
        lease_end = now + timedelta(seconds=lease_s)
        row = {**_columns(scope), "fingerprint": fingerprint, "token": token, "expires_at": lease_end}
        async with self._writing() as connection:
            inserted = await connection.execute(self._insert(_records).values(row).on_conflict_do_nothing())
            if inserted.rowcount == 1:
                return Claim(scope, token)
            held = (await connection.execute(select(_records).where(_matches(scope)))).first()
            if held is None:
                return None  # let go between the INSERT and the SELECT
            if held.expires_at <= now:  # a lease or a lifetime that has run out: the key is free again
                fresh = {"fingerprint": fingerprint, "token": token, "expires_at": lease_end}
                taken = await connection.execute(
                    update(_records)
                    .where(_matches(scope), _records.c.token == held.token, _records.c.expires_at <= now)
                    .values(**fresh, status=None, headers=None, body=None)
                )
                return Claim(scope, token) if taken.rowcount == 1 else None
        if held.status is None:
            return Found(held.fingerprint, None, (held.expires_at - now).total_seconds())
        return Found(held.fingerprint, StoredAnswer.of(held.status, held.headers, held.body), 0.0)

    async def keep(self, claim: Claim, answer: StoredAnswer, ttl_s: float) -> bool:
        async with self._writing() as connection:
            kept = await connection.execute(
                update(_records)
                .where(_matches(claim.scope), _records.c.token == claim.token)
                .values(
                    status=answer.status,
                    headers=answer.encoded_headers(),
                    body=answer.body,
                    expires_at=utcnow() + timedelta(seconds=ttl_s),
                )
            )
        return bool(kept.rowcount)

    async def release(self, claim: Claim) -> None:
        async with self._writing() as connection:
            await connection.execute(delete(_records).where(_matches(claim.scope), _records.c.token == claim.token))

    async def prune(self) -> int:
        """Delete expired rows, PRUNE_BATCH at a time so no statement holds the table long; returns how many."""
        total = 0
        key = (_records.c.workspace_id, _records.c.api_key_id, _records.c.key)
        while True:
            now = utcnow()
            expired = select(*key).where(_records.c.expires_at <= now).limit(PRUNE_BATCH)
            async with self._writing() as connection:
                result = await connection.execute(
                    delete(_records).where(_records.c.expires_at <= now, tuple_(*key).in_(expired))
                )
            deleted = int(getattr(result, "rowcount", 0) or 0)
            total += deleted
            if deleted < PRUNE_BATCH:
                return total
            await asyncio.sleep(0)  # let the requests of this process run between batches


def _columns(scope: KeyScope) -> dict[str, str]:
    return {"workspace_id": scope.workspace_id, "api_key_id": scope.api_key_id, "key": scope.key}


def _matches(scope: KeyScope) -> ColumnElement[bool]:
    return and_(
        _records.c.workspace_id == scope.workspace_id,
        _records.c.api_key_id == scope.api_key_id,
        _records.c.key == scope.key,
    )
