from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event, select, text

from modelyard.errors import CredentialError, InvalidRequestError, NotFoundError
from modelyard.services.api_keys import KEY_PATTERN, REVOKED_CHANNEL, ApiKeyIdentity
from modelyard.services.context import Services
from modelyard.store.tables import ApiKey, Base
from tests.support import make_settings, redis_url, require_redis
from tests.support.sql import sql_statements as statements


async def row_of(services: Services, key_id: str) -> ApiKey:
    async with services.db() as session:
        return await session.get_one(ApiKey, key_id)


def sqlite_files(home: Path) -> bytes:
    """The SQLite database file and its write-ahead log; nothing for PostgreSQL."""
    return b"".join(path.read_bytes() for path in home.glob("modelyard.db*"))


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored in UTC); PostgreSQL aware ones."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_create_shows_a_recognisable_key_once_and_stores_only_its_sha256(services, workspace) -> None:
    view, key = await services.api_keys.create(workspace_id=workspace, name=" CI ")

    assert KEY_PATTERN.fullmatch(key)
    assert (view.name, view.prefix, view.revoked_at, view.last_used_at) == ("CI", key[:12], None, None)
    row = await row_of(services, view.id)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in repr(view)
    assert [v.id for v in await services.api_keys.list(workspace_id=workspace)] == [view.id]


async def test_the_plaintext_key_is_nowhere_in_the_database(services, workspace, tmp_path: Path) -> None:
    keys = [(await services.api_keys.create(workspace_id=workspace, name=f"k{i}"))[1] for i in range(3)]
    secret_parts = [key[12:] for key in keys]  # the part that is not the displayed prefix

    async with services.db() as session:
        dumped = ""
        for table in Base.metadata.sorted_tables:
            dumped += repr((await session.execute(select(table))).all())
    files = sqlite_files(tmp_path)

    for part in secret_parts:
        assert part not in dumped
        assert part.encode() not in files


async def test_keys_are_random(services, workspace) -> None:
    keys = {(await services.api_keys.create(workspace_id=workspace, name="tests"))[1] for _ in range(20)}

    assert len(keys) == 20
    assert len({key[:12] for key in keys}) == 20


async def test_create_refuses_an_unknown_workspace_or_creator_and_a_long_name(services, workspace) -> None:
    with pytest.raises(NotFoundError):
        await services.api_keys.create(workspace_id="ws_nope", name="tests")
    with pytest.raises(NotFoundError):
        await services.api_keys.create(workspace_id=workspace, name="tests", created_by="acct_nope")
    with pytest.raises(InvalidRequestError):
        await services.api_keys.create(workspace_id=workspace, name="x" * 121)
    assert await services.api_keys.list(workspace_id=workspace) == []


@pytest.mark.parametrize("name", ["", "   "])
async def test_create_refuses_a_blank_name_naming_the_field(services, workspace, name: str) -> None:
    with pytest.raises(InvalidRequestError) as refused:
        await services.api_keys.create(workspace_id=workspace, name=name)

    assert refused.value.field == "name"
    assert str(refused.value) == "a key name is required"
    assert await services.api_keys.list(workspace_id=workspace) == []


async def test_authenticate_resolves_a_key_to_its_workspace(services, workspace) -> None:
    view, key = await services.api_keys.create(workspace_id=workspace, name="tests")

    assert await services.api_keys.authenticate(key) == ApiKeyIdentity(view.id, workspace, "tests")


@pytest.mark.parametrize(
    "presented",
    ["", "my-", "sk-" + "a" * 43, "my-" + "a" * 42, "my-" + "a" * 44, "my-" + "a" * 43],
    ids=["empty", "prefix", "foreign", "short", "long", "unknown"],
)
async def test_authenticate_refuses_what_is_not_a_key_of_ours(services, workspace, presented: str) -> None:
    await services.api_keys.create(workspace_id=workspace, name="tests")

    with pytest.raises(CredentialError, match=r"^invalid API key$"):
        await services.api_keys.authenticate(presented)


async def test_authenticate_reads_the_database_once_then_answers_from_memory(services, workspace) -> None:
    _, key = await services.api_keys.create(workspace_id=workspace, name="tests")

    with statements(services) as first:
        await services.api_keys.authenticate(key)
    with statements(services) as steady:
        for _ in range(100):
            await services.api_keys.authenticate(key)

    assert len([s for s in first if s.lstrip().upper().startswith("SELECT")]) == 1
    assert steady == []


