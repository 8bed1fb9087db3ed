"""Stored /v1/responses answers (services/responses.py) on SQLite and PostgreSQL: readable at once, written in
batches, scoped to their workspace, pruned once expired; with Redis, shared across replicas at once."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from modelyard.services import responses as responses_module
from modelyard.services.responses import ResponseStore
from modelyard.store.cache import RedisCache
from modelyard.store.tables import StoredResponse, utcnow
from tests.support import eventually, redis_url, require_redis


def record_of(store: ResponseStore, workspace: str, response_id: str | None = None):
    response_id = response_id or f"resp_{secrets.token_hex(8)}"
    return store.record(
        response_id=response_id,
        workspace_id=workspace,
        model="deepseek/deepseek-flash",
        response=b'{"id": "%s"}' % response_id.encode(),
        conversation=b'[{"role": "user", "content": "Hi"}]',
    )


async def rows(services) -> int:
    async with services.engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(StoredResponse)))


async def test_a_saved_response_is_readable_at_once_and_written_in_the_background(services, workspace) -> None:
    store = services.responses
    record = record_of(store, workspace)
    await store.save(record)
    assert await store.get(workspace_id=workspace, response_id=record.id) == record  # before any write
    await eventually(lambda: rows(services), "the background writer to write the response")
    fresh = ResponseStore(services.engine, services.cache)  # another process: only the database knows it
    read = await fresh.get(workspace_id=workspace, response_id=record.id)
    assert read is not None
    assert (read.response, read.conversation, read.model) == (record.response, record.conversation, record.model)
    assert read.expires_at - read.created_at == timedelta(seconds=responses_module.RETENTION_S)


async def test_another_workspace_never_sees_or_deletes_it(services, workspace) -> None:
    store = services.responses
    other = (await services.workspaces.create("Other")).id
    record = record_of(store, workspace)
    await store.save(record)
    assert await store.get(workspace_id=other, response_id=record.id) is None
    assert not await store.delete(workspace_id=other, response_id=record.id)
    assert await store.flush()
    assert await store.get(workspace_id=other, response_id=record.id) is None
    assert not await store.delete(workspace_id=other, response_id=record.id)
    assert await store.get(workspace_id=workspace, response_id=record.id) is not None


async def test_deleting_before_the_write_means_it_is_never_written(services, workspace) -> None:
    store = services.responses
    record = record_of(store, workspace)
    await store.save(record)
    assert await store.delete(workspace_id=workspace, response_id=record.id)
    assert await store.flush()
    assert await rows(services) == 0
    assert await store.get(workspace_id=workspace, response_id=record.id) is None


async def test_expired_responses_are_not_read_and_are_pruned_in_batches(services, workspace, monkeypatch) -> None:
    monkeypatch.setattr(responses_module, "PRUNE_BATCH", 2)
    store = services.responses
    kept = record_of(store, workspace)
    expired = [record_of(store, workspace) for _ in range(5)]
    for record in (kept, *expired):
        await store.save(record)
    assert await store.flush()
    async with services.engine.begin() as connection:
        await connection.execute(
            update(StoredResponse)
            .where(StoredResponse.id.in_([r.id for r in expired]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await store.get(workspace_id=workspace, response_id=expired[0].id) is None
    assert await store.prune() == 5
    assert await rows(services) == 1
    assert await store.get(workspace_id=workspace, response_id=kept.id) is not None


async def test_a_deleted_workspace_takes_its_responses_with_it(services, workspace) -> None:
    store = services.responses
    await store.save(record_of(store, workspace))
    assert await store.flush()
    await services.workspaces.delete(workspace)
    assert await rows(services) == 0


async def test_a_response_of_a_workspace_deleted_before_the_write_is_dropped_alone(services, workspace) -> None:
    store = services.responses
    doomed = (await services.workspaces.create("Doomed")).id
    await store.save(record_of(store, doomed))
    await store.save(record_of(store, workspace))
    await services.workspaces.delete(doomed)
    assert await store.flush()
    assert await rows(services) == 1


async def test_with_redis_another_replica_continues_and_deletes_at_once(services, workspace) -> None:
    require_redis()
    first, second = RedisCache(redis_url()), RedisCache(redis_url())
    await first.start()
    await second.start()
    try:
        replica_a = ResponseStore(services.engine, first)
        replica_b = ResponseStore(services.engine, second)
        record = record_of(replica_a, workspace)
        await replica_a.save(record)
        seen = await replica_b.get(workspace_id=workspace, response_id=record.id)  # not written yet
        assert seen is not None and seen.conversation == record.conversation
        assert await replica_b.delete(workspace_id=workspace, response_id=record.id)
        assert await replica_a.get(workspace_id=workspace, response_id=record.id) is None
        assert await replica_a.flush()  # the deletion reached replica A before its write did
        assert await rows(services) == 0
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_what_is_left_unwritten_is_written_at_shutdown(services, workspace) -> None:
    store = ResponseStore(services.engine, services.cache, interval_s=3600)
    await store.start()
    await store.save(record_of(store, workspace))
    await store.close()
    assert await rows(services) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_unwritten_responses_are_bounded_in_memory_oldest_dropped_first(services, workspace, monkeypatch) -> None:
    store = ResponseStore(services.engine, services.cache, interval_s=3600)  # never writes on its own
    saved = [record_of(store, workspace) for _ in range(5)]
    size = len(saved[0].response) + len(saved[0].conversation)  # the same for each
    monkeypatch.setattr(responses_module, "MAX_PENDING_BYTES", 3 * size)  # room for three
    for record in saved:
        await store.save(record)
    assert await store.get(workspace_id=workspace, response_id=saved[0].id) is None
    assert await store.get(workspace_id=workspace, response_id=saved[-1].id) is not None
    assert await store.flush()
    assert await rows(services) == 3
