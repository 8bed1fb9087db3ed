"""Workspace snapshots at tenant scale: bounded caches, one build per workspace, keys opened once, work off the loop,
and other replicas' writes noticed through the change feed (issue 13)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from modelyard import vault as vault_module
from modelyard.errors import DecryptionError, NotFoundError
from modelyard.services import snapshot as snapshot_module
from modelyard.services import vaults as vaults_module
from modelyard.services.context import Services
from modelyard.services.snapshot import WorkspaceSnapshot
from modelyard.settings import Settings, SettingsError
from modelyard.store.tables import WorkspaceKey
from tests.support import SECRET, make_settings, require_postgres
from tests.support.sql import sql_statements

DEEPSEEK = {"api_key": SECRET}


def api_key(snapshot: WorkspaceSnapshot) -> str | None:
    credentials = snapshot.providers["deepseek"].credentials
    return None if credentials is None else credentials["api_key"]


async def configure(services: Services, workspace_id: str) -> None:
    await services.credentials.create(workspace_id=workspace_id, provider="deepseek", values=DEEPSEEK, validate=False)


@pytest.fixture
async def replica(database, tmp_path: Path, runtime, hosted) -> AsyncIterator[Services]:
    """A second process on the same database, without Redis: it learns of writes only through the change feed."""
    backend, schema = database
    other = Services(make_settings(tmp_path, backend, schema), runtime=runtime, hosted=hosted)
    await other.start()
    try:
        yield other
    finally:
        await other.close()


@pytest.fixture
async def small_cache(database, tmp_path: Path, runtime, hosted) -> AsyncIterator[Services]:
    backend, schema = database
    services = Services(
        make_settings(tmp_path, backend, schema, workspace_cache_size=2), runtime=runtime, hosted=hosted
    )
    await services.start()
    try:
        yield services
    finally:
        await services.close()


async def test_snapshots_and_vaults_are_bounded_by_the_workspace_cache_size(small_cache: Services) -> None:
    ids = [(await small_cache.workspaces.create(f"Tenant {n}")).id for n in range(3)]
    for workspace_id in ids:
        await configure(small_cache, workspace_id)
    first = await small_cache.snapshots.get(ids[0])
    await small_cache.snapshots.get(ids[1])
    assert await small_cache.snapshots.get(ids[0]) is first  # a use makes it the most recent
    await small_cache.snapshots.get(ids[2])

    assert sorted(small_cache.snapshots._snapshots) == sorted([ids[0], ids[2]])  # ids[1] was least recently used
    assert len(small_cache.vaults) == 2
    again = await small_cache.snapshots.get(ids[1])  # an evicted workspace is rebuilt, not lost
    assert api_key(again) == SECRET


async def test_concurrent_first_calls_share_one_build_that_outlives_a_cancelled_caller(
    services: Services, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[list[str]] = []
    started, release = asyncio.Event(), asyncio.Event()
    real_build = services.snapshots._build_many

    async def held_build(workspace_ids: list[str]) -> dict[str, WorkspaceSnapshot | Exception]:
        builds.append(workspace_ids)
        started.set()
        await release.wait()
        return await real_build(workspace_ids)

    monkeypatch.setattr(services.snapshots, "_build_many", held_build)
    first = asyncio.create_task(services.snapshots.get(workspace))
    await started.wait()
    others = [asyncio.create_task(services.snapshots.get(workspace)) for _ in range(5)]
    first.cancel()  # the client that triggered the build goes away
    release.set()

    snapshots = await asyncio.gather(*others)
    assert builds == [[workspace]]
    assert all(snapshot is snapshots[0] for snapshot in snapshots)
    assert await services.snapshots.get(workspace) is snapshots[0]
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_first_calls_of_many_workspaces_are_read_in_one_batch(services: Services) -> None:
    ids = [(await services.workspaces.create(f"Tenant {n}")).id for n in range(12)]
    for workspace_id in ids[:6]:
        await configure(services, workspace_id)
    missing = "ws_00000000000000000000"
    with sql_statements(services) as statements:
        results = await asyncio.gather(
            *(services.snapshots.get(workspace_id) for workspace_id in [*ids, missing]), return_exceptions=True
        )

    assert [api_key(snapshot) for snapshot in results[:12]] == [SECRET] * 6 + [None] * 6  # type: ignore[arg-type]
    assert isinstance(results[12], NotFoundError)  # one workspace's failure is its own
    assert len(statements) <= 9  # one read per table for all thirteen, not one per table and workspace


async def test_a_change_during_a_build_keeps_its_result_out_of_the_cache(
    services: Services, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = asyncio.Event(), asyncio.Event()
    real_build = services.snapshots._build_many

    async def held_build(workspace_ids: list[str]) -> dict[str, WorkspaceSnapshot | Exception]:
        snapshots = await real_build(workspace_ids)  # read before the write below
        started.set()
        await release.wait()
        return snapshots

    monkeypatch.setattr(services.snapshots, "_build_many", held_build)
    pending = asyncio.create_task(services.snapshots.get(workspace))
    await started.wait()
    monkeypatch.setattr(services.snapshots, "_build_many", real_build)
    await configure(services, workspace)
    release.set()

    assert (await pending).providers["deepseek"].credentials is None  # asked before the write
    assert api_key(await services.snapshots.get(workspace)) == SECRET


async def test_opened_keys_survive_configuration_changes(
    services: Services, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[bool] = []
    real_load = vault_module.serialization.load_der_private_key

    def counting_load(data: bytes, password: bytes | None, **options: bool):  # type: ignore[no-untyped-def]
        opened.append(options.get("unsafe_skip_rsa_key_validation", False))
        return real_load(data, password, **options)

    monkeypatch.setattr(vault_module.serialization, "load_der_private_key", counting_load)
    await configure(services, workspace)
    await services.snapshots.get(workspace)
    await services.providers.set_preferred_type(workspace_id=workspace, provider="deepseek", preferred_type="custom")
    snapshot = await services.snapshots.get(workspace)

    assert snapshot.providers["deepseek"].preferred_type == "custom"  # rebuilt after the change
    assert api_key(snapshot) == SECRET
    # Opened once, and without OpenSSL's ~100 ms re-validation: the master key's AEAD already proved it intact.
    assert opened == [True]


async def test_a_tampered_private_key_is_a_decryption_error(services: Services, workspace: str) -> None:
    await configure(services, workspace)
    async with services.db.begin() as session:
        for row in await session.scalars(select(WorkspaceKey)):
            sealed = bytearray(row.sealed_private_key)
            sealed[40] ^= 0x01
            row.sealed_private_key = bytes(sealed)
    fresh = Services(services.settings, runtime=services.runtime, hosted=services.hosted)  # nothing opened yet
    await fresh.start(run_migrations=False)
    try:
        with pytest.raises(DecryptionError, match="master key"):
            await fresh.snapshots.get(workspace)
    finally:
        await fresh.close()


async def test_secrets_are_opened_off_the_event_loop(
    services: Services, workspace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real_open = snapshot_module.open_values

    def recording_open(vault: vault_module.WorkspaceVault, stored: str) -> dict[str, str]:
        threads.append(threading.current_thread())
        return real_open(vault, stored)

    monkeypatch.setattr(snapshot_module, "open_values", recording_open)
    await configure(services, workspace)
    snapshot = await services.snapshots.get(workspace)

    assert api_key(snapshot) == SECRET
    assert threads and threading.main_thread() not in threads


async def test_key_generation_runs_off_the_event_loop(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    real_generate = vaults_module.new_key_pair

    def recording_generate(*args: object, **kwargs: object) -> vault_module.KeyPair:
        threads.append(threading.current_thread())
        return real_generate(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(vaults_module, "new_key_pair", recording_generate)
    workspace = await services.workspaces.create("Off the loop")
    await services.workspaces.rotate_keys(workspace.id)

    assert len(threads) == 2  # one key pair at creation, one at rotation
    assert threading.current_thread() not in threads  # the loop's own thread never generated one


async def test_unconfigured_providers_share_one_state_and_still_list(services: Services) -> None:
    first = (await services.workspaces.create("First")).id
    second = (await services.workspaces.create("Second")).id
    await configure(services, first)
    one, two = await services.snapshots.get(first), await services.snapshots.get(second)

    assert one.providers["openai"] is two.providers["openai"]  # one per process, not one per workspace
    assert one.providers["deepseek"] is not two.providers["deepseek"]
    assert list(one.providers) == [spec.id for spec in services.catalog]
    views = {view.spec.id: view for view in await services.providers.list(workspace_id=first)}
    assert len(views) == len(services.catalog)
    assert (views["deepseek"].has_custom, views["openai"].has_custom) == (True, False)
    assert await services.models.list(workspace_id=second, provider="openai") != []


async def test_another_replicas_write_is_noticed_through_the_change_feed(
    services: Services, replica: Services, workspace: str
) -> None:
    assert (await services.snapshots.get(workspace)).providers["deepseek"].credentials is None
    await configure(replica, workspace)
    await services.snapshots.check_versions()
    assert api_key(await services.snapshots.get(workspace)) == SECRET

    kept = await services.snapshots.get(workspace)
    await services.snapshots.check_versions()  # nothing new: the snapshot stays
    assert await services.snapshots.get(workspace) is kept


async def test_a_workspace_deleted_on_another_replica_is_forgotten(
    services: Services, replica: Services, workspace: str
) -> None:
    await services.snapshots.get(workspace)
    await replica.workspaces.delete(workspace)
    await services.snapshots.check_versions()
    assert workspace not in services.snapshots._snapshots
    assert workspace not in services.vaults


async def test_keys_rotated_on_another_replica_are_used_after_the_change(
    services: Services, replica: Services, workspace: str
) -> None:
    await configure(services, workspace)
    await services.snapshots.get(workspace)
    new_key = await replica.workspaces.rotate_keys(workspace)
    await services.snapshots.check_versions()
    snapshot = await services.snapshots.get(workspace)
    assert api_key(snapshot) == SECRET
    assert services.vaults.peek(workspace).active_key_id == new_key  # type: ignore[union-attr]


@pytest.mark.parametrize("backend", ["postgres"])
async def test_the_version_check_works_past_postgresqls_parameter_limit(
    backend: str, database, tmp_path: Path, runtime, hosted
) -> None:
    """asyncpg refuses a query of more than 32,767 parameters: the check must not send one per cached workspace."""
    require_postgres()
    _, schema = database
    settings = make_settings(tmp_path, "postgres", schema, workspace_cache_size=50_000)
    this, other = (Services(settings, runtime=runtime, hosted=hosted) for _ in range(2))
    await this.start()
    await other.start()
    try:
        workspace = (await this.workspaces.create("Busy")).id
        await this.snapshots.get(workspace)
        for index in range(40_000):  # cached workspaces, faked: building 40,000 would prove nothing more
            fake = f"ws_fake{index:020d}"
            this.snapshots._snapshots[fake] = WorkspaceSnapshot(fake, 1, {}, {}, frozenset(), {}, {})
        await configure(other, workspace)
        await this.snapshots.check_versions()

        assert workspace not in this.snapshots._snapshots
        assert len(this.snapshots._snapshots) == 40_000
        assert api_key(await this.snapshots.get(workspace)) == SECRET
    finally:
        await other.close()
        await this.close()


def test_the_workspace_cache_size_comes_from_the_environment() -> None:
    assert Settings.from_env({}).workspace_cache_size == 10_000
    assert Settings.from_env({"MODELYARD_WORKSPACE_CACHE_SIZE": "25_000"}).workspace_cache_size == 25_000
    for bad in ("0", "-5", "lots", "1e4"):
        with pytest.raises(SettingsError, match="MODELYARD_WORKSPACE_CACHE_SIZE"):
            Settings.from_env({"MODELYARD_WORKSPACE_CACHE_SIZE": bad})
