"""Idempotency-Key records on SQLite, PostgreSQL and Redis: claims, leases, kept answers, expiry and pruning."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from modelyard.services.context import Services
from modelyard.services.idempotency import (
    Claim,
    IdempotencyConflictError,
    IdempotencyKeyReusedError,
    IdempotencyService,
    KeyScope,
    StoredAnswer,
)
from modelyard.services.idempotency.redis_records import RedisRecords
from modelyard.services.idempotency.sql_records import SqlRecords
from modelyard.store.cache import RedisCache
from tests.support import eventually, redis_url, require_redis

ANSWER = StoredAnswer(200, (("content-type", "application/json"),), b'{"ok": true}')


class Counted:
    """Records that count the claims asked of them: a test sees a repeat poll instead of sleeping for it."""

    def __init__(self, records: SqlRecords | RedisRecords) -> None:
        self._records = records
        self.claims = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._records, name)

    async def claim(self, *args: object) -> object:
        self.claims += 1
        return await self._records.claim(*args)  # type: ignore[arg-type]


@pytest.fixture(params=["database", "redis"])
async def records(request: pytest.FixtureRequest, services: Services, workspace: str) -> AsyncIterator[Counted]:
    if request.param == "database":
        yield Counted(SqlRecords(services.engine))
        return
    require_redis()
    cache = RedisCache(redis_url())
    await cache.start()
    try:
        yield Counted(RedisRecords(cache))
    finally:
        client = redis.from_url(redis_url())
        async for key in client.scan_iter(match=f"{RedisRecords.PREFIX}{workspace}:*"):
            await client.delete(key)
        await client.aclose()
        await cache.close()


@pytest.fixture
def scope(workspace: str) -> KeyScope:
    return KeyScope(workspace, "key_" + secrets.token_hex(8), "order-42")


def service(records: Counted, *, lease_s: float = 60.0, wait_s: float = 5.0) -> IdempotencyService:
    return IdempotencyService(records, lease_s=lease_s, ttl_s=60.0, wait_s=wait_s)


async def test_the_first_call_claims_and_its_answer_is_replayed(records, scope) -> None:
    keys = service(records)
    claim = await keys.begin(scope, "fp-1")
    assert isinstance(claim, Claim)
    await keys.finish(claim, ANSWER)
    assert await keys.begin(scope, "fp-1") == ANSWER
    with pytest.raises(IdempotencyKeyReusedError):
        await keys.begin(scope, "fp-2")


async def test_a_key_is_scoped_to_the_api_key(records, scope) -> None:
    keys = service(records)
    await keys.finish(await keys.begin(scope, "fp-1"), ANSWER)  # type: ignore[arg-type]
    other = KeyScope(scope.workspace_id, "key_other", scope.key)
    assert isinstance(await keys.begin(other, "fp-1"), Claim)


async def test_a_repeat_waits_for_the_running_first_call(records, scope) -> None:
    first, repeat = service(records), service(records)  # two replicas: no in-process wake-up
    claim = await first.begin(scope, "fp-1")
    assert isinstance(claim, Claim)
    waiting = asyncio.ensure_future(repeat.begin(scope, "fp-1"))
    await eventually(lambda: records.claims >= 3, "the repeat to find the call running, twice")
    assert not waiting.done()
    await first.finish(claim, ANSWER)
    assert await asyncio.wait_for(waiting, 5) == ANSWER


async def test_a_repeat_gets_a_conflict_once_its_wait_is_over(records, scope) -> None:
    keys = service(records, wait_s=0.1)
    assert isinstance(await keys.begin(scope, "fp-1"), Claim)
    with pytest.raises(IdempotencyConflictError):
        await keys.begin(scope, "fp-1")
    with pytest.raises(IdempotencyKeyReusedError):  # another body is refused at once, even while it runs
        await keys.begin(scope, "fp-2")


async def test_a_crashed_first_call_frees_its_key_when_its_lease_ends(records, scope) -> None:
    crashed = service(records, lease_s=0.3)
    stale = await crashed.begin(scope, "fp-1")  # and never finishes
    assert isinstance(stale, Claim)
    keys = service(records, lease_s=60.0, wait_s=5.0)
    claim = await keys.begin(scope, "fp-1")  # the client's retry waits out the lease, then takes the key
    assert isinstance(claim, Claim) and claim.token != stale.token
    await crashed.finish(stale, StoredAnswer(200, (), b"late"))  # fenced: the key is no longer its to keep
    await keys.finish(claim, ANSWER)
    assert await keys.begin(scope, "fp-1") == ANSWER


async def test_a_released_key_runs_again(records, scope) -> None:
    keys = service(records)
    await keys.finish(await keys.begin(scope, "fp-1"), None)  # type: ignore[arg-type]
    assert isinstance(await keys.begin(scope, "fp-2"), Claim)  # free, and for any body


async def test_an_answer_is_replayed_for_its_lifetime_then_the_key_is_free(records, scope) -> None:
    keys = IdempotencyService(records, lease_s=60.0, ttl_s=0.3, wait_s=1.0)
    await keys.finish(await keys.begin(scope, "fp-1"), ANSWER)  # type: ignore[arg-type]
    assert await keys.begin(scope, "fp-1") == ANSWER
    await eventually(lambda: _claims(keys, scope, "fp-1"), "the kept answer to expire")


async def _claims(keys: IdempotencyService, scope: KeyScope, fingerprint: str) -> bool:
    outcome = await keys.begin(scope, fingerprint)
    if isinstance(outcome, Claim):
        await keys.finish(outcome, None)
        return True
    return False


async def test_expired_records_are_pruned_in_batches(services: Services, workspace: str, monkeypatch) -> None:
    from modelyard.services.idempotency import sql_records

    monkeypatch.setattr(sql_records, "PRUNE_BATCH", 3)
    records = SqlRecords(services.engine)
    short = IdempotencyService(records, lease_s=60.0, ttl_s=0.05)
    kept = IdempotencyService(records, lease_s=60.0, ttl_s=3600.0)
    for number in range(7):
        scope = KeyScope(workspace, "key_a", f"k{number}")
        await short.finish(await short.begin(scope, "fp"), ANSWER)  # type: ignore[arg-type]
    lasting = KeyScope(workspace, "key_a", "lasting")
    await kept.finish(await kept.begin(lasting, "fp"), ANSWER)  # type: ignore[arg-type]
    pruned = 0

    async def all_pruned() -> bool:
        nonlocal pruned
        pruned += await short.prune()
        return pruned == 7

    await eventually(all_pruned, "the 7 expired records to be pruned")
    assert await kept.begin(lasting, "fp") == ANSWER


async def test_services_use_the_database_without_redis(services: Services) -> None:
    assert isinstance(services.idempotency._records, SqlRecords)
    assert services.idempotency.lease_s == services.runtime.transport.timeouts.total_s + 60
    assert services.idempotency.ttl_s == 24 * 3600
