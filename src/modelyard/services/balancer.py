"""Weighted round-robin over a model's credential pool, with cool-downs shared between replicas."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from modelyard.errors import (
    ProviderQuotaExhaustedError,
    UpstreamAuthError,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from modelyard.store.cache import Cache, RedisCache
from modelyard.types.value import Value

log = logging.getLogger(__name__)

CHANNEL = "lb"
KEY_PREFIX = "modelyard:lb:"
RATE_LIMIT_COOLDOWN_S = 60.0  # a 429 without Retry-After
MAX_COOLDOWN_S = 600.0
MIN_COOLDOWN_S = 1.0  # "Retry-After: 0" must not let every queued request hit the same key again at once
SHORT_COOLDOWN_S = 10.0  # connection errors, timeouts, 5xx

Status = Literal["available", "cooling", "disabled"]


class PoolEntry(Value, frozen=True):
    """One member of a pool as the invoker sees it: a credential id and its weight."""

    id: str
    weight: int


@dataclass(frozen=True, slots=True)
class EntryState:
    id: str
    weight: int
    status: Status
    cooldown_remaining_s: float  # 0 unless cooling
    reason: str | None


@dataclass(frozen=True, slots=True)
class _Cooldown:
    until: float  # on this process's monotonic clock
    reason: str
    transient: bool  # after a connection error or 5xx: a success on the entry ends it early


class _Rotation:
    """A pool's round-robin state; it starts afresh when the pool's entries or weights change, as nginx's does."""

    __slots__ = ("current", "weights")

    def __init__(self, entries: Sequence[PoolEntry]) -> None:
        self.weights = {entry.id: entry.weight for entry in entries}
        self.current = dict.fromkeys(self.weights, 0)

    def fits(self, entries: Sequence[PoolEntry]) -> bool:
        weights = self.weights
        if len(entries) != len(weights):
            return False
        # A plain loop: all() over a generator costs twice as much, and this runs on every call.
        for entry in entries:  # noqa: SIM110
            if weights.get(entry.id) != entry.weight:
                return False
        return True


@dataclass(frozen=True, slots=True)
class _Rest:
    """What a failure does to an entry: cool down for `seconds`, or (None) stay disabled until enabled."""

    seconds: float | None
    reason: str
    transient: bool = False


