"""Hosted quota: reserve -> invoke -> settle or release, atomic under concurrency, with a ledger of every step.

Which counter decides a reservation:

* without Redis, the database: one conditional UPDATE of the quota row (`used + n <= limit`) and the ledger row,
  in one transaction. SQLite has a single writer and PostgreSQL re-checks the condition under the row lock, so
  concurrent callers can never spend past the limit. This is the only database write a gateway call waits for.
* with Redis (shared by replicas), a counter in Redis, changed by Lua scripts; the database receives the ledger
  rows and their `used` changes in batches from a background task, so the hot path writes nothing to it.

Settlements and releases are always batched. In the database `used` always equals the sum of the ledger's
amounts: a batch changes both in one transaction. Without Redis, quota given back by a release is spendable
again after the next flush (at most FLUSH_INTERVAL_S later).

A token quota reserves 1 and settles the real usage after the call, so it can overshoot its limit by the
usage of the calls in flight when it ran out: one call's usage when calls come one at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import orjson
from sqlalchemy import BigInteger, CursorResult, String, Table, bindparam, exists, insert, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import HostedQuotaExceededError, InvalidRequestError, ModelNotFoundError, NotFoundError
from modelyard.services.hosted import HostedProvider, QuotaUnit
from modelyard.store.cache import RedisCache
from modelyard.store.tables import HostedQuota, QuotaLedgerEntry, Workspace, new_id, utcnow

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from modelyard.services.context import Services

LedgerKind = Literal["reserve", "settle", "release"]

FLUSH_INTERVAL_S = 1.0
BATCH_SIZE = 500  # ledger rows per transaction; a full buffer flushes at once
MAX_PENDING = 200_000  # with the database down this long, newer rows are dropped (and logged) to bound memory
RESERVATION_TTL_S = 24 * 3600  # Redis: a reservation not closed within a day stays spent
IDEMPOTENCY_TTL_S = 24 * 3600  # Redis: how long a repeated Idempotency-Key is recognised
QUOTA_TTL_S = 7 * 24 * 3600  # Redis: an idle counter expires; the database has long caught up by then

_quota = cast(Table, HostedQuota.__table__)
_ledger = cast(Table, QuotaLedgerEntry.__table__)
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    provider: str
    quota_type: str  # trial | paid | free
    unit: str  # times | tokens | credits
    limit: int  # -1: unlimited
    used: int  # includes open reservations
    remaining: int | None  # None: unlimited
    is_exhausted: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    """Quota set aside for one call; close it with `settle` or `release`."""

    id: str
    workspace_id: str
    provider: str
    model: str
    unit: QuotaUnit
    amount: int  # for tokens, a placeholder of 1 until settled with the real usage
    idempotency_key: str | None = None
    # An earlier call's reservation, returned for a repeated Idempotency-Key: nothing was spent, and it is that
    # call's to close, so settle and release ignore it.
    is_replay: bool = False


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    reservation_id: str
    provider: str
    model: str
    kind: LedgerKind
    amount: int  # the signed change to `used`
    idempotency_key: str | None
    created_at: datetime


class QuotaService:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._writer = _LedgerWriter(services.db)
        cache = services.cache
        self._counter: _SqlCounter | _RedisCounter = (
            _RedisCounter(cache.client, services.db, self._writer)
            if isinstance(cache, RedisCache)
            else _SqlCounter(services.db, self._writer, dialect=services.engine.dialect.name)
        )

    async def start(self) -> None:
        await self._grant_missing()
        self._writer.start()

    async def close(self) -> None:
        await self._writer.close()  # writes what is queued

    async def flush(self) -> None:
        """Write queued ledger rows now, instead of at the next tick."""
        await self._writer.flush()

    async def grant_trial(self, session: AsyncSession, *, workspace_id: str) -> None:
        """Give a new workspace its quota on every hosted provider, in the transaction that creates it."""
        session.add_all(_quota_row(workspace_id, hosted) for hosted in self._services.hosted.providers.values())

    async def status(self, *, workspace_id: str) -> list[QuotaStatus]:
        """The workspace's quota on each hosted provider, in config order, as a reservation would see it."""
        async with self._services.db() as session:
            rows = {
                row.provider: row
                for row in (await session.scalars(select(HostedQuota).where(HostedQuota.workspace_id == workspace_id)))
            }
        listed = [rows[provider] for provider in self._services.hosted.providers if provider in rows]
        used = await self._counter.used(listed)
        return [_status(row, spent) for row, spent in zip(listed, used, strict=True)]

    async def reserve(
        self,
        *,
        workspace_id: str,
        provider: str,
        model: str,
        amount: int | None = None,
        idempotency_key: str | None = None,
    ) -> Reservation:
        """Set quota aside for one call, or raise HostedQuotaExceededError.

        `amount` defaults to the unit's cost of a call: 1 for times, the model's credits for credits, and 1 for
        tokens (the real usage is settled after the call). A repeated `idempotency_key` returns the first
        reservation, marked `is_replay`, and spends nothing.
        """
        hosted = self._services.hosted.get(provider)
        if hosted is None:
            raise NotFoundError(f"{provider!r} is not a hosted provider")
        if not hosted.allows(model):
            raise ModelNotFoundError(f"the hosted {provider} provider does not offer {model!r}")
        if amount is None:
            amount = _cost_of_a_call(hosted, model)
        elif amount < 1:
            raise InvalidRequestError("a reservation is at least 1", field="amount")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 255:
            raise InvalidRequestError("an idempotency key is 1 to 255 characters", field="idempotency_key")
        reservation = Reservation(
            id=new_id("rsv"),
            workspace_id=workspace_id,
            provider=provider,
            model=model,
            unit=hosted.unit,
            amount=amount,
            idempotency_key=idempotency_key,
        )
        return await self._counter.reserve(reservation)

    async def settle(self, reservation: Reservation, *, actual: int | None = None) -> None:
        """Close a reservation as spent; for a token quota, `actual` (the call's tokens) replaces the placeholder.

        Other units ignore `actual`: a call costs what was reserved. Closing twice, or settling after a release,
        changes nothing.
        """
        if actual is not None and actual < 0:
            raise InvalidRequestError("the actual amount cannot be negative", field="actual")
        if not reservation.is_replay:
            await self._counter.close(reservation, "settle", actual if reservation.unit == "tokens" else None)

    async def release(self, reservation: Reservation) -> None:
        """Close a reservation unspent (the call failed): its amount is given back."""
        if not reservation.is_replay:
            await self._counter.close(reservation, "release", None)

    async def ledger(self, *, workspace_id: str, provider: str | None = None) -> list[LedgerEntry]:
        """Every written reserve, settle and release row, oldest first (`flush()` first to include queued ones)."""
        query = select(QuotaLedgerEntry).where(QuotaLedgerEntry.workspace_id == workspace_id)
        if provider is not None:
            query = query.where(QuotaLedgerEntry.provider == provider)
        async with self._services.db() as session:
            rows = (await session.scalars(query.order_by(QuotaLedgerEntry.id))).all()
        return [
            LedgerEntry(
                row.id,
                row.reservation_id,
                row.provider,
                row.model,
                cast(LedgerKind, row.kind),
                row.amount,
                row.idempotency_key,
                row.created_at,
            )
            for row in rows
        ]

    async def _grant_missing(self) -> None:
        """Grant every existing workspace its quota on hosted providers it lacks (the config gained one)."""
        if not self._services.hosted.providers:
            return
        for attempt in range(2):
            try:
                async with self._services.db.begin() as session:
                    for hosted in self._services.hosted.providers.values():
                        await session.execute(_grant_to_all_lacking(hosted))
                return
            except IntegrityError:  # another replica granted the same rows first; the retry skips them
                if attempt:
                    raise


