"""Cool-downs of alias targets: how long a model rests for a workspace after it failed there.

Read through on every decision, never from a copy: LiteLLM's cool-downs were read through a stale cache (its issue
#40130), so a replica kept calling a model another had seen fail. With Redis, one script call reads every target of
an alias (one round trip, on Redis's clock, shared by every replica); without Redis, this process's memory.

A cool-down only grows: a later failure that asks for a shorter rest never ends one early. On Redis a script sets
max(remaining, new) atomically; in memory the same rule holds under the event loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modelyard.services.lru import LRU
from modelyard.store.cache import Cache, RedisCache

KEY_PREFIX = "modelyard:cool:"
_LOCAL_CAPACITY = 100_000  # targets resting at once in one process; the oldest are forgotten past it

# KEYS: one per target. Returns, per key, its remaining milliseconds (0 when not cooling) and its reason.
_READ = """
local out = {}
for i, key in ipairs(KEYS) do
  local left = redis.call('PTTL', key)
  if left > 0 then
    out[#out + 1] = left
    out[#out + 1] = redis.call('GET', key) or ''
  else
    out[#out + 1] = 0
    out[#out + 1] = ''
  end
end
return out
"""

# KEYS[1]: the target's key; ARGV: milliseconds to rest, reason. Returns the rest now in force, in milliseconds.
_COOL = """
local ms = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left >= ms then
  return left
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ms)
return ms
"""


@dataclass(frozen=True, slots=True)
class Rest:
    """A target's cool-down as read now: seconds left (0: not cooling) and why it rests."""

    remaining_s: float
    reason: str

    @property
    def is_cooling(self) -> bool:
        return self.remaining_s > 0


NOT_COOLING = Rest(0.0, "")


class Cooldowns:
    """Where cool-downs live: Redis when configured, else this process (`cooldowns_for` picks)."""

    async def read(self, workspace_id: str, targets: Sequence[str]) -> list[Rest]:
        """Each target's rest, in the order given; read from the store itself, never from a copy."""
        raise NotImplementedError

    async def cool(self, workspace_id: str, target: str, seconds: float, reason: str) -> float:
        """Rest the target at least `seconds` from now; returns the seconds now in force (a longer rest stays)."""
        raise NotImplementedError


class LocalCooldowns(Cooldowns):
    """One process's cool-downs, for a deployment without Redis."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # injectable so tests move time instead of sleeping
        self._rests: LRU[tuple[str, str], tuple[float, str]] = LRU(_LOCAL_CAPACITY)  # -> (until, reason)

    async def read(self, workspace_id: str, targets: Sequence[str]) -> list[Rest]:
        now = self._clock()
        rests = []
        for target in targets:
            held = self._rests.peek((workspace_id, target))
            if held is None or held[0] <= now:
                rests.append(NOT_COOLING)
            else:
                rests.append(Rest(held[0] - now, held[1]))
        return rests

    async def cool(self, workspace_id: str, target: str, seconds: float, reason: str) -> float:
        now = self._clock()
        key = (workspace_id, target)
        held = self._rests.peek(key)
        if held is not None and held[0] >= now + seconds:
            return held[0] - now
        self._rests[key] = (now + seconds, reason)
        return seconds


class RedisCooldowns(Cooldowns):
    """Cool-downs as Redis keys with a TTL, one per workspace and target; every replica reads the same ones."""

    def __init__(self, cache: RedisCache, *, key_prefix: str = KEY_PREFIX) -> None:
        self._prefix = key_prefix
        self._read = cache.script(_READ)
        self._cool = cache.script(_COOL)

    def key(self, workspace_id: str, target: str) -> str:
        # The hash tag keeps a workspace's keys in one Redis Cluster slot, as one script's keys must be.
        return f"{self._prefix}{{{workspace_id}}}:{target}"

    async def read(self, workspace_id: str, targets: Sequence[str]) -> list[Rest]:
        if not targets:
            return []
        replies = await self._read(keys=[self.key(workspace_id, target) for target in targets], args=[])
        return [
            Rest(int(ms) / 1000, str(reason)) if int(ms) > 0 else NOT_COOLING
            for ms, reason in zip(replies[::2], replies[1::2], strict=True)
        ]

    async def cool(self, workspace_id: str, target: str, seconds: float, reason: str) -> float:
        ms = max(1, math.ceil(seconds * 1000))
        return int(await self._cool(keys=[self.key(workspace_id, target)], args=[ms, reason])) / 1000


def cooldowns_for(cache: Cache) -> Cooldowns:
    return RedisCooldowns(cache) if isinstance(cache, RedisCache) else LocalCooldowns()
