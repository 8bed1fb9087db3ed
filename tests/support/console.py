"""The app in-process for console tests: clients that record every body, a team of roles, the error shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx2

from modelyard.server import ModelyardApp
from modelyard.services.context import Services

BASE_URL = "http://testserver"
API = "/console/api"
PASSWORD = "correct horse battery staple"


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


def error_of(response: httpx2.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "code", "field", "params"}, body
    return body["error"]  # type: ignore[no-any-return]
