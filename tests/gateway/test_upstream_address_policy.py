"""The upstream address policy through the real gateway socket: a credential's base URL cannot reach what it refuses.

Each gateway here builds its services from settings without handing them a runtime, so the policy in force is the
one the settings (the environment, in production) describe.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvicorn

from modelyard.gateway.app import Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig
from modelyard.settings import Settings
from tests.fakes.openai import FakeOpenAI
from tests.support import MASTER, SECRET, eventually

CHAT = {"model": "deepseek/deepseek-flash", "messages": [{"role": "user", "content": "Hi"}]}


@dataclass
class Served:
    url: str
    api_key: str


@asynccontextmanager
async def gateway_for(tmp_path: Path, env: Mapping[str, str], endpoint_url: str | None = None) -> AsyncIterator[Served]:
    """A gateway listening where `env` says it does (MODELYARD_PORT=0: a free port, told to the settings), whose
    workspace's deepseek credential points at `endpoint_url` (default: the gateway itself)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = Settings.from_env(
        {
            "MODELYARD_HOME": str(tmp_path),
            "MODELYARD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'modelyard.db'}",
            "MODELYARD_SECRET_KEY": MASTER,
            "MODELYARD_PORT": str(port),
            **env,
        }
    )
    services = Services(settings, hosted=HostedConfig(providers={}))
    await services.start()
    workspace = (await services.workspaces.create("Policy")).id
    values = {"api_key": SECRET, "endpoint_url": endpoint_url or f"http://127.0.0.1:{port}/v1"}
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=values, validate=False)
    _, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    server = uvicorn.Server(uvicorn.Config(Gateway(services, Metrics()), lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[listener]))
    await eventually(lambda: server.started or task.done(), "uvicorn to listen")
    try:
        yield Served(f"http://127.0.0.1:{port}", key)
    finally:
        server.should_exit = True
        await task
        await services.close()
        listener.close()


async def chat(served: Served) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {served.api_key}"}
        async with http.post(f"{served.url}/v1/chat/completions", json=CHAT, headers=headers) as response:
            return response.status, (await response.json())["error"] if response.status >= 400 else {}


async def test_a_credential_pointing_at_the_metadata_address_is_a_400_naming_the_policy(tmp_path: Path) -> None:
    async with gateway_for(tmp_path, {}, "http://169.254.169.254/latest/meta-data") as served:
        status, error = await chat(served)

    assert status == 400
    assert error["message"].startswith("the upstream address policy (default) refuses 169.254.169.254:80:")
    assert "metadata" in error["message"]


async def test_the_gateway_cannot_call_itself(tmp_path: Path) -> None:
    async with gateway_for(tmp_path, {}) as served:  # the credential points at this very gateway
        status, error = await chat(served)

    assert status == 400
    assert "this service's own address and port" in error["message"]
    assert SECRET not in str(error)


async def test_strict_mode_from_the_environment_refuses_loopback_until_allowed(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail(401, "internal admin console v3.2: login required")  # what an internal service might answer
    strict = {"MODELYARD_UPSTREAM_POLICY": "strict"}
    async with gateway_for(tmp_path / "strict", strict, f"{fake_openai.url}/v1") as served:
        status, error = await chat(served)

    assert status == 400
    assert error["message"].startswith("the upstream address policy (strict) refuses 127.0.0.1:")
    assert "admin console" not in error["message"]
    assert fake_openai.requests == []

    allowed = {**strict, "MODELYARD_UPSTREAM_ALLOW": "127.0.0.1"}
    async with gateway_for(tmp_path / "allowed", allowed, f"{fake_openai.url}/v1") as served:
        status, _ = await chat(served)
    assert len(fake_openai.requests) == 1  # allowed, the call reaches the upstream and gets the queued refusal
    assert status == 502  # our stored key refused upstream: not the caller's fault