class LoadBalancer:
    """Picks credentials from a model's pool: smooth weighted round-robin over the entries not resting.

    `choose` reads only this process's memory. With a shared (Redis) cache, cool-downs and disables are also written
    to Redis (cool-downs as keys with a TTL) and broadcast on the `lb` channel, so every replica skips the same
    entries; a replica that starts later loads them from Redis.
    """

    def __init__(
        self, cache: Cache, *, clock: Callable[[], float] = time.monotonic, key_prefix: str = KEY_PREFIX
    ) -> None:
        self._cache = cache
        self._clock = clock  # injectable so tests move time instead of sleeping
        self._prefix = key_prefix
        self._rotations: dict[str, _Rotation] = {}
        self._cooling: dict[str, dict[str, _Cooldown]] = {}  # pool -> entry -> cool-down
        self._disabled: dict[str, str] = {}  # entry -> reason; credentials refused, so in every pool
        self._origin = secrets.token_hex(8)  # tells this replica's broadcasts from the others'
        self._outbox: asyncio.Queue[tuple[dict[str, object], asyncio.Future[None] | None] | None] | None = None
        self._writer: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if not isinstance(self._cache, RedisCache) or self._writer is not None:
            return
        self._cache.subscribe(self._on_message)  # before loading, so nothing published meanwhile is missed
        self._outbox = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_outbox(), name="modelyard-balancer-writer")
        await self._load(self._cache)

    async def close(self) -> None:
        """Finish writing reported state to Redis."""
        if self._writer is not None and self._outbox is not None:
            await self._outbox.put(None)
            await self._writer
            self._writer = self._outbox = None

    def choose(self, pool_key: str, entries: Sequence[PoolEntry]) -> list[PoolEntry]:
        """The entries to try, in order: this turn's weighted pick, then the other available ones; [] if none."""
        rotation = self._rotations.get(pool_key)
        if rotation is None or not rotation.fits(entries):
            rotation = self._rotations[pool_key] = _Rotation(entries)
        current = rotation.current
        cooling = self._cooling.get(pool_key)
        now = self._clock() if cooling else 0.0
        disabled = self._disabled
        available: list[PoolEntry] = []
        total = 0
        best: PoolEntry | None = None
        best_weight = 0
        # nginx's smooth weighted round-robin: each turn every candidate gains its weight, the richest is picked
        # and pays the total back; picks are spread evenly and each cycle matches the weights exactly.
        for entry in entries:
            if entry.weight <= 0 or entry.id in disabled or (cooling and _is_cooling(cooling, entry.id, now)):
                continue
            weight = current[entry.id] + entry.weight
            current[entry.id] = weight
            total += entry.weight
            available.append(entry)
            if best is None or weight > best_weight:
                best, best_weight = entry, weight
        if best is None:
            return []
        current[best.id] = best_weight - total
        return [best, *(entry for entry in available if entry is not best)]

    async def report_success(self, pool_key: str, entry_id: str) -> None:
        """A call on the entry worked: a cool-down from a connection error or 5xx ends."""
        cooling = self._cooling.get(pool_key)
        rest = cooling.get(entry_id) if cooling else None
        if cooling and rest is not None and rest.transient:
            del cooling[entry_id]
            self._share({"op": "clear", "pool": pool_key, "entry": entry_id})

    async def report_failure(self, pool_key: str, entry_id: str, error: BaseException) -> None:
        """Rest the entry as the error calls for; errors about the request itself (bad request ...) change nothing.

        Only memory is touched before this returns: sharing through Redis happens in the background, so a slow
        Redis never delays the fail-over to the next entry.
        """
        rest = _rest_after(error)
        if rest is None:
            return
        if rest.seconds is None:
            if self._disabled.get(entry_id) != rest.reason:
                self._disabled[entry_id] = rest.reason
                log.warning("load-balancing entry %s taken out until re-validated: %s", entry_id, rest.reason)
                self._share({"op": "disable", "entry": entry_id, "reason": rest.reason})
            return
        if self._cool(pool_key, entry_id, rest.seconds, rest.reason, rest.transient):
            self._share(
                {
                    "op": "cool",
                    "pool": pool_key,
                    "entry": entry_id,
                    "seconds": rest.seconds,
                    "reason": rest.reason,
                    "transient": rest.transient,
                }
            )

    async def enable(self, entry_id: str) -> None:
        """Put a disabled entry back in every pool, after its credentials were validated again."""
        self._disabled.pop(entry_id, None)
        if self._outbox is not None:
            done = asyncio.get_running_loop().create_future()
            await self._outbox.put(({"op": "enable", "entry": entry_id}, done))
            await done

    def state(self, pool_key: str, entries: Sequence[PoolEntry]) -> list[EntryState]:
        now = self._clock()
        cooling = self._cooling.get(pool_key, {})
        states = []
        for entry in entries:
            rest = cooling.get(entry.id)
            if entry.weight <= 0:
                states.append(EntryState(entry.id, entry.weight, "disabled", 0.0, "weight is 0"))
            elif entry.id in self._disabled:
                states.append(EntryState(entry.id, entry.weight, "disabled", 0.0, self._disabled[entry.id]))
            elif rest is not None and rest.until > now:
                states.append(EntryState(entry.id, entry.weight, "cooling", rest.until - now, rest.reason))
            else:
                states.append(EntryState(entry.id, entry.weight, "available", 0.0, None))
        return states

    def _cool(self, pool_key: str, entry_id: str, seconds: float, reason: str, transient: bool) -> bool:
        """Start or extend a cool-down; False when the entry already rests at least that long."""
        until = self._clock() + seconds
        cooling = self._cooling.setdefault(pool_key, {})
        existing = cooling.get(entry_id)
        if existing is not None and existing.until >= until:
            return False
        cooling[entry_id] = _Cooldown(until, reason, transient)
        return True

    # --- sharing through Redis ------------------------------------------------------------------------------------

    def _share(self, message: dict[str, object]) -> None:
        if self._outbox is not None:
            self._outbox.put_nowait((message, None))

    async def _write_outbox(self) -> None:
        """Write reports to Redis one at a time, in the order they were made (a disable, then its enable)."""
        assert self._outbox is not None
        while (item := await self._outbox.get()) is not None:
            message, done = item
            try:
                await self._write(message)
            except Exception as exc:
                log.warning("could not share load-balancer state through Redis (%s)", type(exc).__name__)
            finally:
                if done is not None and not done.done():  # its caller may have been cancelled
                    done.set_result(None)

    async def _write(self, message: dict[str, object]) -> None:
        op, entry = message["op"], str(message["entry"])
        if op == "cool":
            stored = {key: message[key] for key in ("pool", "entry", "reason", "transient")}
            ttl = float(message["seconds"])  # type: ignore[arg-type]
            await self._cache.set(self._cooling_key(str(message["pool"]), entry), json.dumps(stored), ttl_s=ttl)
        elif op == "clear":
            await self._cache.delete(self._cooling_key(str(message["pool"]), entry))
        elif op == "disable":
            await self._cache.set(self._disabled_key(entry), json.dumps({"entry": entry, "reason": message["reason"]}))
        elif op == "enable":
            await self._cache.delete(self._disabled_key(entry))
        await self._cache.publish(CHANNEL, json.dumps({**message, "origin": self._origin}))

    async def _on_message(self, channel: str, message: str) -> None:
        if channel != CHANNEL:
            return
        try:
            data = json.loads(message)
            if data.get("origin") != self._origin:
                self._apply(data)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # Raising here would stop the cache's listener for every subscriber.
            log.warning("ignored a malformed load-balancer message (%s)", type(exc).__name__)

    def _apply(self, data: dict[str, object]) -> None:
        op, entry = data["op"], str(data["entry"])
        if op == "cool":
            seconds = float(data["seconds"])  # type: ignore[arg-type]
            self._cool(str(data["pool"]), entry, seconds, str(data["reason"]), bool(data["transient"]))
        elif op == "clear":
            self._cooling.get(str(data["pool"]), {}).pop(entry, None)
        elif op == "disable":
            self._disabled[entry] = str(data["reason"])
        elif op == "enable":
            self._disabled.pop(entry, None)

    async def _load(self, cache: RedisCache) -> None:
        """Learn the cool-downs and disables other replicas reported before this one started."""
        match = re.sub(r"([*?\[\]\\])", r"\\\1", self._prefix) + "*"
        keys = [key async for key in cache.client.scan_iter(match=match, count=1000)]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            async with cache.client.pipeline(transaction=False) as pipe:
                for key in chunk:
                    pipe.get(key)
                    pipe.pttl(key)
                replies = await pipe.execute()
            for key, value, ttl_ms in zip(chunk, replies[::2], replies[1::2], strict=True):
                if value is None:
                    continue  # expired since the scan
                try:
                    data = json.loads(value)
                    if key.startswith(self._prefix + "cool:") and ttl_ms > 0:
                        self._cool(data["pool"], data["entry"], ttl_ms / 1000, data["reason"], data["transient"])
                    elif key.startswith(self._prefix + "off:"):
                        self._disabled[data["entry"]] = data["reason"]
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("ignored an unreadable load-balancer key in Redis (%s)", type(exc).__name__)

    def _cooling_key(self, pool_key: str, entry_id: str) -> str:
        return f"{self._prefix}cool:{entry_id}:{pool_key}"  # the value carries both; the key is never parsed

    def _disabled_key(self, entry_id: str) -> str:
        return f"{self._prefix}off:{entry_id}"