async def test_an_unknown_key_is_remembered_so_repeats_do_not_reach_the_database(services) -> None:
    bad = "my-" + "b" * 43

    with statements(services) as first, pytest.raises(CredentialError):
        await services.api_keys.authenticate(bad)
    with statements(services) as repeats:
        for _ in range(50):
            with pytest.raises(CredentialError):
                await services.api_keys.authenticate(bad)

    assert len(first) == 1
    assert repeats == []


async def test_simultaneous_first_uses_of_a_key_read_the_database_once(services, workspace) -> None:
    view, key = await services.api_keys.create(workspace_id=workspace, name="tests")

    with statements(services) as seen:
        identities = await asyncio.gather(*(services.api_keys.authenticate(key) for _ in range(50)))

    assert set(identities) == {ApiKeyIdentity(view.id, workspace, "tests")}
    assert len(seen) == 1


async def test_cached_entries_expire_after_their_ttl(services, workspace) -> None:
    _, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    now = [1000.0]
    services.api_keys._clock = lambda: now[0]
    await services.api_keys.authenticate(key)

    now[0] += services.api_keys.CACHE_TTL_S - 1
    with statements(services) as fresh:
        await services.api_keys.authenticate(key)
    now[0] += 2
    with statements(services) as expired:
        await services.api_keys.authenticate(key)

    assert fresh == []
    assert len(expired) == 1


async def test_an_answer_read_while_a_revocation_arrives_is_not_cached(services, workspace) -> None:
    _, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    key_hash = hashlib.sha256(key.encode()).hexdigest()

    def revocation_arrives(*_: object) -> None:  # the broadcast lands while the row, still valid, is being read
        services.api_keys._forget(key_hash)

    event.listen(services.engine.sync_engine, "before_cursor_execute", revocation_arrives)
    try:
        await services.api_keys.authenticate(key)
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", revocation_arrives)

    with statements(services) as seen:
        await services.api_keys.authenticate(key)
    assert len(seen) == 1  # read again, not trusted from a cache filled before the revocation


async def test_the_cache_is_bounded_and_a_flood_of_bad_keys_does_not_evict_good_ones(services, workspace) -> None:
    services.api_keys.CACHE_MAX = 4
    _, good = await services.api_keys.create(workspace_id=workspace, name="tests")
    await services.api_keys.authenticate(good)
    bad = [f"my-{i:043d}" for i in range(10)]
    for key in bad:
        with pytest.raises(CredentialError):
            await services.api_keys.authenticate(key)

    with statements(services) as seen:
        await services.api_keys.authenticate(good)
        with pytest.raises(CredentialError):
            await services.api_keys.authenticate(bad[-1])  # still remembered
    assert seen == []
    with statements(services) as seen, pytest.raises(CredentialError):
        await services.api_keys.authenticate(bad[0])  # evicted: one of 10 in a table of 4
    assert len(seen) == 1


async def test_revoke_takes_effect_at_once_on_a_cached_key(services, workspace) -> None:
    view, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    await services.api_keys.authenticate(key)

    revoked = await services.api_keys.revoke(workspace_id=workspace, key_id=view.id)

    assert revoked.revoked_at is not None
    with pytest.raises(CredentialError, match=r"^invalid API key$"):
        await services.api_keys.authenticate(key)
    again = await services.api_keys.revoke(workspace_id=workspace, key_id=view.id)  # twice is fine
    assert again.revoked_at == revoked.revoked_at
    with pytest.raises(CredentialError):
        await services.api_keys.authenticate(key)
    listed = await services.api_keys.list(workspace_id=workspace)
    assert [(v.id, v.revoked_at is not None) for v in listed] == [(view.id, True)]


async def test_revoking_one_key_leaves_the_others_working(services, workspace) -> None:
    first, first_key = await services.api_keys.create(workspace_id=workspace, name="tests")
    _, second_key = await services.api_keys.create(workspace_id=workspace, name="tests")

    await services.api_keys.revoke(workspace_id=workspace, key_id=first.id)

    assert (await services.api_keys.authenticate(second_key)).workspace_id == workspace
    with pytest.raises(CredentialError):
        await services.api_keys.authenticate(first_key)


