"""Shared state between replicas: Redis when configured, else this process's memory.

Holds what replicas must agree on and the hot path reads often: configuration versions (to notice another
replica's write), load-balancer cool-downs, login rate limits. Redis pub/sub carries invalidations.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from modelyard.store.scripts import LuaScript

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import PubSub


Listener = Callable[[str, str], Awaitable[None]]  # (channel, message)


class Cache:
    """Key-value with expiry, counters, and broadcast; the in-process version is the default."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float | None]] = {}
        self._listeners: list[Listener] = []

    @property
    def is_shared(self) -> bool:
        return False

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def get(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and expires <= time.monotonic():
            del self._values[key]
            return None
        return value

    async def set(self, key: str, value: str, *, ttl_s: float | None = None) -> None:
        self._values[key] = (value, time.monotonic() + ttl_s if ttl_s else None)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def incr(self, key: str, *, ttl_s: float | None = None) -> int:
        current = int(await self.get(key) or 0) + 1
        existing = self._values.get(key)
        expires = existing[1] if existing and existing[1] else (time.monotonic() + ttl_s if ttl_s else None)
        self._values[key] = (str(current), expires)
        return current

    async def publish(self, channel: str, message: str) -> None:
        for listener in list(self._listeners):
            await listener(channel, message)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)


class RedisCache(Cache):
    """The same interface over Redis, for several replicas; broadcasts reach every replica's listeners."""

    CHANNEL_PREFIX = "modelyard:"

    def __init__(self, url: str) -> None:
        super().__init__()
        import redis.asyncio as redis  # here: a single process without Redis never loads the client (≈ 10 MB)

        # A blocking pool: redis-py's default pool raises on the 101st command in flight instead of waiting.
        pool = redis.BlockingConnectionPool.from_url(url, decode_responses=True, max_connections=100, timeout=30)
        self.client: Redis = redis.Redis.from_pool(pool)
        self._pubsub_task: asyncio.Task[None] | None = None

    @property
    def is_shared(self) -> bool:
        return True

    async def start(self) -> None:
        await self.client.ping()
        pubsub = self.client.pubsub()
        await pubsub.psubscribe(f"{self.CHANNEL_PREFIX}*")
        self._pubsub_task = asyncio.create_task(self._listen(pubsub), name="modelyard-redis-pubsub")

    async def close(self) -> None:
        if self._pubsub_task is not None:
            self._pubsub_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pubsub_task
        await self.client.aclose()

    async def _listen(self, pubsub: PubSub) -> None:
        try:
            async for item in pubsub.listen():
                if item.get("type") != "pmessage":
                    continue
                channel = str(item["channel"]).removeprefix(self.CHANNEL_PREFIX)
                for listener in list(self._listeners):
                    await listener(channel, str(item["data"]))
        finally:
            await pubsub.aclose()

    async def get(self, key: str) -> str | None:
        value = await self.client.get(key)
        return None if value is None else str(value)

    async def set(self, key: str, value: str, *, ttl_s: float | None = None) -> None:
        await self.client.set(key, value, px=int(ttl_s * 1000) if ttl_s else None)

    async def delete(self, key: str) -> None:
        await self.client.delete(key)

    async def incr(self, key: str, *, ttl_s: float | None = None) -> int:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            if ttl_s:
                pipe.pexpire(key, int(ttl_s * 1000), nx=True)
            count, *_ = await pipe.execute()
        return int(count)

    async def publish(self, channel: str, message: str) -> None:
        await self.client.publish(f"{self.CHANNEL_PREFIX}{channel}", message)

    def script(self, source: str) -> LuaScript:
        """A Lua script to run on this Redis; its keys must share one hash tag (one Redis Cluster slot)."""
        return LuaScript(self.client, source)


def cache_for(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else Cache()
