"""Admission with Redis, shared by every replica: one Lua script per call checks and takes everything at once.

A call's rate buckets (requests and tokens per minute, token buckets refilled continuously), its concurrency slots
(a sorted set of calls in flight, each leased for the longest a call may run, so a crashed replica's slots expire)
and its budget periods (the quota engine's counters: `used` in a hash, the reservation under its own key) are all
checked first and then all taken, or none: one round trip, atomic. Time is Redis's own (TIME), the same for every
replica. The keys of a workspace share one hash tag, so a Redis Cluster keeps them in one slot, as a script needs.

Calls end off the hot path: their slots, token corrections and budget settlements are gathered for up to
FINISH_INTERVAL_S and sent together, one script per workspace in one pipelined round trip (a round trip costs more
than the script; measured, issue 16 §4). Until then a finished call's slot and reservation still count: the limits
err on the safe side, never the other. A budget period Redis does not hold yet (new, or expired while idle) is
loaded from the database, plus what this process has not written yet, as the hosted quota's Redis counter does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.services.governance.plan import (
    Admitted,
    BudgetCheck,
    Plan,
    RateCheck,
    RateReading,
    Refusal,
    SlotCheck,
)
from modelyard.services.quota.budgets import (
    BudgetDemand,
    BudgetHold,
    BudgetRefused,
    closing_row,
    hold_row,
    stored_spend,
)
from modelyard.services.quota.lease import SHARE
from modelyard.services.quota.ledger import LedgerWriter
from modelyard.services.quota.values import LedgerKind
from modelyard.store.cache import RedisCache

log = logging.getLogger(__name__)

PREFIX = "modelyard:gov:"
RESERVATION_TTL_S = 24 * 3600  # a reservation not closed within a day stays spent
BUDGET_TTL_S = 8 * 24 * 3600  # an idle period's counter expires; the database has long caught up by then
RATE_TTL_MS = 120_000  # an idle bucket is full again after a minute; kept a little longer, then forgotten
FINISH_INTERVAL_S = 0.02
_BUDGET, _RATE, _SLOTS = "1", "2", "3"

# ARGV: call id, slot lease (ms), then 5 values per check: kind, and
#   budget (KEYS: counter, reservation): limit, amount or -1 (all that remains), counter ttl (s), reservation ttl (s)
#   rate (KEYS: bucket): capacity, refill per ms, cost, ttl (ms)
#   slots (KEYS: sorted set of calls in flight): limit, -, -, -
# Returns {'ok', granted and used of each budget..., remaining and reset_ms of each rate...},
# {'refused', index of the check, retry_ms or -1, the budget's used, remaining and reset_ms of each rate...}, or
# {'missing', index of the budget}. Integers, exact: Redis hands Lua numbers back as integers.
_ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local checks, state, rates, k = {}, {}, {}, 1
for i = 3, #ARGV, 5 do
  local check = {kind = ARGV[i], a = tonumber(ARGV[i + 1]), b = tonumber(ARGV[i + 2]), c = tonumber(ARGV[i + 3]),
                 d = tonumber(ARGV[i + 4]), key = KEYS[k]}
  if check.kind == '1' then check.rsv = KEYS[k + 1]; k = k + 2 else k = k + 1 end
  checks[#checks + 1] = check
end
for i, check in ipairs(checks) do
  if check.kind == '1' then
    local used = redis.call('HGET', check.key, 'used')
    if not used then return {'missing', i} end
    state[i] = tonumber(used)
  elseif check.kind == '2' then
    local bucket = redis.call('HMGET', check.key, 'tokens', 'at')
    local tokens = check.a
    if bucket[1] then tokens = math.min(check.a, tonumber(bucket[1]) + (now - tonumber(bucket[2])) * check.b) end
    state[i] = tokens
    local reset = 0
    if tokens < check.a then reset = math.ceil((check.a - tokens) / check.b) end
    rates[#rates + 1] = math.max(math.floor(tokens), 0)
    rates[#rates + 1] = reset
  else
    redis.call('ZREMRANGEBYSCORE', check.key, '-inf', now)
    state[i] = redis.call('ZCARD', check.key)
  end
end
for i, check in ipairs(checks) do
  local refused, retry = false, -1
  if check.kind == '1' then
    local need = check.b
    if need < 0 then need = 1 end
    refused = state[i] + need > check.a
  elseif check.kind == '2' then
    if check.c > check.a then refused = true
    elseif state[i] < check.c then refused, retry = true, math.ceil((check.c - state[i]) / check.b) end
  elseif state[i] >= check.a then refused, retry = true, 1000 end
  if refused then
    local used = 0
    if check.kind == '1' then used = state[i] end
    local refusal = {'refused', i, retry, used}
    for _, value in ipairs(rates) do refusal[#refusal + 1] = value end
    return refusal
  end
end
local answer, taken = {'ok'}, {}
for i, check in ipairs(checks) do
  if check.kind == '1' then
    local amount = check.b
    if amount < 0 then amount = check.a - state[i] end
    answer[#answer + 1] = amount
    answer[#answer + 1] = redis.call('HINCRBY', check.key, 'used', amount)
    redis.call('EXPIRE', check.key, check.c)
    redis.call('SET', check.rsv, amount, 'EX', check.d)
  elseif check.kind == '2' then
    local left = state[i] - check.c
    redis.call('HSET', check.key, 'tokens', tostring(left), 'at', now)
    redis.call('PEXPIRE', check.key, check.d)
    local reset = 0
    if left < check.a then reset = math.ceil((check.a - left) / check.b) end
    taken[#taken + 1] = math.max(math.floor(left), 0)
    taken[#taken + 1] = reset
  else
    redis.call('ZADD', check.key, now + tonumber(ARGV[2]), ARGV[1])
    redis.call('PEXPIRE', check.key, ARGV[2])
  end
end
for _, value in ipairs(taken) do answer[#answer + 1] = value end
return answer
"""

