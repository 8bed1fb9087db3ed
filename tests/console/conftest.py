"""The whole app (gateway and console) in-process through httpx2's ASGITransport, over services on SQLite.

Every response any client of the `console` fixture receives is recorded, and a test fails if one of them holds the
fake upstream key (`SECRET`): secrets must never come back, whatever the route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from modelyard import vault
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from tests.support import SECRET, make_settings
from tests.support.console import Console, Team


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)


@pytest.fixture
def hosted() -> HostedConfig:
    return HostedConfig(providers={})


@pytest.fixture
def backend() -> str:
    return "sqlite"  # test modules that must also run on PostgreSQL override it with params


@pytest.fixture
async def console(tmp_path: Path, runtime, hosted: HostedConfig, database) -> AsyncIterator[Console]:
    backend, schema = database
    services = Services(make_settings(tmp_path, backend, schema), runtime=runtime, hosted=hosted)
    # argon2 at its real cost takes ~0.2 s per hash; the tests check behaviour, not the hashing cost.
    services.accounts.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    await services.start()
    console = Console(ModelyardApp(services), services)
    try:
        yield console
    finally:
        for client in console.clients:
            await client.aclose()
        await services.close()
    leaks = [body[:200] for body in console.bodies if SECRET.encode() in body]
    assert not leaks, f"a response carried the upstream secret: {leaks}"


@pytest.fixture
async def team(console: Console) -> Team:
    workspace = (await console.services.workspaces.create("Acme")).id
    ids = {}
    for role in ("owner", "admin", "member"):
        ids[role] = await console.account(f"{role}@example.com", workspace_id=workspace, role=role)
    ids["outsider"] = await console.account("outsider@example.com")
    clients = {role: await console.sign_in(f"{role}@example.com") for role in ids}
    return Team(workspace, ids=ids, **clients)
