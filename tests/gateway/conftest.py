"""The gateway on a real loopback socket (uvicorn), over services on SQLite, upstreams faked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelyard import vault
from modelyard.gateway.app import Gateway
from modelyard.gateway.metrics import Metrics
from modelyard.services.context import Services
from modelyard.services.hosted import HostedConfig, HostedProvider
from tests.support import SECRET, make_settings, serve


@dataclass
class Running:
    url: str
    services: Services
    workspace_id: str
    api_key: str
    metrics: Metrics


@pytest.fixture(autouse=True)
def fast_rsa(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vault, "RSA_BITS", 2048)


@pytest.fixture
def hosted() -> HostedConfig:
    return HostedConfig(providers={})


@pytest.fixture
async def gateway(tmp_path: Path, runtime, hosted, fake_openai, deepseek) -> AsyncIterator[Running]:
    services = Services(make_settings(tmp_path, "sqlite", None), runtime=runtime, hosted=hosted)
    await services.start()
    workspace = (await services.workspaces.create("Gateway tests")).id
    await services.credentials.create(workspace_id=workspace, provider="deepseek", values=deepseek, validate=False)
    _, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    metrics = Metrics()
    server, task, url = await serve(Gateway(services, metrics))
    try:
        yield Running(url, services, workspace, key, metrics)
    finally:
        server.should_exit = True
        await task
        await services.close()


@asynccontextmanager
async def hosted_deepseek_gateway(tmp_path: Path, runtime, fake_openai, calls: int) -> AsyncIterator[Running]:
    """The gateway for a workspace with no key of its own and a hosted deepseek trial of `calls` calls."""
    trial = HostedProvider(
        "deepseek", {"api_key": SECRET, "endpoint_url": f"{fake_openai.url}/v1"}, "trial", "times", calls
    )
    services = Services(
        make_settings(tmp_path, "sqlite", None), runtime=runtime, hosted=HostedConfig(providers={"deepseek": trial})
    )
    await services.start()
    workspace = (await services.workspaces.create("Hosted")).id
    _, key = await services.api_keys.create(workspace_id=workspace, name="tests")
    server, task, url = await serve(Gateway(services, Metrics()))
    try:
        yield Running(url, services, workspace, key, Metrics())
    finally:
        server.should_exit = True
        await task
        await services.close()
