"""The whole app (gateway and console) in-process through httpx2's ASGITransport, over services on SQLite.

Every response any client of the `console` fixture receives is recorded, and a test fails if one of them holds the
fake upstream key (`SECRET`): secrets must never come back, whatever the route.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from argon2 import PasswordHasher

from modelyard import vault
from modelyard.server import ModelyardApp
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from tests.conftest import SECRET
from tests.services.conftest import database, make_settings  # noqa: F401  (database: a fixture used below)

BASE_URL = "http://testserver"
API = "/console/api"
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)


@pytest.fixture
def hosted() -> HostedConfig:
    return HostedConfig(providers={})


@pytest.fixture
def backend() -> str:
    return "sqlite"  # test modules that must also run on PostgreSQL override it with params


@dataclass
class Console:
    """The running app, and clients for it that record every response body."""

    app: ModelyardApp
    services: Services
    bodies: list[bytes] = field(default_factory=list)
    clients: list[httpx2.AsyncClient] = field(default_factory=list)

    def client(self, *, base_url: str = BASE_URL) -> httpx2.AsyncClient:
        async def record(response: httpx2.Response) -> None:
            self.bodies.append(await response.aread())

        client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.app), base_url=base_url, event_hooks={"response": [record]}
        )
        self.clients.append(client)
        return client

    async def sign_in(self, email: str, password: str = PASSWORD) -> httpx2.AsyncClient:
        """A client signed in with the session cookie, sending the CSRF header on every request."""
        client = self.client()
        response = await client.post(f"{API}/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client

    async def token_client(self, email: str, password: str = PASSWORD) -> httpx2.AsyncClient:
        """A client signed with a personal access token: no cookie, no CSRF header."""
        response = await self.client().post(
            f"{API}/auth/tokens", json={"email": email, "password": password, "name": "tests"}
        )
        assert response.status_code == 201, response.text
        client = self.client()
        client.headers["Authorization"] = f"Bearer {response.json()['token']}"
        return client

    async def account(self, email: str, *, workspace_id: str | None = None, role: str = "member") -> str:
        account = await self.services.accounts.create(email=email, password=PASSWORD, name=email.split("@")[0])
        if workspace_id is not None:
            await self.services.accounts.add_member(workspace_id=workspace_id, account_id=account.id, role=role)
        return account.id


@pytest.fixture
async def console(tmp_path: Path, runtime, hosted: HostedConfig, database) -> AsyncIterator[Console]:  # noqa: F811
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


@dataclass
class Team:
    """A workspace with one account of each role, and one outsider, each signed in with a session cookie."""

    workspace_id: str
    owner: httpx2.AsyncClient
    admin: httpx2.AsyncClient
    member: httpx2.AsyncClient
    outsider: httpx2.AsyncClient
    ids: dict[str, str]

    def as_(self, role: str) -> httpx2.AsyncClient:
        return getattr(self, role)  # type: ignore[no-any-return]


@pytest.fixture
async def team(console: Console) -> Team:
    workspace = (await console.services.workspaces.create("Acme")).id
    ids = {}
    for role in ("owner", "admin", "member"):
        ids[role] = await console.account(f"{role}@example.com", workspace_id=workspace, role=role)
    ids["outsider"] = await console.account("outsider@example.com")
    clients = {role: await console.sign_in(f"{role}@example.com") for role in ids}
    return Team(workspace, ids=ids, **clients)


def error_of(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "code", "field"}, body
    return body["error"]  # type: ignore[no-any-return]
