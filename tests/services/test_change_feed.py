from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select

from modelyard.services import change_feed
from modelyard.services.change_feed import ChangeFeed
from modelyard.services.context import Services
from modelyard.store.tables import ConfigChange, utcnow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def add(services: Services, seq: int, workspace_id: str = "ws_a", *, age_s: float = 0.0) -> None:
    """A feed row with a chosen number: what a transaction that took `seq` looks like once it commits."""
    created_at = utcnow() - timedelta(seconds=age_s)
    async with services.db.begin() as session:
        await session.execute(
            insert(ConfigChange).values(seq=seq, workspace_id=workspace_id, version=seq, created_at=created_at)
        )


async def read(services: Services, feed: ChangeFeed) -> list[int] | None:
    async with services.db() as session:
        changes = await feed.read(session)
    return None if changes is None else [change.seq for change in changes]


async def started_feed(services: Services, clock: Clock) -> ChangeFeed:
    feed = ChangeFeed(clock)
    async with services.db() as session:
        await feed.start(session)
    await read(services, feed)  # past whatever the fixtures wrote
    return feed


async def test_a_write_records_its_workspace_and_new_version(services: Services, workspace: str) -> None:
    feed = await started_feed(services, Clock())
    await services.providers.set_preferred_type(workspace_id=workspace, provider="deepseek", preferred_type="system")
    async with services.db() as session:
        changes = await feed.read(session)
        version = await services.workspaces.version(session, workspace_id=workspace)
    assert changes is not None
    assert [(c.workspace_id, c.version) for c in changes] == [(workspace, version)]


async def test_a_transaction_that_commits_after_a_higher_number_is_still_read(services: Services) -> None:
    clock = Clock()
    feed = await started_feed(services, clock)
    async with services.db() as session:
        top = await session.scalar(select(func.max(ConfigChange.seq))) or 0
    await add(services, top + 1)
    await add(services, top + 3)  # top + 2 is still in flight
    assert await read(services, feed) == [top + 1, top + 3]

    await add(services, top + 2)
    assert top + 2 in (await read(services, feed) or [])  # read again from below the gap: a repeat is harmless
    await add(services, top + 4)
    assert await read(services, feed) == [top + 4]  # the gap filled: reading resumes after the highest


async def test_a_number_that_never_commits_is_given_up_after_the_gap_timeout(services: Services) -> None:
    clock = Clock()
    feed = await started_feed(services, clock)
    async with services.db() as session:
        top = await session.scalar(select(func.max(ConfigChange.seq))) or 0
    await add(services, top + 2)  # top + 1 rolled back
    assert await read(services, feed) == [top + 2]
    assert await read(services, feed) == [top + 2]  # still waiting for top + 1

    clock.now += change_feed.GAP_TIMEOUT_S + 1
    assert await read(services, feed) == [top + 2]  # the last read from below the gap
    assert await read(services, feed) == []


async def test_rows_past_retention_are_pruned(services: Services) -> None:
    feed = await started_feed(services, Clock())
    await add(services, 900_001, age_s=change_feed.FEED_RETENTION_S + 60)
    await add(services, 900_002, age_s=60)
    async with services.db.begin() as session:
        assert await feed.prune(session) >= 1
    async with services.db() as session:
        kept = set((await session.scalars(select(ConfigChange.seq))).all())
    assert 900_002 in kept and 900_001 not in kept


async def test_a_replica_that_could_not_read_for_too_long_is_told_to_drop_everything(services: Services) -> None:
    clock = Clock()
    feed = await started_feed(services, clock)
    clock.now += change_feed.FEED_RETENTION_S
    assert await read(services, feed) is None
    assert await read(services, feed) == []  # caught up again
