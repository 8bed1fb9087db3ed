"""Services on a real database: every test here runs on SQLite and on PostgreSQL (127.0.0.1:5432, `test`)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelyard import vault
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from modelyard.settings import Settings
from tests.support import postgres_url, require_postgres

MASTER = "test-master-key-0123456789abcdef0123456789"


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)  # keys stay ≥ 2048 bits; 3072 only slows the suite


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


def make_settings(home: Path, backend: str, schema: str | None, **overrides: object) -> Settings:
    url = f"sqlite+aiosqlite:///{home / 'modelyard.db'}" if backend == "sqlite" else postgres_url()
    values = dict(
        home=home,
        database_url=url,
        database_schema=schema,
        redis_url=None,
        secret_key=MASTER,
        host="127.0.0.1",
        port=0,
        hosted_config=None,
    )
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    """A fresh database: a file for SQLite, a throwaway schema for PostgreSQL."""
    if backend == "sqlite":
        yield backend, None
        return
    import asyncpg

    schema = f"t_{secrets.token_hex(6)}"
    connection = await asyncpg.connect(postgres_url(driver=False))
    await connection.execute(f"CREATE SCHEMA {schema}")
    try:
        yield backend, schema
    finally:
        await connection.execute(f"DROP SCHEMA {schema} CASCADE")
        await connection.close()


@pytest.fixture
def hosted() -> HostedConfig:
    return HostedConfig(providers={})


@pytest.fixture
async def services(database, tmp_path: Path, runtime, hosted) -> AsyncIterator[Services]:
    backend, schema = database
    services = Services(make_settings(tmp_path, backend, schema), runtime=runtime, hosted=hosted)
    await services.start()
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def workspace(services: Services) -> str:
    return (await services.workspaces.create("Acme")).id
