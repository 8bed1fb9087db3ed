"""Services on a real database: every test here runs on SQLite and on PostgreSQL (127.0.0.1:5432, `test`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modelyard import vault
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from tests.support import make_settings, require_postgres


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)  # keys stay ≥ 2048 bits; 3072 only slows the suite


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        require_postgres()
    return str(request.param)


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
