"""Sign-in throttling: exponential backoff per (client, account), under much higher ceilings per account and per
client. Counted in Redis when configured, so every replica agrees; else in this process's memory.

Keyed by the pair, an attacker's wrong guesses slow down that attacker only: the owner, signing in from another
client, is not held up until the account's own ceiling (`ACCOUNT`) is reached, which only a guessing campaign
spread over many clients reaches. Every attempt is counted before the password is checked, so a burst of parallel
guesses cannot slip in before the first failure lands; a successful sign-in clears its pair and gives its count
back to the account and the client.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address, ip_network

from modelyard.console.errors import ApiError
from modelyard.store.cache import Cache, RedisCache
from modelyard.store.scripts import LuaScript

_PREFIX = "console:{sign-in}:"  # one hash tag: a script's keys must share a Redis Cluster slot


@dataclass(frozen=True, slots=True)
class Backoff:
    """`free` attempts without waiting; then the n-th waits base_s · 2^(n − free − 1) after the one before, at most
    cap_s. The count is forgotten after `forget_s` without an attempt."""

    free: int
    base_s: float
    cap_s: float
    forget_s: float

    def wait_s(self, attempts: int) -> float:
        """How long after the last of `attempts` attempts the next one may come."""
        if attempts < self.free:
            return 0.0
        return min(self.cap_s, math.ldexp(self.base_s, min(attempts - self.free, 32)))  # base_s · 2^k


PAIR = Backoff(free=5, base_s=1.0, cap_s=900.0, forget_s=86_400.0)  # one client guessing one account's password
ACCOUNT = Backoff(free=100, base_s=1.0, cap_s=300.0, forget_s=3_600.0)  # guesses at one account from anywhere
CLIENT = Backoff(free=100, base_s=1.0, cap_s=300.0, forget_s=3_600.0)  # one client trying many accounts


class SignInLimiter:
    """Throttles sign-in attempts; `attempt()` wraps the password check."""

    def __init__(
        self,
        cache: Cache,
        *,
        pair: Backoff = PAIR,
        account: Backoff = ACCOUNT,
        client: Backoff = CLIENT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.pair, self.account, self.client = pair, account, client
        self.clock = clock  # wall-clock: replicas compare the times each of them wrote
        self._counts: _Counts = _RedisCounts(cache) if isinstance(cache, RedisCache) else _LocalCounts()

    @contextlib.asynccontextmanager
    async def attempt(self, *, client: str, email: str | None = None) -> AsyncIterator[None]:
        """Count one attempt, or refuse it with ApiError 429 and Retry-After while a backoff runs.

        Leaving the block normally means the sign-in succeeded: its pair is cleared. An exception (a wrong
        password, a wrong setup token) leaves the attempt counted.
        """
        client_key = _client_key(client)
        counted = [(f"{_PREFIX}client:{client_key}", self.client)]
        pair_key = None
        if email:  # hashed: the shared cache need not hold email addresses
            account_key = _digest(email.strip().lower())
            pair_key = f"{_PREFIX}pair:{_digest(f'{client_key} {account_key}')}"
            counted += [(f"{_PREFIX}account:{account_key}", self.account), (pair_key, self.pair)]
        wait_s = await self._counts.admit(counted, self.clock())
        if wait_s > 0:
            retry_after_s = max(1, math.ceil(wait_s))
            raise ApiError(
                429,
                f"too many sign-in attempts; try again in {retry_after_s} s",
                type="rate_limited",
                code="rate_limited",
                headers={"Retry-After": str(retry_after_s)},
            )
        yield
        await self._counts.succeeded(pair_key, [key for key, _ in counted if key != pair_key])


def _client_key(client: str) -> str:
    # An IPv6 host usually holds a whole /64: counting its addresses apart would hand it 2^64 fresh starts.
    try:
        address = ip_address(client)
    except ValueError:
        return client[:64]
    if isinstance(address, IPv6Address) and address.ipv4_mapped is None:
        return str(ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, IPv6Address) else address)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class _Counts:
    async def admit(self, counted: Sequence[tuple[str, Backoff]], now: float) -> float:
        """0 after counting one attempt on every key; else the seconds to wait, and nothing is counted."""
        raise NotImplementedError

    async def succeeded(self, pair_key: str | None, given_back: Sequence[str]) -> None:
        """Clear the pair and give one attempt back to each other key."""
        raise NotImplementedError


class _LocalCounts(_Counts):
    """In this process: (attempts, last attempt, forget at) per key, least recently tried evicted past MAX_KEYS."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float, float]] = {}

    async def admit(self, counted: Sequence[tuple[str, Backoff]], now: float) -> float:
        # No await between reading and writing: on one event loop this is atomic, as the Redis script is.
        entries = [self._live(key, now) for key, _ in counted]
        wait_s = max(last + backoff.wait_s(n) - now for (n, last), (_, backoff) in zip(entries, counted, strict=True))
        if wait_s > 0:
            return wait_s
        for (n, _), (key, backoff) in zip(entries, counted, strict=True):
            self._entries.pop(key, None)  # re-inserted at the end: the dict's order is least recently tried first
            self._entries[key] = (n + 1, now, now + backoff.forget_s)
        while len(self._entries) > self.MAX_KEYS:
            del self._entries[next(iter(self._entries))]
        return 0.0

    async def succeeded(self, pair_key: str | None, given_back: Sequence[str]) -> None:
        if pair_key is not None:
            self._entries.pop(pair_key, None)
        for key in given_back:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries[key] = (max(0, entry[0] - 1), *entry[1:])

    def _live(self, key: str, now: float) -> tuple[int, float]:
        entry = self._entries.get(key)
        if entry is None or entry[2] <= now:
            return 0, now
        return entry[0], entry[1]


# KEYS: the counted keys. ARGV: now, then free, base_s, cap_s, forget_s for each key in turn.
_ADMIT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local at = 1 + (i - 1) * 4
  local free, base, cap = tonumber(ARGV[at + 1]), tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  local state = redis.call('HMGET', key, 'n', 'last')
  local n = tonumber(state[1]) or 0
  if n >= free then
    local ready = tonumber(state[2]) + math.min(cap, base * 2 ^ math.min(n - free, 32))
    if ready - now > wait then wait = ready - now end
  end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'last', ARGV[1])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[1 + (i - 1) * 4 + 4]) * 1000))
end
return '0'
"""
# KEYS[1]: the pair to clear (or a key that does not exist); KEYS[2..]: keys given one attempt back.
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('HINCRBY', KEYS[i], 'n', -1) < 0 then
    redis.call('HSET', KEYS[i], 'n', 0)
  end
end
return 0
"""


class _RedisCounts(_Counts):
    """The same counts in Redis hashes (`n`, `last`), read and written by one script per sign-in."""

    def __init__(self, cache: RedisCache) -> None:
        self._admit: LuaScript = cache.script(_ADMIT)
        self._succeeded: LuaScript = cache.script(_SUCCEEDED)

    async def admit(self, counted: Sequence[tuple[str, Backoff]], now: float) -> float:
        args: list[float] = [now]
        for _, backoff in counted:
            args += [backoff.free, backoff.base_s, backoff.cap_s, backoff.forget_s]
        return float(await self._admit(keys=[key for key, _ in counted], args=args))

    async def succeeded(self, pair_key: str | None, given_back: Sequence[str]) -> None:
        await self._succeeded(keys=[pair_key or f"{_PREFIX}none", *given_back], args=[])