async def test_one_workspace_can_neither_see_nor_revoke_anothers_keys(services, workspace) -> None:
    other = (await services.workspaces.create("Other")).id
    mine, key = await services.api_keys.create(workspace_id=workspace, name="A's key")
    theirs, _ = await services.api_keys.create(workspace_id=other, name="B's key")

    assert [v.id for v in await services.api_keys.list(workspace_id=other)] == [theirs.id]
    with pytest.raises(NotFoundError):
        await services.api_keys.revoke(workspace_id=other, key_id=mine.id)
    with pytest.raises(NotFoundError):
        await services.api_keys.revoke(workspace_id=workspace, key_id="key_nope")

    assert (await row_of(services, mine.id)).revoked_at is None
    assert await services.api_keys.authenticate(key) == ApiKeyIdentity(mine.id, workspace, "A's key")


async def test_last_used_is_kept_in_memory_and_written_in_one_batch_on_flush(services, workspace) -> None:
    created = [await services.api_keys.create(workspace_id=workspace, name="tests") for _ in range(4)]
    used, unused = created[:3], created[3][0]
    before = datetime.now(UTC).replace(microsecond=0)

    with statements(services) as during_requests:
        for _ in range(5):
            for _, key in used:
                await services.api_keys.authenticate(key)

    assert not any(s.lstrip().upper().startswith(("UPDATE", "INSERT")) for s in during_requests)
    for view, _ in used:
        assert (await row_of(services, view.id)).last_used_at is None
    listed = await services.api_keys.list(workspace_id=workspace)  # this replica already knows
    assert {v.id for v in listed if v.last_used_at} == {view.id for view, _ in used}

    with statements(services) as during_flush:
        await services.api_keys.flush_last_used()

    assert len([s for s in during_flush if s.lstrip().upper().startswith("UPDATE")]) == 1
    for view, _ in used:
        assert as_utc((await row_of(services, view.id)).last_used_at) >= before
    assert (await row_of(services, unused.id)).last_used_at is None
    with statements(services) as idle_flush:
        await services.api_keys.flush_last_used()
    assert idle_flush == []


async def test_close_writes_the_last_used_times_it_still_holds(database, tmp_path, runtime, hosted) -> None:
    backend, schema = database
    first = Services(make_settings(tmp_path, backend, schema), runtime=runtime, hosted=hosted)
    await first.start()
    workspace = (await first.workspaces.create("Acme")).id
    view, key = await first.api_keys.create(workspace_id=workspace, name="tests")
    await first.api_keys.authenticate(key)
    await first.close()

    second = Services(make_settings(tmp_path, backend, schema), runtime=runtime, hosted=hosted)
    await second.start()
    try:
        assert (await row_of(second, view.id)).last_used_at is not None
    finally:
        await second.close()


async def test_revocation_reaches_another_replica_through_redis(database, tmp_path, runtime, hosted) -> None:
    require_redis()
    backend, schema = database
    settings = make_settings(tmp_path, backend, schema, redis_url=redis_url())
    replicas = [Services(settings, runtime=runtime, hosted=hosted) for _ in range(2)]
    for replica in replicas:
        await replica.start()
    here, there = replicas
    try:
        workspace = (await here.workspaces.create("Acme")).id
        view, key = await here.api_keys.create(workspace_id=workspace, name="tests")
        await there.api_keys.authenticate(key)
        with statements(there) as seen:
            await there.api_keys.authenticate(key)
        assert seen == []  # `there` answers from its cache: only a broadcast can make it forget

        heard = asyncio.Event()

        async def on_broadcast(channel: str, message: str) -> None:
            if channel == REVOKED_CHANNEL and message == hashlib.sha256(key.encode()).hexdigest():
                heard.set()

        there.cache.subscribe(on_broadcast)  # runs after the service's own listener, which subscribed at start
        await here.api_keys.revoke(workspace_id=workspace, key_id=view.id)
        await asyncio.wait_for(heard.wait(), timeout=10)

        with pytest.raises(CredentialError):
            await there.api_keys.authenticate(key)
    finally:
        for replica in replicas:
            await replica.close()


async def test_a_revocation_broadcast_without_redis_reaches_this_process(services, workspace) -> None:
    assert not services.cache.is_shared
    view, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    await services.api_keys.authenticate(key)
    async with services.db.begin() as session:  # as if another process revoked it and broadcast the hash
        await session.execute(text("UPDATE api_keys SET revoked_at = created_at WHERE id = :id"), {"id": view.id})
    assert await services.api_keys.authenticate(key)  # still cached

    await services.cache.publish(REVOKED_CHANNEL, hashlib.sha256(key.encode()).hexdigest())

    with pytest.raises(CredentialError):
        await services.api_keys.authenticate(key)