class _SqlCounter:
    """The database is the counter: the reservation is written at once, the rest in batches."""

    def __init__(self, db: async_sessionmaker[AsyncSession], writer: _LedgerWriter, *, dialect: str) -> None:
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
                row = await _quota_of(session, reservation.workspace_id, reservation.provider)
            if row.quota_limit >= 0 and row.used + reservation.amount > row.quota_limit:
                raise _exhausted(row.provider, row.quota_type, row.quota_limit, row.unit)
        raise _exhausted(row.provider, row.quota_type, row.quota_limit, row.unit)

    async def _spend(self, reservation: Reservation) -> bool:
        """The conditional UPDATE and the ledger row, in one transaction; False when there is no room."""
        has_room = or_(_quota.c.quota_limit < 0, _quota.c.used + reservation.amount <= _quota.c.quota_limit)
        spend = (
            update(_quota)
            .where(_quota.c.workspace_id == reservation.workspace_id, _quota.c.provider == reservation.provider)
            .where(has_room)
            .values(used=_quota.c.used + reservation.amount)
        )
        row = _reserve_row(reservation).values()
        async with self._db.begin() as session:
            if self._one_statement:
                # PostgreSQL: `WITH spent AS (UPDATE ... RETURNING) INSERT ... SELECT FROM spent`. The row lock is
                # held until COMMIT, so one round trip less under it is more reservations per second.
                spent = spend.returning(_quota.c.workspace_id).cte("spent")
                columns = [name for name in row if name != "workspace_id"]
                record = insert(_ledger).from_select(
                    ["workspace_id", *columns],
                    select(spent.c.workspace_id, *(literal(row[name], _ledger.c[name].type) for name in columns)),
                )
                result = cast(CursorResult[Any], await session.execute(record))
                return result.rowcount == 1
            # SQLite takes the write lock at this UPDATE, before reading `used`: the check and the spend are one.
            result = cast(CursorResult[Any], await session.execute(spend))
            if result.rowcount != 1:
                return False
            await session.execute(insert(_ledger).values(row))
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

    async def close(self, reservation: Reservation, kind: LedgerKind, actual: int | None) -> None:
        # Queued, not written: the batch keeps the first closing row of a reservation and drops the others.
        self._writer.add(_closing_row(reservation, kind, _closing_delta(kind, reservation.amount, actual)))

    async def used(self, rows: list[HostedQuota]) -> list[int]:
        return [row.used for row in rows]


