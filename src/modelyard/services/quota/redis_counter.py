"""Redis as the quota counter, shared by replicas: Lua scripts decide; the database learns from the batch writer.

The hot path writes nothing to the database: each script appends its ledger row to the quota's journal in Redis
(`journal`), and the rows and their `used` changes reach the database in batches, even from a process that died.
"""

from __future__ import annotations

from dataclasses import replace

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import NotFoundError
from modelyard.services.quota.journal import JOURNAL_SUFFIX, Journals, template
from modelyard.services.quota.lease import SHARE
from modelyard.services.quota.ledger import LedgerWriter, closing_row, reserve_row
from modelyard.services.quota.sql_counter import quota_of
from modelyard.services.quota.values import Demand, LedgerKind, Reservation, exhausted
from modelyard.store.cache import RedisCache
from modelyard.store.tables import HostedQuota

RESERVATION_TTL_S = 24 * 3600  # a reservation not closed within a day stays spent
IDEMPOTENCY_TTL_S = 24 * 3600  # how long a repeated Idempotency-Key is recognised
QUOTA_TTL_S = 7 * 24 * 3600  # an idle counter expires; the database has long caught up by then

# KEYS: quota hash, idempotency key, reservation key, journal.
# ARGV: amount ('' = all that remains), minimum, replay record (JSON, without the amount), has idempotency key
# (1|0), reservation ttl, idempotency ttl, quota ttl, the reserve row (JSON, without the amount), a lease's block
# ('' = the call's amount alone) and share (`lease.grant`, which this mirrors).
# Returns {'ok', amount set aside, 1 if less than asked}, {'replay', record}, {'exhausted', ...} or {'missing'}.
_RESERVE = """
if ARGV[4] == '1' then
  local first = redis.call('GET', KEYS[2])
  if first then return {'replay', first} end
end
local quota = redis.call('HMGET', KEYS[1], 'used', 'limit', 'type', 'unit')
if not quota[1] then return {'missing'} end
local used, limit, minimum = tonumber(quota[1]), tonumber(quota[2]), tonumber(ARGV[2])
local amount = tonumber(ARGV[1]) or minimum
local capped = 0
if limit >= 0 then
  local room = limit - used
  if room < minimum then return {'exhausted', quota[3], quota[2], quota[4]} end
  if ARGV[1] == '' or amount > room then amount, capped = room, 1
  elseif ARGV[9] ~= '' then
    amount = math.min(math.max(tonumber(ARGV[9]), amount), math.max(amount, math.floor(room / tonumber(ARGV[10]))))
  end
elseif ARGV[9] ~= '' then
  amount = math.max(tonumber(ARGV[9]), amount)
end
redis.call('HINCRBY', KEYS[1], 'used', amount)
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('SET', KEYS[3], amount, 'EX', ARGV[5])
if ARGV[4] == '1' then
  local record = cjson.decode(ARGV[3])
  record['amount'] = amount
  redis.call('SET', KEYS[2], cjson.encode(record), 'NX', 'EX', ARGV[6])
end
local row = cjson.decode(ARGV[8])
row['amount'] = amount
redis.call('RPUSH', KEYS[4], cjson.encode(row))
return {'ok', amount, capped}
"""

# KEYS: quota hash, reservation key, journal. ARGV: 'release', or the actual amount ('' = as reserved); the closing
# row (JSON, without the amount). Returns the change to `used`, or nil when the reservation was closed already.
_CLOSE = """
local reserved = redis.call('GET', KEYS[2])
if not reserved then return nil end
redis.call('DEL', KEYS[2])
reserved = tonumber(reserved)
local delta = 0
if ARGV[1] == 'release' then delta = -reserved elseif ARGV[1] ~= '' then delta = tonumber(ARGV[1]) - reserved end
if delta ~= 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'used', delta) end
local row = cjson.decode(ARGV[2])
row['amount'] = delta
redis.call('RPUSH', KEYS[3], cjson.encode(row))
return delta
"""

