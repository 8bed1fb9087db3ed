"""Each workspace's opt-in to the response cache: how long its answers are kept (0: off), read from memory."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import InvalidRequestError, NotFoundError
from modelyard.services.lru import LRU
from modelyard.store.cache import Cache
from modelyard.store.tables import ResponseCacheSetting, Workspace

log = logging.getLogger(__name__)
CHANGED_CHANNEL = "response-cache-changed"  # message: the workspace id
MAX_TTL_S = 30 * 24 * 3600  # a month: an answer older than that is stale for any use we know


def parse_ttl(value: object, field: str) -> int:
    """Seconds from 0 (off) to MAX_TTL_S, from JSON, a CLI option or a header; else a 400 naming `field`."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TTL_S:
        raise InvalidRequestError(f"{field} must be a whole number of seconds from 0 to {MAX_TTL_S}", field=field)
    return value


class CacheSettings:
    """Each workspace's cache TTL, cached per process for `CACHE_TTL_S` and dropped on every replica when it changes
    (the cache's broadcast; the TTL bounds staleness should a broadcast be lost)."""

    CACHE_TTL_S = 60.0

    def __init__(self, db: async_sessionmaker[AsyncSession], cache: Cache, *, capacity: int) -> None:
        self._db = db
        self._cache = cache
        self._clock: Callable[[], float] = time.monotonic
        self._known: LRU[str, tuple[int, float]] = LRU(capacity)
        self._reads: dict[str, asyncio.Future[int]] = {}
        self._changes = 0  # a read that started before a change is not cached
        cache.subscribe(self._on_broadcast)

    async def ttl_s(self, workspace_id: str) -> int:
        """The workspace's TTL in seconds; 0 when it has not opted in."""
        known = self._known.get(workspace_id)
        if known is not None and known[1] > self._clock():
            return known[0]
        read = self._reads.get(workspace_id)
        if read is None:  # one database read however many calls ask at the same moment
            read = self._reads[workspace_id] = asyncio.ensure_future(self._read(workspace_id))
            read.add_done_callback(lambda _: self._reads.pop(workspace_id, None))
        return await asyncio.shield(read)

    async def set(self, workspace_id: str, ttl_s: object) -> int:
        """Opt the workspace in for `ttl_s` seconds, or out with 0; every replica sees it at once."""
        ttl = parse_ttl(ttl_s, "ttl_s")
        async with self._db.begin() as session:
            if await session.get(Workspace, workspace_id) is None:
                raise NotFoundError(f"workspace {workspace_id!r} does not exist")
            row = await session.get(ResponseCacheSetting, workspace_id)
            if ttl == 0:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(ResponseCacheSetting(workspace_id=workspace_id, ttl_s=ttl))
            else:
                row.ttl_s = ttl
        self._forget(workspace_id)
        try:
            await self._cache.publish(CHANGED_CHANNEL, workspace_id)
        except Exception:  # stored; other replicas read it again when their copy's TTL ends
            log.warning("could not broadcast the response cache setting of workspace %s", workspace_id, exc_info=True)
        return ttl

    async def _read(self, workspace_id: str) -> int:
        changes = self._changes
        async with self._db() as session:
            stored = await session.scalar(
                select(ResponseCacheSetting.ttl_s).where(ResponseCacheSetting.workspace_id == workspace_id)
            )
        ttl = int(stored or 0)
        if changes == self._changes:
            self._known[workspace_id] = (ttl, self._clock() + self.CACHE_TTL_S)
        return ttl

    def _forget(self, workspace_id: str) -> None:
        self._changes += 1
        self._known.pop(workspace_id)

    async def _on_broadcast(self, channel: str, message: str) -> None:
        if channel == CHANGED_CHANNEL:
            self._forget(message)