# KEYS: quota hash, idempotency key, reservation key.
# ARGV: amount, replay record, has idempotency key (1|0), reservation ttl, idempotency ttl, quota ttl.
_RESERVE = """
if ARGV[3] == '1' then
  local first = redis.call('GET', KEYS[2])
  if first then return {'replay', first} end
end
local quota = redis.call('HMGET', KEYS[1], 'used', 'limit', 'type', 'unit')
if not quota[1] then return {'missing'} end
local amount, limit = tonumber(ARGV[1]), tonumber(quota[2])
if limit >= 0 and tonumber(quota[1]) + amount > limit then return {'exhausted', quota[3], quota[2], quota[4]} end
redis.call('HINCRBY', KEYS[1], 'used', amount)
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[4])
if ARGV[3] == '1' then redis.call('SET', KEYS[2], ARGV[2], 'NX', 'EX', ARGV[5]) end
return {'ok'}
"""

# KEYS: quota hash, reservation key. ARGV: 'release', or the actual amount ('' = as reserved).
# Returns the change to `used`, or nil when the reservation was closed already.
_CLOSE = """
local reserved = redis.call('GET', KEYS[2])
if not reserved then return nil end
redis.call('DEL', KEYS[2])
reserved = tonumber(reserved)
local delta = 0
if ARGV[1] == 'release' then delta = -reserved elseif ARGV[1] ~= '' then delta = tonumber(ARGV[1]) - reserved end
if delta ~= 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'used', delta) end
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


class _RedisCounter:
    """Redis is the counter, shared by replicas; the database learns of every step from the batch writer."""

    PREFIX = "modelyard:quota:"

    def __init__(self, client: Redis, db: async_sessionmaker[AsyncSession], writer: _LedgerWriter) -> None:
        self._client = client
        self._db = db
        self._writer = writer
        self._reserve = _Script(client, _RESERVE)
        self._close = _Script(client, _CLOSE)
        self._load = _Script(client, _LOAD)

    def quota_key(self, workspace_id: str, provider: str) -> str:
        # The hash tag keeps a quota's keys in one Redis Cluster slot, as a script's keys must be.
        return f"{self.PREFIX}{{{workspace_id}:{provider}}}"

    async def reserve(self, reservation: Reservation) -> Reservation:
        quota_key = self.quota_key(reservation.workspace_id, reservation.provider)
        record = orjson.dumps({"id": reservation.id, "model": reservation.model, "amount": reservation.amount})
        keyed = reservation.idempotency_key is not None
        for _ in range(2):
            outcome = await self._reserve(
                keys=[
                    quota_key,
                    f"{quota_key}:idem:{reservation.idempotency_key or ''}",
                    f"{quota_key}:rsv:{reservation.id}",
                ],
                args=[reservation.amount, record, int(keyed), RESERVATION_TTL_S, IDEMPOTENCY_TTL_S, QUOTA_TTL_S],
            )
            match outcome:
                case ["ok"]:
                    self._writer.add(_reserve_row(reservation))
                    return reservation
                case ["replay", first]:
                    earlier = orjson.loads(first)
                    return replace(
                        reservation, id=earlier["id"], model=earlier["model"], amount=earlier["amount"], is_replay=True
                    )
                case ["exhausted", quota_type, limit, unit]:
                    raise _exhausted(reservation.provider, quota_type, int(limit), unit)
                case _:
                    await self._load_from_database(reservation.workspace_id, reservation.provider)
        raise NotFoundError(f"no hosted {reservation.provider} quota for workspace {reservation.workspace_id!r}")

    async def close(self, reservation: Reservation, kind: LedgerKind, actual: int | None) -> None:
        quota_key = self.quota_key(reservation.workspace_id, reservation.provider)
        argument = "release" if kind == "release" else ("" if actual is None else str(actual))
        delta = await self._close(keys=[quota_key, f"{quota_key}:rsv:{reservation.id}"], args=[argument])
        if delta is not None:  # None: closed already, here or by another replica
            self._writer.add(_closing_row(reservation, kind, int(delta)))

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
                row = await _quota_of(session, workspace_id, provider)
            used = row.used + self._writer.queued_delta(workspace_id, provider)
            await self._load(keys=[quota_key], args=[used, row.quota_limit, row.quota_type, row.unit, QUOTA_TTL_S])


class _Script:
    """A Lua script run by its SHA, loaded again if the server forgot it.

    redis-py's own Script object checks `isinstance(client, Pipeline)` on every call, and Pipeline's typing-protocol
    metaclass made that check 7% of the hosted route's CPU (py-spy, `make bench BENCH_ARGS=--profile`).
    """

    def __init__(self, client: Redis, source: str) -> None:
        from redis.exceptions import NoScriptError  # Redis is imported only when configured

        self._client = client
        self._source = source
        self._sha = hashlib.sha1(source.encode()).hexdigest()
        self._missing = NoScriptError

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
        except self._missing:
            self._sha = await self._client.script_load(self._source)
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)


@dataclass(frozen=True, slots=True)
class _Row:
    """A ledger row waiting for the batch writer."""

    workspace_id: str
    provider: str
    reservation_id: str
    model: str
    kind: LedgerKind
    step: int  # 0: reserve; 1: settle or release
    amount: int
    idempotency_key: str | None
    created_at: datetime

    def values(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every field, 2% of the hosted route's CPU for flat rows.
        return {name: getattr(self, name) for name in self.__slots__}


class _LedgerWriter:
    """Writes queued ledger rows, and the `used` change they add up to, in batches off the hot path."""

    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self._queued: list[_Row] = []
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="modelyard-quota-ledger")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.flush()
        except Exception:  # logged, not raised: the rest of shutdown (the engine, Redis) must still close
            _log.exception("lost %d quota ledger rows at shutdown: the database refused them", len(self._queued))

    def add(self, row: _Row) -> None:
        if len(self._queued) >= MAX_PENDING:
            self._dropped += 1
            if self._dropped % 1000 == 1:
                _log.error("quota ledger queue is full (database unreachable?): %d rows dropped", self._dropped)
            return
        self._queued.append(row)
        if len(self._queued) >= BATCH_SIZE:
            self._wake.set()

    def queued_delta(self, workspace_id: str, provider: str) -> int:
        return sum(row.amount for row in self._queued if (row.workspace_id, row.provider) == (workspace_id, provider))

    @contextlib.asynccontextmanager
    async def paused(self) -> AsyncIterator[None]:
        async with self._lock:
            yield

    async def flush(self) -> None:
        async with self._lock:
            while self._queued:
                batch, self._queued = self._queued[:BATCH_SIZE], self._queued[BATCH_SIZE:]
                try:
                    await self._write(batch)
                except BaseException:
                    self._queued = batch + self._queued  # kept, in order, for the next try
                    raise

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                await self.flush()
            except Exception:
                _log.exception("writing %d quota ledger rows failed; retrying", len(self._queued))

    async def _write(self, batch: list[_Row]) -> None:
        """One transaction: the rows the database does not hold yet, and `used` moved by their sum.

        Rows are checked against what is stored, so a batch sent twice, a reservation closed twice, or a
        workspace deleted meanwhile cannot unbalance the ledger; the constraints back the checks up.
        """
        workspaces = {row.workspace_id for row in batch}
        reservation_ids = {row.reservation_id for row in batch}
        keys = {row.idempotency_key for row in batch if row.idempotency_key is not None}
        async with self._db.begin() as session:
            quota_rows = await session.execute(
                select(_quota.c.workspace_id, _quota.c.provider).where(_quota.c.workspace_id.in_(workspaces))
            )
            quotas = {(workspace_id, provider) for workspace_id, provider in quota_rows}
            step_rows = await session.execute(
                select(_ledger.c.reservation_id, _ledger.c.step).where(_ledger.c.reservation_id.in_(reservation_ids))
            )
            steps = {(reservation_id, step) for reservation_id, step in step_rows}
            taken_keys: set[tuple[str, str, str | None]] = set()
            if keys:
                key_rows = await session.execute(
                    select(_ledger.c.workspace_id, _ledger.c.provider, _ledger.c.idempotency_key).where(
                        _ledger.c.workspace_id.in_(workspaces), _ledger.c.idempotency_key.in_(keys)
                    )
                )
                taken_keys = {(workspace_id, provider, key) for workspace_id, provider, key in key_rows}
            accepted = _new_rows(batch, quotas, steps, taken_keys)
            if len(accepted) < len(batch):
                _log.info(
                    "skipped %d quota ledger rows already written or of deleted workspaces", len(batch) - len(accepted)
                )
            if not accepted:
                return
            await session.execute(insert(_ledger), [row.values() for row in accepted])
            deltas: Counter[tuple[str, str]] = Counter()
            for row in accepted:
                deltas[(row.workspace_id, row.provider)] += row.amount
            moves = [
                {"b_workspace": workspace_id, "b_provider": provider, "b_delta": delta}
                for (workspace_id, provider), delta in sorted(deltas.items())  # one lock order: no deadlocks
                if delta
            ]
            if moves:
                await session.execute(
                    update(_quota)
                    .where(
                        _quota.c.workspace_id == bindparam("b_workspace"), _quota.c.provider == bindparam("b_provider")
                    )
                    .values(used=_quota.c.used + bindparam("b_delta")),
                    moves,
                )


def _new_rows(
    batch: Iterable[_Row],
    quotas: set[tuple[str, str]],
    steps: set[tuple[str, int]],
    taken_keys: set[tuple[str, str, str | None]],
) -> list[_Row]:
    opened = {reservation_id for reservation_id, step in steps if step == 0}
    closed = {reservation_id for reservation_id, step in steps if step == 1}
    accepted: list[_Row] = []
    for row in batch:
        if (row.workspace_id, row.provider) not in quotas:
            continue  # the workspace was deleted, and its quota with it
        if row.step == 0:
            if row.reservation_id in opened:
                continue  # written by an earlier try of this batch
            opened.add(row.reservation_id)
            key = (row.workspace_id, row.provider, row.idempotency_key)
            if row.idempotency_key is not None and key in taken_keys:
                # Redis forgot the key (IDEMPOTENCY_TTL_S) and spent again; the spend stands, the key stays first's.
                row = replace(row, idempotency_key=None)
            taken_keys.add(key)
        else:
            if row.reservation_id not in opened or row.reservation_id in closed:
                continue  # closed twice, or not a reservation of this workspace: the first close wins
            closed.add(row.reservation_id)
        accepted.append(row)
    return accepted


def _cost_of_a_call(hosted: HostedProvider, model: str) -> int:
    if hosted.unit == "credits":
        return hosted.credits.get(model, 1)
    return 1  # times: one call; tokens: a placeholder, settled with the real usage


def _closing_delta(kind: LedgerKind, reserved: int, actual: int | None) -> int:
    if kind == "release":
        return -reserved
    return 0 if actual is None else actual - reserved


def _reserve_row(reservation: Reservation) -> _Row:
    return _Row(
        reservation.workspace_id,
        reservation.provider,
        reservation.id,
        reservation.model,
        "reserve",
        0,
        reservation.amount,
        reservation.idempotency_key,
        utcnow(),
    )


def _closing_row(reservation: Reservation, kind: LedgerKind, delta: int) -> _Row:
    return _Row(
        reservation.workspace_id,
        reservation.provider,
        reservation.id,
        reservation.model,
        kind,
        1,
        delta,
        None,
        utcnow(),
    )


def _quota_row(workspace_id: str, hosted: HostedProvider) -> HostedQuota:
    return HostedQuota(
        workspace_id=workspace_id,
        provider=hosted.provider,
        quota_type=hosted.quota_type,
        unit=hosted.unit,
        quota_limit=hosted.limit,
        used=0,
    )


def _grant_to_all_lacking(hosted: HostedProvider) -> Any:
    lacking = select(
        Workspace.id,
        literal(hosted.provider, String),
        literal(hosted.quota_type, String),
        literal(hosted.unit, String),
        literal(hosted.limit, BigInteger),
        literal(0, BigInteger),
    ).where(~exists().where(HostedQuota.workspace_id == Workspace.id, HostedQuota.provider == hosted.provider))
    return insert(_quota).from_select(
        ["workspace_id", "provider", "quota_type", "unit", "quota_limit", "used"], lacking
    )


async def _quota_of(session: AsyncSession, workspace_id: str, provider: str) -> HostedQuota:
    row = await session.scalar(
        select(HostedQuota).where(HostedQuota.workspace_id == workspace_id, HostedQuota.provider == provider)
    )
    if row is None:  # another workspace's quota, or none at all, reads the same
        raise NotFoundError(f"no hosted {provider} quota for workspace {workspace_id!r}")
    return row


def _status(row: HostedQuota, used: int) -> QuotaStatus:
    unlimited = row.quota_limit < 0
    return QuotaStatus(
        provider=row.provider,
        quota_type=row.quota_type,
        unit=row.unit,
        limit=row.quota_limit,
        used=used,
        remaining=None if unlimited else max(row.quota_limit - used, 0),
        is_exhausted=not unlimited and used >= row.quota_limit,
    )


def _exhausted(provider: str, quota_type: str, limit: int, unit: str) -> HostedQuotaExceededError:
    return HostedQuotaExceededError(f"hosted provider {provider}: the {quota_type} quota of {limit} {unit} is used up")