# KEYS: quota hash. ARGV: used, limit, type, unit, ttl. Sets the counter only if no one did (SETNX-like).
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'used', ARGV[1], 'limit', ARGV[2], 'type', ARGV[3], 'unit', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return 1
"""


class RedisCounter:
    """Redis is the counter, shared by replicas; the database learns of every step from the batch writer."""

    PREFIX = "modelyard:quota:"

    def __init__(self, cache: RedisCache, db: async_sessionmaker[AsyncSession], writer: LedgerWriter) -> None:
        self._client = cache.client
        self._db = db
        self._writer = writer
        self._reserve = cache.script(_RESERVE)
        self._close = cache.script(_CLOSE)
        self._load = cache.script(_LOAD)
        self.journals = Journals(cache, f"{self.PREFIX}*{JOURNAL_SUFFIX}")
        writer.sources.append(self.journals.drain)

    def quota_key(self, workspace_id: str, provider: str) -> str:
        # The hash tag keeps a quota's keys in one Redis Cluster slot, as a script's keys must be.
        return f"{self.PREFIX}{{{workspace_id}:{provider}}}"

    async def reserve(
        self,
        reservation: Reservation,
        demand: Demand,
        *,
        block: int | None = None,
    ) -> Reservation:
        """`block`: a lease's size (see `lease.grant`), instead of the call's `demand` alone."""
        quota_key = self.quota_key(reservation.workspace_id, reservation.provider)
        record = orjson.dumps({"id": reservation.id, "model": reservation.model})
        keyed = reservation.idempotency_key is not None
        asked = "" if demand.amount is None else demand.amount
        for _ in range(2):
            journal = quota_key + JOURNAL_SUFFIX
            outcome = await self._reserve(
                keys=[
                    quota_key,
                    f"{quota_key}:idem:{reservation.idempotency_key or ''}",
                    f"{quota_key}:rsv:{reservation.id}",
                    journal,
                ],
                args=[
                    asked,
                    demand.minimum,
                    record,
                    int(keyed),
                    RESERVATION_TTL_S,
                    IDEMPOTENCY_TTL_S,
                    QUOTA_TTL_S,
                    template(reserve_row(reservation)),
                    "" if block is None else block,
                    SHARE,
                ],
            )
            match outcome:
                case ["ok", amount, capped]:
                    self.journals.note(journal)
                    return replace(reservation, amount=int(amount), is_capped=bool(capped))
                case ["replay", first]:
                    earlier = orjson.loads(first)
                    return replace(
                        reservation, id=earlier["id"], model=earlier["model"], amount=earlier["amount"], is_replay=True
                    )
                case ["exhausted", quota_type, limit, unit]:
                    raise exhausted(reservation.provider, quota_type, int(limit), unit)
                case _:
                    await self._load_from_database(reservation.workspace_id, reservation.provider)
        raise NotFoundError(f"no hosted {reservation.provider} quota for workspace {reservation.workspace_id!r}")

    async def close(self, reservation: Reservation, kind: LedgerKind, actual: int | None) -> bool:
        """Close it in Redis and journal its row; False when it was closed already (here or by another replica)."""
        quota_key = self.quota_key(reservation.workspace_id, reservation.provider)
        argument = "release" if kind == "release" else ("" if actual is None else str(actual))
        journal = quota_key + JOURNAL_SUFFIX
        delta = await self._close(
            keys=[quota_key, f"{quota_key}:rsv:{reservation.id}", journal],
            args=[argument, template(closing_row(reservation, kind, 0))],
        )
        if delta is None:
            return False
        self.journals.note(journal)
        return True

    async def settle_orphan(self, reservation: Reservation) -> None:
        """Close, as reserved, a reservation no call will close (its process died): in Redis if it is still open
        there; else (its key expired) in the ledger alone, which lacks its close."""
        if not await self.close(reservation, "settle", None):
            self._writer.add(closing_row(reservation, "settle", 0))

    async def used(self, rows: list[HostedQuota]) -> list[int]:
        async with self._client.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.hget(self.quota_key(row.workspace_id, row.provider), "used")
            counted = await pipe.execute()
        return [row.used if value is None else int(value) for row, value in zip(rows, counted, strict=True)]

    async def _load_from_database(self, workspace_id: str, provider: str) -> None:
        """Start the Redis counter from the quota row, plus what this process has not written yet."""
        quota_key = self.quota_key(workspace_id, provider)
        async with self._writer.paused():  # so a batch is counted once: in the row, or in what is queued
            if await self._client.exists(quota_key):
                return  # a concurrent call loaded it
            async with self._db() as session:
                row = await quota_of(session, workspace_id, provider)
            used = (
                row.used
                + self._writer.queued_delta(workspace_id, provider)
                + await self.journals.pending_delta(quota_key + JOURNAL_SUFFIX)
            )
            await self._load(keys=[quota_key], args=[used, row.quota_limit, row.quota_type, row.unit, QUOTA_TTL_S])
