"""A workspace's own limits (rates, concurrency, budget): stored as JSON, read from memory on the hot path."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from modelyard.errors import NotFoundError
from modelyard.services.governance.policy import NO_LIMITS, Limits, limits_from_json, parse_limits, to_json
from modelyard.services.lru import LRU
from modelyard.store.cache import Cache
from modelyard.store.tables import Workspace, WorkspacePolicy

log = logging.getLogger(__name__)
CHANGED_CHANNEL = "workspace-policy-changed"  # message: the workspace id


class WorkspacePolicies:
    """Each workspace's limits, cached per process for `CACHE_TTL_S` and dropped on every replica when they change
    (the cache's broadcast; the TTL bounds staleness should a broadcast be lost)."""

    CACHE_TTL_S = 60.0

    def __init__(self, db: async_sessionmaker[AsyncSession], cache: Cache, *, capacity: int) -> None:
        self._db = db
        self._cache = cache
        self._clock: Callable[[], float] = time.monotonic
        self._known: LRU[str, tuple[Limits, float]] = LRU(capacity)
        self._reads: dict[str, asyncio.Future[Limits]] = {}
        self._changes = 0  # a read that started before a change is not cached

    async def start(self) -> None:
        self._cache.subscribe(self._on_broadcast)

    async def get(self, workspace_id: str) -> Limits:
        known = self._known.get(workspace_id)
        if known is not None and known[1] > self._clock():
            return known[0]
        read = self._reads.get(workspace_id)
        if read is None:  # one database read however many calls ask at the same moment
            read = self._reads[workspace_id] = asyncio.ensure_future(self._read(workspace_id))
            read.add_done_callback(lambda _: self._reads.pop(workspace_id, None))
        return await asyncio.shield(read)

    async def update(self, workspace_id: str, changes: Mapping[str, object]) -> Limits:
        """Change the fields `changes` names (None clears one); limits that set nothing remove the row."""
        async with self._db.begin() as session:
            if await session.get(Workspace, workspace_id) is None:
                raise NotFoundError(f"workspace {workspace_id!r} does not exist")
            row = await session.get(WorkspacePolicy, workspace_id)
            limits = parse_limits(changes, base=limits_from_json(row.policy if row else None))
            stored = to_json(limits)
            if stored is None:
                if row is not None:
                    await session.delete(row)
            elif row is None:
                session.add(WorkspacePolicy(workspace_id=workspace_id, policy=stored))
            else:
                row.policy = stored
        self._forget(workspace_id)
        try:
            await self._cache.publish(CHANGED_CHANNEL, workspace_id)
        except Exception:  # stored; other replicas read it again when their copy's TTL ends
            log.warning("could not broadcast the new limits of workspace %s", workspace_id, exc_info=True)
        return limits

    async def _read(self, workspace_id: str) -> Limits:
        changes = self._changes
        async with self._db() as session:
            stored = await session.scalar(
                select(WorkspacePolicy.policy).where(WorkspacePolicy.workspace_id == workspace_id)
            )
        limits = limits_from_json(stored) if stored else NO_LIMITS
        if changes == self._changes:
            self._known[workspace_id] = (limits, self._clock() + self.CACHE_TTL_S)
        return limits

    def _forget(self, workspace_id: str) -> None:
        self._changes += 1
        self._known.pop(workspace_id)

    async def _on_broadcast(self, channel: str, message: str) -> None:
        if channel == CHANGED_CHANNEL:
            self._forget(message)
