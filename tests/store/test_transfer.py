from __future__ import annotations

import secrets

import asyncpg
import pytest

from modelyard import vault
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from modelyard.store.transfer import TransferError, copy_database
from tests.support import make_settings, postgres_url, require_postgres


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)


async def test_moving_from_sqlite_to_postgresql_keeps_every_row_and_secret(tmp_path, runtime, deepseek) -> None:
    require_postgres()
    sqlite = make_settings(tmp_path, "sqlite", None)
    services = Services(sqlite, runtime=runtime, hosted=HostedConfig({}))
    await services.start()
    workspace = (await services.workspaces.create("Moving")).id
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, validate=False)
    _, key = await services.api_keys.create(workspace_id=workspace, name="k")
    await services.close()

    schema = f"t_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(postgres_url(driver=False))
    await admin.execute(f"CREATE SCHEMA {schema}")
    try:
        copied = await copy_database(sqlite.database_url, postgres_url(), target_schema=schema)
        assert copied["workspaces"] == 1
        assert copied["provider_credentials"] == 1

        moved = Services(make_settings(tmp_path, "postgres", schema), runtime=runtime, hosted=HostedConfig({}))
        await moved.start()  # same master key: the master-key check passes
        try:
            snapshot = await moved.snapshots.get(workspace)
            assert snapshot.providers["deepseek"].credentials == deepseek
            assert (await moved.api_keys.authenticate(key)).workspace_id == workspace
            second = await moved.workspaces.create("After the move")  # sequences and ids still work
            assert second.id != workspace
        finally:
            await moved.close()

        with pytest.raises(TransferError, match="already has rows"):
            await copy_database(sqlite.database_url, postgres_url(), target_schema=schema)
    finally:
        await admin.execute(f"DROP SCHEMA {schema} CASCADE")
        await admin.close()