def _is_cooling(cooling: dict[str, _Cooldown], entry_id: str, now: float) -> bool:
    rest = cooling.get(entry_id)
    if rest is None:
        return False
    if rest.until > now:
        return True
    del cooling[entry_id]
    return False


def _rest_after(error: BaseException) -> _Rest | None:
    """How an upstream failure affects the entry that met it; None when the request, not the entry, was at fault."""
    name = type(error).__name__  # never the message: vendors echo parts of the key in them
    if isinstance(error, UpstreamAuthError):
        return _Rest(None, f"{name}: the provider refused the credentials")
    if isinstance(error, UpstreamRateLimitError):
        retry_after = error.retry_after_s
        if retry_after is None or not math.isfinite(retry_after) or retry_after < 0:
            return _Rest(RATE_LIMIT_COOLDOWN_S, f"{name}: rate limited")
        seconds = min(max(retry_after, MIN_COOLDOWN_S), MAX_COOLDOWN_S)
        return _Rest(seconds, f"{name}: rate limited, retry after {retry_after:g} s")
    if isinstance(error, ProviderQuotaExhaustedError):
        # The key's credits ran out: no use retrying it soon, but a top-up needs no re-validation.
        return _Rest(MAX_COOLDOWN_S, f"{name}: the provider account's quota is used up")
    if isinstance(error, UpstreamConnectionError | UpstreamTimeoutError | UpstreamUnavailableError):
        return _Rest(SHORT_COOLDOWN_S, name, transient=True)
    return None