# ARGV: 5 values per step of ending calls: kind, call id, and
#   slots (KEYS: sorted set): free the call's slot
#   rate (KEYS: bucket): capacity, refill per ms, tokens to give back (negative: to take)
#   budget (KEYS: counter, reservation): the actual amount, or -1 to release
# Returns the change each budget step made to `used`, or 'closed' for a reservation closed already.
_FINISH = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local deltas, k = {}, 1
for i = 1, #ARGV, 5 do
  local kind, key = ARGV[i], KEYS[k]
  if kind == '3' then
    redis.call('ZREM', key, ARGV[i + 1])
    k = k + 1
  elseif kind == '2' then
    local cap, per_ms, refund = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
    local bucket = redis.call('HMGET', key, 'tokens', 'at')
    local tokens = cap
    if bucket[1] then tokens = math.min(cap, tonumber(bucket[1]) + (now - tonumber(bucket[2])) * per_ms) end
    redis.call('HSET', key, 'tokens', tostring(math.min(cap, tokens + refund)), 'at', now)
    redis.call('PEXPIRE', key, 120000)
    k = k + 1
  else
    local rsv = KEYS[k + 1]
    k = k + 2
    local reserved = redis.call('GET', rsv)
    if reserved then
      redis.call('DEL', rsv)
      local delta = -tonumber(reserved)
      local actual = tonumber(ARGV[i + 2])
      if actual >= 0 then delta = actual - tonumber(reserved) end
      if delta ~= 0 and redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, 'used', delta) end
      deltas[#deltas + 1] = delta
    else
      deltas[#deltas + 1] = 'closed'
    end
  end
end
return deltas
"""

_FINISH_SHA = hashlib.sha1(_FINISH.encode()).hexdigest()

# KEYS: a budget period's hash. ARGV: used, ttl. Sets the counter only if no one did.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'used', ARGV[1])
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 1
"""


# A budget period's lease (`quota.lease.grant`, which this mirrors). KEYS: the period's counter, the lease's
# reservation. ARGV: limit, amount, block, share, counter ttl (s), reservation ttl (s).
# Returns {'ok', granted, used}, {'refused', used} or {'missing'}.
_LEASE = """
local used = redis.call('HGET', KEYS[1], 'used')
if not used then return {'missing'} end
used = tonumber(used)
local amount, block = tonumber(ARGV[2]), tonumber(ARGV[3])
local room = tonumber(ARGV[1]) - used
if room < amount then return {'refused', used} end
amount = math.min(math.max(block, amount), math.max(amount, math.floor(room / tonumber(ARGV[4]))))
used = redis.call('HINCRBY', KEYS[1], 'used', amount)
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[2], amount, 'EX', ARGV[6])
return {'ok', amount, used}
"""


@dataclass
class _Ending:
    """A workspace's ending calls, waiting to be sent in its next finish script."""

    keys: list[str] = field(default_factory=list)
    args: list[str | int | float] = field(default_factory=list)
    holds: list[tuple[BudgetHold, LedgerKind]] = field(default_factory=list)


class RedisAdmission:
    """Rate buckets, concurrency slots and budget periods in Redis, checked and taken in one script call."""

    def __init__(
        self, cache: RedisCache, db: async_sessionmaker[AsyncSession], writer: LedgerWriter, *, lease_ms: int
    ) -> None:
        self._client = cache.client
        self._db = db
        self._writer = writer
        self._lease_ms = lease_ms
        self._admit = cache.script(_ADMIT)
        from redis.exceptions import NoScriptError  # Redis is imported only when configured

        self._no_script = NoScriptError
        self._load = cache.script(_LOAD)
        self._lease = cache.script(_LEASE)
        self._ending: dict[str, _Ending] = defaultdict(_Ending)
        self._flusher: asyncio.Task[None] | None = None
        self._sending: asyncio.Task[None] | None = None

    async def admit(self, plan: Plan) -> Admitted | Refusal:
        keys, args = self._admission(plan)
        for _ in range(3):
            outcome = await self._admit(keys=keys, args=args)
            if outcome[0] == "missing":
                await self._load_budget(plan.budgets[int(outcome[1]) - 1].demand)  # budget checks come first
                continue
            if outcome[0] == "refused":
                return _refusal(plan, outcome)
            values = [int(value) for value in outcome[1:]]
            split = 2 * len(plan.budgets)
            admitted = Admitted(plan, readings=_readings(plan.rates, values[split:]))
            for number, check in enumerate(plan.budgets):
                amount, used = values[2 * number], values[2 * number + 1]
                hold = BudgetHold(
                    plan.workspace_id, check.demand.meter, f"{plan.call_id}.{number}", plan.model, amount, used
                )
                admitted.holds.append(hold)
                self._writer.add(hold_row(hold))
            return admitted
        raise RuntimeError("a budget period vanished from Redis while it was loaded")  # expired in the same second

    async def lease_budget(self, demand: BudgetDemand, block: int, *, reservation_id: str) -> BudgetHold:
        """A lease of the period (at most `block`, at least the demand); BudgetRefused when the demand does not fit."""
        assert demand.amount is not None
        tag = _tag(demand.workspace_id)
        keys = [f"{tag}budget:{demand.meter}", f"{tag}rsv:{reservation_id}"]
        args = [demand.limit, demand.amount, block, SHARE, BUDGET_TTL_S, RESERVATION_TTL_S]
        for _ in range(3):
            outcome = await self._lease(keys=keys, args=args)
            if outcome[0] == "missing":
                await self._load_budget(demand)
                continue
            if outcome[0] == "refused":
                raise BudgetRefused(demand, int(outcome[1]))
            hold = BudgetHold(demand.workspace_id, demand.meter, reservation_id, "*", int(outcome[1]), int(outcome[2]))
            self._writer.add(hold_row(hold))
            return hold
        raise RuntimeError("a budget period vanished from Redis while it was loaded")

    def close_budget_lease(self, hold: BudgetHold, spent: int) -> None:
        """Queue a lease's close at what its calls spent, sent with the next batch of ending calls."""
        ending = self._ending[hold.workspace_id]
        tag = _tag(hold.workspace_id)
        ending.keys += (f"{tag}budget:{hold.meter}", f"{tag}rsv:{hold.reservation_id}")
        ending.args += (_BUDGET, "", spent if spent else -1, 0, 0)
        ending.holds.append((hold, "settle" if spent else "release"))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._send_soon())

    def finish(self, admitted: Admitted, refunds: Sequence[tuple[RateCheck, int]], actual: int | None) -> None:
        """Queue the end of a call: free its slots, correct its token charges, settle each budget hold at `actual`
        (None: release). Sent within FINISH_INTERVAL_S, together with the other calls ending meanwhile."""
        plan = admitted.plan
        tag = _tag(plan.workspace_id)
        ending = self._ending[plan.workspace_id]
        for slot in plan.slots:
            ending.keys.append(_slots_key(tag, slot))
            ending.args += (_SLOTS, plan.call_id, 0, 0, 0)
        for check, refund in refunds:
            if refund:
                ending.keys.append(_rate_key(tag, check))
                ending.args += (_RATE, "", check.capacity, repr(check.per_ms), refund)
        kind: LedgerKind = "release" if actual is None else "settle"
        for hold in admitted.holds:
            if hold.lease is not None:
                continue  # its lease is settled in memory, and closed by itself
            ending.keys += (f"{tag}budget:{hold.meter}", f"{tag}rsv:{hold.reservation_id}")
            ending.args += (_BUDGET, "", -1 if actual is None else actual, 0, 0)
            ending.holds.append((hold, kind))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._send_soon())

    async def flush(self) -> None:
        """Send every queued end of call now (tests; shutdown)."""
        while self._ending or (self._sending is not None and not self._sending.done()):
            if self._sending is not None and not self._sending.done():
                await asyncio.shield(self._sending)
            else:
                await self._send()

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        try:
            await self.flush()
        except Exception:  # logged: the slots free themselves when their lease ends, reservations stay held a day
            log.warning("could not send the end of %d workspaces' calls at shutdown", len(self._ending), exc_info=True)

    async def spend(self, workspace_id: str, meters: Iterable[str]) -> dict[str, int]:
        """The periods' spend as admission sees it: Redis's counter, else the database's row."""
        meters = list(meters)
        if not meters:
            return {}
        tag = _tag(workspace_id)
        async with self._client.pipeline(transaction=False) as pipe:
            for meter in meters:
                pipe.hget(f"{tag}budget:{meter}", "used")
            values = await pipe.execute()
        found = dict(zip(meters, values, strict=True))
        stored = await stored_spend(self._db, workspace_id, [meter for meter, value in found.items() if value is None])
        return {meter: int(value) if value is not None else stored.get(meter, 0) for meter, value in found.items()}

    async def _send_soon(self) -> None:
        delay = FINISH_INTERVAL_S
        while True:
            await asyncio.sleep(delay)
            try:
                await self.flush()
                return
            except Exception:  # kept, in order; tried again, less often while Redis fails
                log.warning("could not send the end of calls to Redis; will retry", exc_info=True)
                delay = min(delay * 2, 5.0)

    async def _send(self) -> None:
        batch, self._ending = self._ending, defaultdict(_Ending)
        self._sending = asyncio.ensure_future(self._send_batch(batch))
        await asyncio.shield(self._sending)

    async def _send_batch(self, batch: dict[str, _Ending]) -> None:
        """One script per workspace (its keys share one hash tag), all in one pipelined round trip."""
        try:
            try:
                results = await self._pipelined(batch)
            except self._no_script:  # Redis restarted or flushed its scripts: load it, and send again
                await self._client.script_load(_FINISH)
                results = await self._pipelined(batch)
        except BaseException:
            for workspace_id, ending in batch.items():  # ahead of what ended since
                later = self._ending.pop(workspace_id, _Ending())
                self._ending[workspace_id] = _Ending(
                    ending.keys + later.keys, ending.args + later.args, ending.holds + later.holds
                )
            raise
        for ending, deltas in zip(batch.values(), results, strict=True):
            for (hold, kind), delta in zip(ending.holds, deltas, strict=True):
                if delta != "closed":  # closed already, here or by another replica
                    self._writer.add(closing_row(hold, kind, int(delta)))

    async def _pipelined(self, batch: dict[str, _Ending]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for ending in batch.values():
                pipe.evalsha(_FINISH_SHA, len(ending.keys), *ending.keys, *ending.args)
            return list(await pipe.execute())

    def _admission(self, plan: Plan) -> tuple[list[str], list[str | int | float]]:
        tag = _tag(plan.workspace_id)
        keys: list[str] = []
        args: list[str | int | float] = [plan.call_id, self._lease_ms]
        for number, budget in enumerate(plan.budgets):
            demand = budget.demand
            keys += (f"{tag}budget:{demand.meter}", f"{tag}rsv:{plan.call_id}.{number}")
            amount = -1 if demand.amount is None else demand.amount
            args += (_BUDGET, demand.limit, amount, BUDGET_TTL_S, RESERVATION_TTL_S)
        for rate in plan.rates:
            keys.append(_rate_key(tag, rate))
            args += (_RATE, rate.capacity, repr(rate.per_ms), rate.cost, RATE_TTL_MS)
        for slot in plan.slots:
            keys.append(_slots_key(tag, slot))
            args += (_SLOTS, slot.limit, 0, 0, 0)
        return keys, args

    async def _load_budget(self, demand: BudgetDemand) -> None:
        """Start Redis's counter of a period from the database's row, plus what this process has not written yet."""
        key = f"{_tag(demand.workspace_id)}budget:{demand.meter}"
        async with self._writer.paused():  # so a batch is counted once: in the row, or in what is queued
            if await self._client.exists(key):
                return  # a concurrent call loaded it
            stored = await stored_spend(self._db, demand.workspace_id, [demand.meter])
            used = stored.get(demand.meter, 0) + self._writer.queued_delta(demand.workspace_id, demand.meter)
            await self._load(keys=[key], args=[used, BUDGET_TTL_S])


def _tag(workspace_id: str) -> str:
    return f"{PREFIX}{{{workspace_id}}}:"


def _rate_key(tag: str, check: RateCheck) -> str:
    return f"{tag}{check.level}:{check.scope}:{check.kind}"


def _slots_key(tag: str, check: SlotCheck) -> str:
    return f"{tag}{check.level}:{check.scope}:slots"


def _refusal(plan: Plan, outcome: list[Any]) -> Refusal:
    checks: list[BudgetCheck | RateCheck | SlotCheck] = [*plan.budgets, *plan.rates, *plan.slots]
    at, retry_ms, used, *rates = (int(value) for value in outcome[1:])
    return Refusal(
        checks[at - 1], None if retry_ms < 0 else retry_ms, used=used, readings=tuple(_readings(plan.rates, rates))
    )


def _readings(rates: Sequence[RateCheck], values: Sequence[int]) -> list[RateReading]:
    """Each rate's (remaining, reset_ms) pair, from the script's flat list."""
    return [RateReading(check, values[2 * n], values[2 * n + 1]) for n, check in enumerate(rates)]
