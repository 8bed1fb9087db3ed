"""The configuration change feed: how a replica learns which workspaces other replicas changed, in O(changes).

Every configuration write appends `(seq, workspace_id, version)` to `config_changes` in its own transaction. Each
replica remembers the last sequence number it has read and asks only for the rows after it: one indexed range
scan, however many workspaces the replica holds. Rows older than FEED_RETENTION_S are pruned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from modelyard.store.tables import ConfigChange, UTCDateTime, Workspace, utcnow

FEED_RETENTION_S = 3600.0
PRUNE_INTERVAL_S = 600.0
# Sequence numbers are taken at insert, not at commit: a row may appear after a higher one. A missing number is
# waited for this long before it counts as a rolled-back transaction, which leaves a gap that never fills.
GAP_TIMEOUT_S = 60.0
_LONGEST_GAP = 1000  # a longer run of missing numbers is a jump of the sequence, not transactions in flight
_BATCH = 5000


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    workspace_id: str
    version: int | None  # the workspace's config_version after the write; None: the workspace was deleted


async def record_change(session: AsyncSession, *, workspace_id: str, deleted: bool = False) -> None:
    """Append the write to the feed; call in its transaction, after the version bump (the row carries it)."""
    now = literal(utcnow(), UTCDateTime())
    if deleted:
        await session.execute(insert(ConfigChange).values(workspace_id=workspace_id, version=None, created_at=now))
        return
    current = select(Workspace.id, Workspace.config_version, now).where(Workspace.id == workspace_id)
    await session.execute(
        insert(ConfigChange).from_select(["workspace_id", "version", "created_at"], current)  # one round trip
    )


class ChangeFeed:
    """One replica's reading position in the feed.

    Reads restart just below the oldest missing number until it appears or GAP_TIMEOUT_S passes, so a transaction
    that commits after a higher-numbered one is still seen; a change read twice is harmless (see `Change.version`).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._after: int | None = None  # every row at or below it has been read, or given up on
        self._gaps: dict[int, float] = {}  # missing numbers above `_after` -> when to give up waiting
        self._last_read = 0.0
        self._last_prune = 0.0

    @property
    def started(self) -> bool:
        return self._after is not None

    async def start(self, session: AsyncSession) -> None:
        """Start reading at the feed's end, less a margin: transactions in flight may hold numbers below it."""
        top = await session.scalar(select(func.max(ConfigChange.seq))) or 0
        self._after = max(0, top - _LONGEST_GAP)
        self._last_read = self._clock()

    async def read(self, session: AsyncSession) -> list[Change] | None:
        """The changes since the last read; None when the feed may have been pruned past this replica's position
        (it could not read for most of FEED_RETENTION_S), so every cached workspace must be dropped."""
        if self._after is None:
            await self.start(session)
            return []
        assert self._after is not None
        lost = self._clock() - self._last_read > FEED_RETENTION_S / 2
        changes: list[Change] = []
        cursor = self._after
        while True:
            rows = (
                await session.execute(
                    select(ConfigChange.seq, ConfigChange.workspace_id, ConfigChange.version)
                    .where(ConfigChange.seq > cursor)
                    .order_by(ConfigChange.seq)
                    .limit(_BATCH)
                )
            ).all()
            changes.extend(Change(seq, workspace_id, version) for seq, workspace_id, version in rows)
            if len(rows) < _BATCH:
                break
            cursor = rows[-1][0]
        self._advance([change.seq for change in changes])
        self._last_read = self._clock()
        return None if lost else changes

    @property
    def prune_due(self) -> bool:
        return self._clock() - self._last_prune >= PRUNE_INTERVAL_S

    async def prune(self, session: AsyncSession) -> int:
        """Delete the rows past retention (every replica does, every PRUNE_INTERVAL_S); returns how many went."""
        self._last_prune = self._clock()
        cutoff = utcnow() - timedelta(seconds=FEED_RETENTION_S)
        result = await session.execute(delete(ConfigChange).where(ConfigChange.created_at < cutoff))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _advance(self, seqs: list[int]) -> None:
        assert self._after is not None
        now = self._clock()
        expected = self._after + 1
        for seq in seqs:
            if expected < seq <= expected + _LONGEST_GAP:
                for missing in range(expected, seq):
                    self._gaps.setdefault(missing, now + GAP_TIMEOUT_S)
            self._gaps.pop(seq, None)
            expected = seq + 1
        waiting = [missing for missing, deadline in self._gaps.items() if deadline > now]
        self._after = min(waiting) - 1 if waiting else max(self._after, expected - 1)
        self._gaps = {missing: deadline for missing, deadline in self._gaps.items() if missing > self._after}
