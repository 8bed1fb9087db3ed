"""Ledger rows kept in Redis beside the counter they changed, until the batch writer has them in the database.

With Redis as the counter, each reservation and each close changes the counter and appends its ledger row to the
quota's journal in one script, so a process that dies (kill -9) loses neither the charge nor its row: any replica's
writer writes the rows of every journal it finds. A row leaves the journal only after its batch is committed, and the
database keeps one row per (reservation, step), so a row written twice (two replicas draining one journal, a crash
between the commit and the trim) is kept once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from modelyard.services.quota.ledger import BATCH_SIZE, LedgerRow

if TYPE_CHECKING:
    from modelyard.store.cache import RedisCache

JOURNAL_SUFFIX = ":journal"

# KEYS: a journal. ARGV: how many rows were written, the last of them. Drops them only if they still lead the list:
# another replica that drained the same rows first has trimmed them already.
_TRIM = """
if redis.call('LINDEX', KEYS[1], tonumber(ARGV[1]) - 1) == ARGV[2] then
  redis.call('LTRIM', KEYS[1], tonumber(ARGV[1]), -1)
end
return 1
"""


def template(row: LedgerRow) -> str:
    """A row as its journal entry; the scripts put the amount in, as only they know it."""
    return orjson.dumps(
        {
            "workspace_id": row.workspace_id,
            "meter": row.meter,
            "reservation_id": row.reservation_id,
            "model": row.model,
            "kind": row.kind,
            "step": row.step,
            "amount": row.amount,
            "idempotency_key": row.idempotency_key,
            "created_at": row.created_at.isoformat(),
        }
    ).decode()


def parsed(entry: str) -> LedgerRow:
    data = orjson.loads(entry)
    return LedgerRow(
        data["workspace_id"],
        data["meter"],
        data["reservation_id"],
        data["model"],
        data["kind"],
        int(data["step"]),
        int(data["amount"]),
        data["idempotency_key"] or None,  # Lua's cjson gives null back as null
        datetime.fromisoformat(data["created_at"]),
    )


class Journals:
    """The journals this process writes to or found (`adopt`); `drain` moves their rows to the database."""

    def __init__(self, cache: RedisCache, pattern: str) -> None:
        self._client = cache.client
        self._trim = cache.script(_TRIM)
        self._pattern = pattern
        self._keys: set[str] = set()

    def note(self, key: str) -> None:
        self._keys.add(key)

    async def adopt(self) -> None:
        """Find every journal, those of processes that died included (a SCAN: at start-up and now and then)."""
        async for key in self._client.scan_iter(match=self._pattern, count=1000):
            self._keys.add(str(key))

    async def pending_delta(self, key: str) -> int:
        """The change to `used` of the rows not in the database yet."""
        entries = await self._client.lrange(key, 0, -1)
        return sum(parsed(str(entry)).amount for entry in entries)

    async def drain(self, write: Callable[[list[LedgerRow]], Awaitable[None]]) -> None:
        """Write the journals' rows, many journals to a transaction (a thousand active workspaces cost one batch,
        not a thousand), then drop what was written from each."""
        # Forgotten before reading: a row appended meanwhile notes its journal again, for the next drain.
        pending, self._keys = self._keys, set()
        while pending:
            keys = [pending.pop() for _ in range(min(len(pending), _JOURNALS_PER_BATCH))]
            try:
                drained = await self._read(keys)
                if drained:
                    await write([parsed(entry) for _, entries in drained for entry in entries])
            except BaseException:
                self._keys.update(keys, pending)  # not written: read again next time
                raise
            trims = (self._trim(keys=[key], args=[len(entries), entries[-1]]) for key, entries in drained)
            await asyncio.gather(*trims)
            pending.update(key for key, entries in drained if len(entries) == BATCH_SIZE)  # more behind

    async def _read(self, keys: list[str]) -> list[tuple[str, list[str]]]:
        """The first rows of each journal that has any, in one round trip."""
        async with self._client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.lrange(key, 0, BATCH_SIZE - 1)
            read = await pipe.execute()
        return [(key, [str(entry) for entry in entries]) for key, entries in zip(keys, read, strict=True) if entries]


_JOURNALS_PER_BATCH = 20  # at most 20 × BATCH_SIZE rows in one transaction; usually a handful each
